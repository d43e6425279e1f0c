"""User strings as text in every output: control characters shown, never interpreted; long lines capped.

A study's description, a swept string value or a trial's error can hold anything (Rich markup, terminal
escape sequences, HTML); each writer escapes for its own format (report/_html.py, report/_tables.py
for Markdown, these helpers for terminals and error lines).
"""

from __future__ import annotations

import re

from rich.markup import escape as _markup_escape

# C0 and C1 controls, DEL, zero-width and bidirectional overrides ("Trojan source"), line/paragraph separators,
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
                      "\ud800-\udfff]")  # lone surrogates: bytes that were not UTF-8 (a path, an argument)
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
LINE_LIMIT = 300  # characters in one error line


def _shown(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(s: object, newlines: bool = False) -> str:
    """`s` with every control character written out (ESC as \\x1b, a newline as \\n unless `newlines`)."""
    text = str(s)
    if newlines:
        return "\n".join(_CONTROL.sub(_shown, line) for line in text.split("\n"))
    return _CONTROL.sub(_shown, text)


def terminal(s: object, newlines: bool = False) -> str:
    """`s` for a Rich console: control characters shown and Rich markup escaped (printed as written)."""
    return _markup_escape(printable(s, newlines))


def did_you_mean(got: object, names: list[str], prefix: str = "", n: int = 2) -> str:
    """'; did you mean fashion-mnist?' for a name close to one of `names` (difflib's; at most `n`, each shown after
    `prefix`: 'data.name or data.normalize'), else ''."""
    import difflib

    close = [prefix + c for c in difflib.get_close_matches(got, names, n=n, cutoff=0.6)] if isinstance(got, str) else []
    return f"; did you mean {' or '.join([', '.join(close[:-1]), close[-1]] if len(close) > 1 else close)}?" \
        if close else ""


def cap(s: str, limit: int = LINE_LIMIT) -> str:
    """`s` cut to about `limit` characters, ending with how many were left out."""
    if len(s) <= limit:
        return s
    kept = s[: limit - 45].rstrip()
    return f"{kept} … ({len(s) - len(kept):,} more characters left out)"


def one_error_line(s: object) -> str:
    """An error message as the one line the command line prints: printable and capped."""
    return cap(printable(s))


def one_warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     line: str | None = None) -> str:
    """A warning as the one line the command line prints (`warnings.formatwarning`'s signature): nnstudy's
    own say only what happened, others also their kind and where, never the source line Python quotes."""
    text = one_error_line(message)
    if category.__module__.split(".")[0] == "nnstudy":
        return f"nnstudy: warning: {text}\n"
    from ._userfiles import shown_file

    return f"nnstudy: warning: {category.__name__} at {printable(shown_file(filename))}:{lineno}: {text}\n"
