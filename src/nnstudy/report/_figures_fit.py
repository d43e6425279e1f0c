"""A regression on one or two inputs (issue 19 item 6): the test data and each configuration's prediction, a
line over x (one input) or a filled contour per configuration (two inputs), from the trials' regression_fit.npz
(the trial with the lowest seed of each configuration)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ._figures import _colors, _figure, _label, _save, iter_picks
from ._stats import Analysis

MAX_LINES, MAX_PANELS = 8, 4


def regression_fit(a: Analysis, path: Path) -> str | None:
    ranked = set(a.ranked())
    wanted = [i for i in (a.chosen() or a.ranked()) if i in ranked]
    picks = {i: (row, d) for i, row, d in itertools.islice(iter_picks(a, "regression_fit.npz", wanted),
                                                           max(MAX_PANELS, MAX_LINES))}
    if not picks:
        return None
    order = [i for i in wanted if i in picks]
    d0 = picks[order[0]][1]
    two = np.asarray(d0["grid"]).shape[1] == 2
    shown = order[:MAX_PANELS if two else MAX_LINES]
    which = "report.configurations" if a.chosen() else "by rank"
    target = np.asarray(d0["target"], float) if "target" in d0 else None  # the source's noise-free function
    if two:
        panels = ([("target (noise-free)", target, d0)] if target is not None else []) + [
            (f"{_label(a, i, 40)} (seed {row['seed']})", np.asarray(d["prediction"], float), d)
            for i in shown for row, d in [picks[i]]]
        fig = _figure(4.6 * len(panels) + 1.2, 4.4)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        lo, hi = min(p.min() for _, p, _ in panels), max(p.max() for _, p, _ in panels)
        for ax, (title, z, d) in zip(axes, panels):
            g = np.asarray(d["grid"], float)
            n = int(round(np.sqrt(len(g))))
            cs = ax.contourf(g[:, 0].reshape(n, n), g[:, 1].reshape(n, n), z.reshape(n, n), levels=20,
                             cmap="viridis", vmin=lo, vmax=hi)
            x = np.asarray(d["x"], float)
            ax.scatter(x[:, 0], x[:, 1], c=np.asarray(d["y"], float), cmap="viridis", vmin=lo, vmax=hi, s=10,
                       edgecolors="white", linewidths=0.4)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("x₁")
            ax.set_ylabel("x₂")
        fig.colorbar(cs, ax=list(axes), shrink=0.85, label="prediction (points: test targets)")
        what = ("a filled contour of the prediction over the two inputs" +
                (", after the noise-free target function" if target is not None else "") +
                ", the test points coloured by their target")
    else:
        fig = _figure(8.4, 4.6)
        ax = fig.subplots()
        x, y = np.asarray(d0["x"], float)[:, 0], np.asarray(d0["y"], float)
        ax.scatter(x, y, s=8, color="0.55", alpha=0.6, label="test data")
        if target is not None:
            ax.plot(np.asarray(d0["grid"], float)[:, 0], target, "--", color="black", lw=1.4, label="target")
        for color, i in zip(_colors(len(shown)), shown):
            d = picks[i][1]
            ax.plot(np.asarray(d["grid"], float)[:, 0], np.asarray(d["prediction"], float), color=color, lw=1.8,
                    label=_label(a, i))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside right upper", fontsize=8, frameon=False)
        what = "the test data (grey)" + (", the noise-free target function (black, dashed)" if target is not None
                                          else "") + " and each configuration's prediction over x"
    _save(fig, path)
    more = f" ({len(order) - len(shown)} more configurations are in the tables)" if len(order) > len(shown) else ""
    wider = len([i for i in a.ranked() if i not in picks])  # e.g. lag windows: only those of 1 or 2 inputs have one
    more += f"; not drawn for {wider} of {len(a.ranked())} configurations (more than two inputs)" if wider else ""
    return (f"Regression fit: {what}; configurations {which}, the trial with the lowest seed of each{more}.")

