"""The command-line reference page, generated from `nnstudy.cli.build_parser()`."""

from __future__ import annotations

import argparse

from nnstudy.cli import build_parser


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def _helps(p: argparse.ArgumentParser) -> dict[str, str]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return {c.dest: c.help or "" for c in a._choices_actions}
    return {}


def _cell(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _arguments(p: argparse.ArgumentParser) -> list[str]:
    rows = []
    for a in p._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(f"`{o}`" for o in a.option_strings) or f"`{a.dest}`"
        if a.option_strings and a.nargs != 0:
            name += f" `{a.metavar or a.dest.upper()}`"
        default = "" if a.default in (None, argparse.SUPPRESS, False) or not a.option_strings else f"`{a.default}`"
        choices = ", ".join(f"`{c}`" for c in a.choices) if a.choices else ""
        rows.append(f"| {name} | {_cell(a.help or '')} | {default} | {choices} |")
    if not rows:
        return []
    return ["| argument | what it does | default | allowed |", "|---|---|---|---|", *rows, ""]


def _command(path: list[str], p: argparse.ArgumentParser, help_text: str) -> list[str]:
    out = [f"## `{' '.join(path)}`", "", help_text, "", "```text", p.format_usage().strip(), "```", ""]
    out += _arguments(p)
    subs, helps = _subparsers(p), _helps(p)
    for name, sub in subs.items():
        out += _command(path + [name], sub, helps.get(name, ""))
    return out


def cli_page() -> str:
    p = build_parser()
    out = ["# Command-line reference", "",
           "Generated from the argument parser of `nnstudy` itself (`nnstudy.cli.build_parser()`), so it "
           "lists exactly the commands and options the installed version accepts. Bad input exits with "
           "status 2 and one line `nnstudy: error: ...`; the Python API raises `nnstudy.StudyError` with "
           "the same line.", ""]
    out += _arguments(p)  # options of nnstudy itself (--version)
    subs, helps = _subparsers(p), _helps(p)
    for name, sub in subs.items():
        out += _command(["nnstudy", name], sub, helps.get(name, ""))
    return "\n".join(out) + "\n"
