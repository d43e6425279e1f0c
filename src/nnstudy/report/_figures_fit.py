"""A regression on one or two inputs (issue 19 item 6): the test data and each configuration's prediction, a
line over x (one input) or a filled contour per configuration (two inputs), from the trials' regression_fit.npz
(the trial with the lowest seed of each configuration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._figures import _colors, _figure, _label, _npz_artifacts, _picks, _save
from ._stats import Analysis

MAX_LINES, MAX_PANELS = 8, 4


def regression_fit(a: Analysis, path: Path) -> str | None:
    fits = _npz_artifacts(a, "regression_fit.npz")
    picks = dict(_picks(a, fits))
    if not picks:
        return None
    order = [i for i in (a.chosen() or a.ranked()) if i in picks]
    d0 = fits[picks[order[0]]["trial_id"]]
    two = np.asarray(d0["grid"]).shape[1] == 2
    shown = order[:MAX_PANELS if two else MAX_LINES]
    which = "report.configurations" if a.chosen() else "by rank"
    if two:
        fig = _figure(4.6 * len(shown) + 1.2, 4.4)
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
        preds = [np.asarray(fits[picks[i]["trial_id"]]["prediction"], float) for i in shown]
        lo, hi = min(p.min() for p in preds), max(p.max() for p in preds)
        for ax, i, pred in zip(axes, shown, preds):
            d = fits[picks[i]["trial_id"]]
            g = np.asarray(d["grid"], float)
            n = int(round(np.sqrt(len(g))))
            cs = ax.contourf(g[:, 0].reshape(n, n), g[:, 1].reshape(n, n), pred.reshape(n, n), levels=20,
                             cmap="viridis", vmin=lo, vmax=hi)
            x = np.asarray(d["x"], float)
            ax.scatter(x[:, 0], x[:, 1], c=np.asarray(d["y"], float), cmap="viridis", vmin=lo, vmax=hi, s=10,
                       edgecolors="white", linewidths=0.4)
            ax.set_title(f"{_label(a, i, 40)} (seed {picks[i]['seed']})", fontsize=9)
            ax.set_xlabel("$x_1$")
            ax.set_ylabel("$x_2$")
        fig.colorbar(cs, ax=list(axes), shrink=0.85, label="prediction (points: test targets)")
        what = "a filled contour of the prediction over the two inputs, the test points coloured by their target"
    else:
        fig = _figure(8.4, 4.6)
        ax = fig.subplots()
        x, y = np.asarray(d0["x"], float)[:, 0], np.asarray(d0["y"], float)
        ax.scatter(x, y, s=8, color="0.55", alpha=0.6, label="test data")
        for color, i in zip(_colors(len(shown)), shown):
            d = fits[picks[i]["trial_id"]]
            ax.plot(np.asarray(d["grid"], float)[:, 0], np.asarray(d["prediction"], float), color=color, lw=1.8,
                    label=_label(a, i))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside right upper", fontsize=8, frameon=False)
        what = "the test data (grey) and each configuration's prediction over x"
    _save(fig, path)
    more = f" ({len(order) - len(shown)} more configurations are in the tables)" if len(order) > len(shown) else ""
    return (f"Regression fit: {what}; configurations {which}, the trial with the lowest seed of each{more}.")

