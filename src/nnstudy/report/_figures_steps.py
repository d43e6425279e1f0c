"""The loss-per-step figure of trials with ``train.log_every_steps`` (their artifact step_losses.npz).

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from matplotlib.lines import Line2D

from ._figures import MAX_CURVES, _colors, _figure, _label, _maybe_log_y, _npz_artifacts, _save, _shown

PATTERNS: tuple[str, ...] = ("loss_per_step.png",)
STATUSES = ("done", "diverged")  # a diverged trial's steps show how it blew up


def jobs(a) -> list[tuple[str, Callable]]:
    if not any(art.name == "step_losses.npz" for art in a.snap.artifacts or []):
        return []
    return [("loss_per_step.png", lambda p: loss_per_step(a, p))]


def step_curve(records: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(step, mean over seeds, standard error) at the steps every seed recorded (a diverged or early-stopped
    seed ends its share of the curve where it stopped)."""
    steps = sorted(set.intersection(*(set(r["step"].tolist()) for r in records)))
    at = np.array([[r["loss"][np.searchsorted(r["step"], s)] for s in steps] for r in records], dtype=float)
    mean = at.mean(0)
    se = at.std(0, ddof=1) / np.sqrt(len(records)) if len(records) > 1 else np.full(len(steps), np.nan)
    return np.asarray(steps, dtype=float), mean, se


def loss_per_step(a, path) -> str | None:
    records = _npz_artifacts(a, "step_losses.npz")
    trials = a.trials[a.trials["status"].isin(STATUSES) & a.trials["trial_id"].isin(records)]
    if trials.empty:
        return None
    cfgs, note = _shown(a, sorted(set(trials["config"])), MAX_CURVES)
    colors = dict(zip(cfgs, _colors(len(cfgs))))
    fig = _figure(8.6, 4.3)
    ax = fig.subplots()
    allv, every = [], set()
    for i in cfgs:
        recs = [records[t] for t in trials.loc[trials["config"] == i, "trial_id"]]
        every |= {int(r["every"]) for r in recs}
        x, y, se = step_curve(recs)
        if not len(x):
            continue
        ax.plot(x, y, color=colors[i], lw=1.2, marker="o" if len(x) == 1 else None)
        ok = np.isfinite(se) & np.isfinite(y)
        if ok.any():
            ax.fill_between(x[ok], (y - se)[ok], (y + se)[ok], color=colors[i], alpha=0.18, lw=0)
        allv.extend(y[np.isfinite(y)])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("training loss per step")
    ax.grid(alpha=0.3)
    _maybe_log_y(ax, allv)
    fig.legend(handles=[Line2D([], [], color=colors[i], lw=2, label=_label(a, i)) for i in cfgs],
               loc="outside right upper", fontsize=8, frameon=False)
    _save(fig, path)
    n = ", ".join(str(e) for e in sorted(every))
    return (f"Training loss per step (train.log_every_steps = {n}: each point is the mean loss of that many "
            "steps, on the batches as they were trained): mean over seeds per configuration, band = ± 1 "
            "standard error; done and diverged trials." + note)
