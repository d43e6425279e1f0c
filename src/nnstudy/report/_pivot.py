"""The pivot table of a two-key grid (issue 19 item 5): the first swept key's values as rows, the second's as
columns, each cell a configuration's mean ± SE of one metric, the shape of a size × optimizer table."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ._format import format_mean_se, value_text
from ._stats import Analysis


@dataclass
class Pivot:
    metric: str
    row_key: str
    col_key: str
    rows: list  # the row key's values, in the order of the results table
    cols: list
    cells: list[list[str]]  # cells[r][c]: 'mean ± SE', '—' where the grid has no done trial
    best: tuple[int, int] | None  # (row, column) of the best configuration


def pivots(a: Analysis) -> list[Pivot]:
    """One pivot table per report metric when exactly two keys are swept, each with at least two values, and no
    two configurations share a cell; [] otherwise."""
    if len(a.keys) != 2 or not a.snap.metrics:
        return []
    rk, ck = a.keys
    s = a.summary
    rows = list(dict.fromkeys(v for v in s[rk] if not _unset(v)))
    cols = list(dict.fromkeys(v for v in s[ck] if not _unset(v)))
    where = [(rows.index(s[rk].iloc[i]), cols.index(s[ck].iloc[i])) if not _unset(s[rk].iloc[i]) and
             not _unset(s[ck].iloc[i]) else None for i in range(len(s))]
    placed = [w for w in where if w is not None]
    if len(rows) < 2 or len(cols) < 2 or len(set(placed)) != len(placed):
        return []
    out = []
    for m in a.snap.metrics:
        cells = [["—"] * len(cols) for _ in rows]
        for i, w in enumerate(where):
            if w is not None and int(s["n"].iloc[i]) > 0:
                cells[w[0]][w[1]] = format_mean_se(s[f"{m}_mean"].iloc[i], s[f"{m}_sem"].iloc[i], m)
        best = where[a.best] if a.best is not None and m == a.metric else None
        out.append(Pivot(m, rk, ck, rows, cols, cells, best))
    return out


def _unset(value) -> bool:
    """A key a configuration does not sweep: None, or NaN in a numeric column (a [[sweep]] table without it)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def caption(p: Pivot) -> str:
    return (f"{p.metric}: mean ± standard error over seeds, {p.row_key} (rows) × {p.col_key} (columns)"
            + ("; the best configuration is bold." if p.best else "."))


def header(p: Pivot) -> list[str]:
    return [f"{p.row_key} \\ {p.col_key}", *(value_text(c) for c in p.cols)]


def body(p: Pivot) -> list[list[str]]:
    return [[value_text(r), *p.cells[j]] for j, r in enumerate(p.rows)]


def as_frame(p: Pivot) -> pd.DataFrame:
    """The table as a DataFrame (rows and columns by value text), for notebooks and tests."""
    return pd.DataFrame(p.cells, index=[value_text(r) for r in p.rows], columns=[value_text(c) for c in p.cols])
