"""Turning values into text: numbers (mean ± SE), swept-key values, LaTeX escaping."""

from __future__ import annotations

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


def config_label(values: dict[str, Any], keys: list[str] | None = None) -> str:
    """'train.lr=0.1, model.hidden=[200, 200]'; 'all trials' when there are no keys."""
    keys = list(values) if keys is None else keys
    if not keys:
        return "all trials"
    return ", ".join(f"{k}={value_text(values[k])}" for k in keys)


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


def mean_se_parts(mean: Any, sem: Any, metric: str) -> tuple[str, str | None]:
    """('0.8812', '0.0012'); the second part is None when there is no standard error."""
    if not _finite(mean):
        return ("—" if is_missing(mean) else str(mean)), None
    d = decimals_for(metric, float(mean), float(sem) if _finite(sem) else float("nan"))
    m = f"{float(mean):.{d}f}"
    if not _finite(sem):
        return m, None
    return m, f"{float(sem):.{d}f}"


def format_mean_se(mean: Any, sem: Any, metric: str) -> str:
    """'0.8812 ± 0.0012' (decimals chosen from the metric); just the mean when n = 1."""
    m, s = mean_se_parts(mean, sem, metric)
    return m if s is None else f"{m} ± {s}"


def latex_escape(text: Any) -> str:
    """Escape LaTeX special characters in user text."""
    return _LATEX_RE.sub(lambda mo: _LATEX_SPECIAL[mo.group(0)], str(text))


def latex_mean_se(mean: Any, sem: Any, metric: str, bold: bool = False) -> str:
    r"""'$0.8812 \pm 0.0012$'; bold wraps it in \textbf{\boldmath ...}."""
    m, s = mean_se_parts(mean, sem, metric)
    if m == "—":
        return "--"
    body = f"${m}$" if s is None else f"${m} \\pm {s}$"
    return f"\\textbf{{\\boldmath{body}}}" if bold else body


def one_line(text: Any, limit: int = 300) -> str:
    """Collapse whitespace (tracebacks, multi-line errors) and cut to `limit` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
