"""An ablation by [[sweep]] label: each table is one labelled configuration and the tables set different keys
(baseline, + L2, + dropout, ...). Its metric_vs_<key> figures would put each table at its own value of a key
and every other table at the base value, one point per line; ``metric_by_label.png`` draws instead what an
author draws: each report metric's mean ± 1 standard error over seeds, one row per label, the best in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._figures import _figure, _label, _metric_name, _save
from ._stats import Analysis

LABEL_WIDTH = 28  # characters per line of a label on the axis


def ablation(a: Analysis) -> bool:
    """True when the study file's sweep is two or more [[sweep]] tables, each with a label and one value per key
    (one configuration), and the tables do not all set the same keys."""
    sweep = (a.snap.spec or {}).get("sweep")
    if not isinstance(sweep, list) or len(sweep) < 2 or not all(isinstance(g, dict) and g.get("label")
                                                                 for g in sweep):
        return False
    grids = [{k: v for k, v in g.items() if k != "label"} for g in sweep]
    single = all(isinstance(v, list) and len(v) == 1 for g in grids for v in g.values())
    return single and len({frozenset(g) for g in grids}) > 1


def by_label(a: Analysis) -> tuple[list[int], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(the configurations in the results table's order, {report metric: (means, standard errors)} of the
    metrics some configuration has a finite mean of), as results.csv has them."""
    rows = list(range(len(a.configs)))
    s = a.summary
    out = {m: (s[f"{m}_mean"].to_numpy(float), s[f"{m}_sem"].to_numpy(float)) for m in a.snap.metrics}
    return rows, {m: v for m, v in out.items() if np.isfinite(v[0]).any()}


def metric_by_label(a: Analysis, path: Path) -> str | None:
    if not ablation(a):
        return None
    rows, metrics = by_label(a)
    if not metrics:
        return None
    names = [_label(a, i, LABEL_WIDTH) for i in rows]
    lines = sum(n.count("\n") + 1 for n in names)
    fig = _figure(1.6 + 3.6 * len(metrics), 1.2 + 0.2 * lines + 0.12 * len(rows))
    panels = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    best = a.best
    for ax, (m, (mean, sem)) in zip(panels, metrics.items()):
        for y, i in enumerate(rows):
            if np.isfinite(mean[i]):
                ax.errorbar([mean[i]], [y], xerr=[np.nan_to_num(sem[i])], fmt="o", ms=6, capsize=4,
                            color="tab:red" if i == best else "black")
        ax.set_title(_metric_name(m), fontsize=9)
        ax.set_xlabel("mean ± 1 SE over seeds", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    panels[0].set_yticks(range(len(rows)), names, fontsize=8)
    panels[0].set_ylim(len(rows) - 0.5, -0.5)  # the study file's first table on top
    if best is not None:
        panels[0].get_yticklabels()[rows.index(best)].set_color("tab:red")
    _save(fig, path)
    chosen = f"; red: the best configuration ({a.labels[best]}, by {a.rank_metric})" if best is not None else ""
    return (f"Final {', '.join(metrics)} of each [[sweep]] table, by its label: mean ± 1 standard error over "
            f"seeds (done trials){chosen}.")
