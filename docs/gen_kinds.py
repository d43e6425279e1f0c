"""The model-kind reference page, generated from the kind registry (`nnstudy.kinds`): every registered kind,
built-in or plugin, with what it is (its config class's docstring), the engines and tasks it takes, how it
stacks, the metrics and figures it adds, and every key of its `[model]` section."""

from __future__ import annotations

import inspect
import sys

from gen_reference import _cell, _default, describe, type_text, walk

from nnstudy import kinds

STACKING = {"mlp": "stacked (hand-batched weights)", "vmap": "stacked (`torch.func.vmap`)", None: "one trial at a time"}


def _what(kind: kinds.Kind) -> str:
    """The config class's own docstring (not one inherited from pydantic), else its module's first line."""
    doc = kind.config.__dict__.get("__doc__") or ""
    for module in (f"nnstudy.kinds.{kind.name}", kind.config.__module__):
        if not doc.strip() and module.startswith("nnstudy.kinds") and module in sys.modules:
            doc = (inspect.getdoc(sys.modules[module]) or "").split("\n\n")[0]
    return " ".join(inspect.cleandoc(doc).split())


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def kinds_page() -> str:
    registry = kinds.registry()
    out = ["# Model kinds", "",
           f"Generated from the kind registry (`nnstudy.kinds`): the {len(registry)} kinds this version knows, "
           "built-in or installed as plugins (entry points `nnstudy.models`). `[model] kind = \"...\"` picks one; "
           "each accepts the keys below (unknown keys are errors), and any of them can be swept. The "
           "[study-file reference](study-file.md) lists the other sections.", "",
           "| kind | what | engines | tasks |", "|---|---|---|---|"]
    for name, kind in registry.items():
        out.append(f"| [`{name}`](#{name}) | {_cell(_first_sentence(_what(kind)))} | "
                   f"{', '.join(kind.engines)} | {', '.join(kind.tasks)} |")
    for name, kind in registry.items():
        added = {t: kind.metrics(t) for t in kind.tasks if kind.metrics(t)}
        out += ["", f"## {name}", "", _what(kind) or f"The `{name}` kind.", "",
                f"- **engines**: {', '.join(f'`{e}`' for e in kind.engines)} (`train.engine`)",
                f"- **tasks**: {', '.join(kind.tasks)}",
                f"- **on one device**: {STACKING.get(kind.stacking, kind.stacking)}"]
        if added:
            out.append("- **metrics it adds**: " + "; ".join(
                f"{t}: {', '.join(f'`{m}`' for m in ms)}" for t, ms in added.items()))
        if kind.figures:
            out.append("- **figures it adds**: " + ", ".join(f"`figures/{f}`" for f in kind.figures))
        out += ["", "| key | type | default | notes |", "|---|---|---|---|"]
        notes = describe(kind.config, "model")
        for key, field in walk(kind.config, "model"):
            out.append(f"| `{key}` | {_cell(type_text(field.annotation, field.metadata))} | "
                       f"{_cell(_default(field))} | {_cell(notes.get(key, ''))} |")
    return "\n".join(out) + "\n"
