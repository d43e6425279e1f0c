"""Turning values into text: numbers (mean ± SE), swept-key values, LaTeX escaping."""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

_MAX_DECIMALS = 6
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def is_missing(x: Any) -> bool:
    """True for None and float NaN (not for lists, strings, ...)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, (float, np.floating)) and math.isnan(x))
    except (TypeError, ValueError):
        return False


def value_key(v: Any) -> Any:
    """A hashable, display-friendly form of one swept-key value.

    Scalars stay scalars (numpy scalars become Python ones, so that 0.1 and np.float64(0.1)
    are one configuration); lists, tuples, arrays and dicts become readable strings such as
    "[200, 200]"; a missing value becomes None.
    """
    if is_missing(v):
        return None
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, (str, bool, int, float)):
        return v
    return str(v)


def _scalar_text(x: Any) -> str:
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_scalar_text(y) for y in x) + "]"
    if isinstance(x, float):
        return format(x, "g")
    return str(x)


def value_text(v: Any) -> str:
    """One swept-key value as it is shown in tables and figures."""
    k = value_key(v)
    if k is None:
        return ""
    if isinstance(k, float):
        return format(k, "g")
    return str(k)


_BLOCK_MARKS = {"stride": "s{}", "dilation": "d{}", "padding": "p{}", "batch_norm": "bn", "activation": "{}",
                "pool": "{}", "pool_size": "/{}", "dropout": "drop{}"}
_BLOCK_WORDS = {"same": "same", "global_avg": "gap"}


def figure_text(v: Any) -> str:
    """value_text, but a list of conv blocks as '[32@k7 same max, 64@k3 bn gap]' (channels@kernel, then the
    keys set: stride, dilation, padding, bn, activation, pooling and its size, dropout) for figure labels."""
    if isinstance(v, str) and v.startswith("[{"):  # as the trials table keeps it: the blocks' Python text
        try:
            v = ast.literal_eval(v)  # literals only, nothing run
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return v
    if isinstance(v, (list, tuple)) and v and all(isinstance(b, dict) and "channels" in b for b in v):
        return "[" + ", ".join(_block_text(b) for b in v) + "]"
    return value_text(v)


def _block_text(block: dict) -> str:
    marks = [f"{block['channels']}@k{block.get('kernel', 3)}"]
    for key, mark in _BLOCK_MARKS.items():
        v = block.get(key)
        if v is not None and v is not False:
            marks.append(_BLOCK_WORDS.get(v, mark.format(_scalar_text(v))) if isinstance(v, str | int | float)
                         else mark)
    return " ".join(marks)


def config_label(values: dict[str, Any], keys: list[str] | None = None) -> str:
    """'train.lr=0.1, model.hidden=[200, 200]'; 'all trials' when there are no keys."""
    keys = list(values) if keys is None else keys
    if not keys:
        return "all trials"
    return ", ".join(f"{k}={value_text(values[k])}" for k in keys)


def legend_keys(configs: list[dict[str, Any]], keys: list[str]) -> dict[str, str]:
    """The swept keys a legend shows, each with its short name: only keys whose value differs between the
    configurations (all of them for a single configuration), named by their last part ('lr', 'hidden') where
    that names one key, else in full ('model.hidden' next to 'data.hidden')."""
    shown = [k for k in keys if len({str(value_key(c.get(k))) for c in configs}) > 1] if len(configs) > 1 else keys
    last = [k.rsplit(".", 1)[-1] for k in shown]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(shown, last)}


def decimals_for(metric: str, mean: float, sem: float = float("nan")) -> int:
    """Decimals used for one metric: accuracies 4, times 2, epochs 1, else by magnitude."""
    m = metric.lower()
    if "accuracy" in m:
        return 4
    if m.endswith("time_s") or m == "time_s":
        return 2
    if m.startswith("epochs"):
        return 1
    ref = abs(mean) if _finite(mean) and mean != 0 else (abs(sem) if _finite(sem) else 0.0)
    if ref == 0:
        return 4
    # four significant digits of the mean
    d = max(0, 3 - math.floor(math.log10(ref)))
    # and at least one significant digit of the standard error
    if _finite(sem) and sem > 0:
        d = max(d, -math.floor(math.log10(sem)))
    return min(d, _MAX_DECIMALS)


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def format_number(x: Any, metric: str, sem: float = float("nan")) -> str:
    """One value with the decimals of its metric; '—' when missing."""
    if not _finite(x):
        return "—" if is_missing(x) else str(x)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    d = decimals_for(metric, float(x), sem)
    return f"{float(x):.{d}f}"


def se_decimals(sem: float) -> int | None:
    """Decimals that keep one significant digit of the standard error, two when it starts with 1.

    0.0009 -> 4, 0.0015 -> 4, 0.76 -> 1, 35 -> -1 (tens); None for a zero or missing SE.
    """
    if not _finite(sem) or float(sem) <= 0:
        return None
    e = math.floor(math.log10(float(sem)))
    lead = round(float(sem) / 10.0 ** e, 9)  # 0.0199999... is 0.02
    return min(-e + (1 if lead < 2 else 0), _MAX_DECIMALS + 2)


def _fixed(x: float, d: int) -> str:
    return f"{x:.{d}f}" if d >= 0 else f"{round(x, d):.0f}"


def mean_decimals(mean: Any, sem: Any, metric: str) -> int:
    """Decimals of a mean ± SE: the SE's precision, else (n = 1, SE 0) those of the metric."""
    d = se_decimals(sem)
    if d is None:
        d = decimals_for(metric, float(mean), float(sem) if _finite(sem) else float("nan"))
    return d


def mean_se_parts(mean: Any, sem: Any, metric: str, decimals: int | None = None) -> tuple[str, str | None]:
    """('0.8839', '0.0009'), ('87.6', '0.8'): rounded to the SE's precision (or to `decimals`);
    no SE: (mean, None)."""
    if not _finite(mean):
        return ("—" if is_missing(mean) else str(mean)), None
    d = mean_decimals(mean, sem, metric) if decimals is None else decimals
    m = _fixed(float(mean), d)
    if not _finite(sem):
        return m, None
    return m, _fixed(float(sem), d)


def format_diff(diff: Any, decimals: int) -> str:
    """'+0.0050', '−0.0120' (a true minus sign), '0' for no difference, '—' when missing."""
    if not _finite(diff):
        return "—"
    if float(diff) == 0:
        return "0"
    return ("+" if diff > 0 else "−") + _fixed(abs(float(diff)), decimals)


def format_mean_se(mean: Any, sem: Any, metric: str, decimals: int | None = None) -> str:
    """'0.8812 ± 0.0012' (to the SE's precision, or to `decimals`); just the mean when n = 1."""
    m, s = mean_se_parts(mean, sem, metric, decimals)
    return m if s is None else f"{m} ± {s}"


def latex_escape(text: Any) -> str:
    """Escape LaTeX special characters in user text."""
    return _LATEX_RE.sub(lambda mo: _LATEX_SPECIAL[mo.group(0)], str(text))


def latex_mean_se(mean: Any, sem: Any, metric: str, bold: bool = False, tied: bool = False) -> str:
    r"""'$0.8812 \pm 0.0012$'; bold wraps it in \textbf{\boldmath ...}; tied adds a dagger."""
    m, s = mean_se_parts(mean, sem, metric)
    if m == "—":
        return "--"
    mark = "^{\\dagger}" if tied else ""
    body = f"${m}{mark}$" if s is None else f"${m} \\pm {s}{mark}$"
    return f"\\textbf{{\\boldmath{body}}}" if bold else body


def format_duration(seconds: Any) -> str:
    """'42 s', '3 min 05 s', '2 h 07 min'; '—' when missing."""
    if not _finite(seconds):
        return "—"
    s = int(round(float(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def one_line(text: Any, limit: int = 300) -> str:
    """Collapse whitespace (tracebacks, multi-line errors) and cut to `limit` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# emphasis too: * and ~ always, _ where it may open or close one (not inside a word such as test_accuracy); $, which
# opens math where Markdown has it (GitHub: "cost $5 and $6" set "5 and " as a formula)
_MD_ALWAYS = re.compile(r"([\\`<>|*~$]|(?<![^\W_])_|_(?![^\W_])|\]\(|\]\[|!\[)")
_MD_TEXT = re.compile(r"([\\`<>|*~_\[\]#$])")


def md_escape(text: Any, cell: bool = True) -> str:
    """A user string as Markdown text: no raw HTML, no autolink, entity, code span, link or emphasis; control
    characters shown. `cell=False` (free text such as a description) also escapes headings and every _ [ ]."""
    from .._text import printable

    s = printable(text, newlines=not cell)
    s = _MD_ENTITY.sub("&amp;", s)
    if cell:
        return _MD_ALWAYS.sub(lambda m: "\\" + m.group() if len(m.group()) == 1 else
                              m.group()[0] + "\\" + m.group()[1:] if m.group()[0] == "]" else "!\\[", s)
    return _MD_TEXT.sub(r"\\\1", s)
