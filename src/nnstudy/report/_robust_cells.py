"""The second results table (paired seeds, robust intervals, power) as text, for Markdown, HTML and LaTeX."""

from __future__ import annotations

import pandas as pd

from ._format import mean_decimals
from ._robust import power_note, robust_header, robust_note, robust_texts
from ._stats import Analysis

TITLE = "Paired seeds, robust intervals and power"


def shown(a: Analysis) -> bool:
    """The table is drawn when the first metric has a value in some configuration."""
    return a.metric is not None and "iqm" in a.summary and bool(a.summary["iqm"].notna().any())


def robust_table(a: Analysis) -> tuple[list[str], list[list[tuple[str, float | None]]]]:
    """(header, rows): the first cell of a row is the configuration, then `robust_header`'s cells, each
    (text, sort value)."""
    m = a.metric
    header = ["configuration", "n", *robust_header(m)]
    sort_cols = (None, "p_test", "p_test_holm", "p_wilcoxon", "iqm", f"{m}_mean", "prob_improve", "mde",
                 "seeds_needed")
    rows = []
    for _, r in a.summary.iterrows():
        d = mean_decimals(r[f"{m}_mean"], r[f"{m}_sem"], m) if not pd.isna(r[f"{m}_mean"]) else 4
        texts = robust_texts(r, m, d)
        cells = [(a.labels[len(rows)], None), (str(int(r["n"])), float(r["n"]))]
        cells += [(t, None if c is None or pd.isna(r[c]) else float(r[c])) for t, c in zip(texts, sort_cols)]
        rows.append(cells)
    return header, rows


def tied_rows(a: Analysis) -> list[bool]:
    return [not pd.isna(x) and bool(x) for x in a.summary["tied_test"]]


def notes(a: Analysis) -> list[str]:
    out = [robust_note(a.metric)]
    p = power_note(a.summary, a.metric, a.labels, a.best, "replicates" if "fold" in a.trials else "seeds")
    if p:
        out.append(p)
    return out


def race_line(a: Analysis) -> str:
    """A raced study ([trials] seeds = { min, max, alpha }): trials used against the full grid, and who left
    the race after how many seeds; '' otherwise."""
    from .._race import race_note

    return race_note(a.snap.spec or {}, list(a.snap.metrics), a.labels, a.trials)


__all__ = ["TITLE", "shown", "robust_table", "tied_rows", "notes", "race_line"]
