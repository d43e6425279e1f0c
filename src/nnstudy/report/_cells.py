"""The results table as cells (text, sort value, best, tied) and the sentences around it.

Markdown, HTML and the terminal draw these cells; LaTeX formats its own numbers from the same
summary columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ._format import format_diff, format_duration, format_mean_se, mean_decimals, value_text
from ._significance import format_p
from ._stats import Analysis, higher_is_better, timing

TIED = "≈"


@dataclass
class Cell:
    text: str  # without the tied marker: each writer draws its own
    value: float | str | None = None  # what the column sorts by (None: sorts last)
    bold: bool = False
    tied: bool = False
    numeric: bool = True


def _num(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def results_header(a: Analysis) -> list[str]:
    """'configuration' (the [[sweep]] labels, when the study gives any), the swept keys, n, the metrics, rank,
    then the comparison with the best."""
    extra = [f"Δ {a.metric}", "p", "p (Holm)"] if a.tested else []
    return [*(["configuration"] if a.labelled else []), *a.keys, "n", *a.snap.metrics, "rank", *extra]


def text_columns(a: Analysis) -> int:
    """How many of the results table's first columns are text (the label and the swept keys)."""
    return len(a.keys) + (1 if a.labelled else 0)


def key_text(a: Analysis, i: int, key: str) -> str:
    """A swept key's cell in configuration i's row: empty where the configuration does not read the key
    (momentum for Adam, lr for XGBoost, a DCGAN's activation: Analysis.unread)."""
    return "" if a.unread(i, key) else value_text(a.summary[key].iloc[i])


def results_rows(a: Analysis) -> list[list[Cell]]:
    """One list of cells per configuration, in the order of `results_header`."""
    rows = []
    best = a.best
    for i, r in a.summary.iterrows():
        cells = [Cell(a.given[i] or "", a.given[i] or "", numeric=False)] if a.labelled else []
        cells += [Cell(key_text(a, i, k), r[k] if isinstance(r[k], (int, float)) and key_text(a, i, k) else
                       key_text(a, i, k), numeric=False) for k in a.keys]
        cells.append(Cell(str(int(r["n"])), int(r["n"])))
        tied = bool(r["tied"]) if not pd.isna(r["tied"]) else False
        for j, m in enumerate(a.snap.metrics):
            first = j == 0
            cells.append(Cell(format_mean_se(r[f"{m}_mean"], r[f"{m}_sem"], m), _num(r[f"{m}_mean"]),
                              bold=first and i == best, tied=first and tied))
        cells.append(Cell("" if pd.isna(r["rank"]) else str(int(r["rank"])), _num(r["rank"])))
        if a.tested:
            texts = comparison_texts(a, r)
            cells += [Cell(t, _num(r[c])) for t, c in zip(texts, ("diff_to_best", "p_welch", "p_holm"))]
        rows.append(cells)
    return rows


def comparison_texts(a: Analysis, r: pd.Series) -> tuple[str, str, str]:
    """(Δ to the best at the row's precision, p, Holm p) of one summary row."""
    m = a.metric
    d = mean_decimals(r[f"{m}_mean"], r[f"{m}_sem"], m) if not pd.isna(r[f"{m}_mean"]) else 4
    return format_diff(r["diff_to_best"], d), format_p(r["p_welch"]), format_p(r["p_holm"])


def counts_line(a: Analysis) -> str:
    c = a.counts()
    total = sum(c.values())
    parts = [f"{v} {s}" for s, v in c.items() if v or s in ("done", "failed", "diverged")]
    return f"{total} trials: " + ", ".join(parts)


def ranking_line(a: Analysis) -> str:
    m, r = a.metric, a.rank_metric
    if m is None:
        return "No report metrics."
    d = "higher is better" if higher_is_better(r) else "lower is better"
    chosen = f"; chosen on validation, the {m} column is the chosen configuration's test score" if r != m else ""
    return (f"Cells are mean ± standard error over {replicates_text(a)} (done trials only), "
            f"rounded to the standard error's precision; rank by mean {r} ({d}{chosen}); the best is bold.")


def replicates_text(a: Analysis) -> str:
    """What a configuration's replicates are: 'the seeds of each configuration', or with data.folds 'the
    replicates of each configuration (n = 15: 5 folds × 3 seeds, ...)'; data.split_seed = "seed" says so."""
    data = (a.snap.spec or {}).get("data") or {}
    folds = data.get("folds")
    if folds and "fold" in a.trials:
        seeds = a.trials.groupby("config")["seed"].nunique().max() if len(a.trials) else 0
        each = "each seed its own split of the folds" if data.get("split_seed") == "seed" else \
            f"the folds split by split_seed {data.get('split_seed', 0)}"
        return (f"the replicates of each configuration (n = {folds * seeds}: {folds} folds × {seeds} seeds; "
                f"each fold held out once as the validation split, {each})")
    if data.get("split_seed") == "seed":
        return "the seeds of each configuration (each seed draws its own validation split)"
    return "the seeds of each configuration"


def selection_line(a: Analysis) -> str:
    """The header's sentence for a study that ranks and chooses on a test metric ('' otherwise)."""
    r = a.rank_metric
    if not r or not r.startswith("test_"):
        return ""
    return (f"This study ranks and chooses its best configuration on {r}, a test metric (its trials record no "
            f"val_{r[len('test_'):]}): the best configuration's test score is optimistic; hold out a validation "
            f"split (data.validation) to choose on it.")


def time_line(a: Analysis) -> str:
    """'4 min 12 s wall clock (first start to last finish); 9 min 03 s of training summed over trials'."""
    wall, train = timing(a.trials)
    parts = []
    if not pd.isna(wall):
        parts.append(f"{format_duration(wall)} wall clock (first start to last finish)")
    if not pd.isna(train):
        parts.append(f"{format_duration(train)} of training summed over trials")
    return "; ".join(parts)


__all__ = ["Cell", "TIED", "results_header", "results_rows", "text_columns", "key_text",
           "comparison_texts", "counts_line", "ranking_line",
           "selection_line", "time_line"]
