"""Report figures of searches ([search] tables): the best-so-far curve, fANOVA importances, slice plots.

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones.
"""

from __future__ import annotations

import json
import math
from typing import Callable

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..spec._unused import held
from ._figures import _figure, _save

PATTERNS: tuple[str, ...] = ("search_history.png", "search_importance.png", "search_slices.png")


def jobs(a) -> list[tuple[str, Callable]]:
    from ..search._history import history, search_of

    search = search_of(a.snap)
    if search is None:
        return []
    h = history(a.snap)
    if not len(h):
        return []
    return [("search_history.png", lambda p: search_history(h, search, a.snap.task, p)),
            ("search_importance.png", lambda p: search_importance(h, search, a.snap.task, p)),
            ("search_slices.png", lambda p: search_slices(h, search, a.snap.task, p))]


def _objective_name(search, task: str) -> str:
    metric, direction = search.resolved_metric(task), search.resolved_direction(task)
    what = "mean" if search.objective == "mean" else ("mean − SE" if direction == "max" else "mean + SE")
    return f"{what} of {metric} over seeds ({'higher' if direction == 'max' else 'lower'} is better)"


def search_history(h: pd.DataFrame, search, task: str, path) -> str | None:
    if not h["value"].notna().any():
        return None
    fig = _figure(6.4, 3.8)
    ax = fig.add_subplot()
    kept, pruned = h[~h.pruned], h[h.pruned]
    ax.errorbar(kept.number, kept["mean"], yerr=kept["sem"].fillna(0), fmt="o", ms=4, color="tab:blue",
                alpha=0.7, label="configuration: mean ± SE")
    if len(pruned):
        ax.plot(pruned.number, pruned["mean"], "x", color="tab:gray", label="pruned (last epoch trained)")
    ax.step(h.number, h.best_so_far, where="post", color="tab:red", lw=2, label="best so far (objective)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("configuration (in the order proposed)")
    ax.set_ylabel(search.resolved_metric(task))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
    best = h.best_so_far.dropna()
    return (f"Search history ({search.method}, {len(h)} configurations): each configuration's "
            f"{search.resolved_metric(task)} (mean ± SE over seeds) and the best {_objective_name(search, task)} "
            f"found so far" + (f", finally {best.iloc[-1]:.4g}." if len(best) else "."))


def importances(h: pd.DataFrame, search, task: str) -> dict[str, float] | None:
    """fANOVA importance of each searched parameter (Optuna's evaluator) on the finished configurations."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    from ..search._space import distributions, params_of

    done = h[~h.pruned & h["value"].notna()]
    if len(done) < 3:
        return None
    dists = distributions(search)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if search.resolved_direction(task) == "max" else "minimize")
    for _, row in done.iterrows():
        point = {k: held(row[k]) for k in search.space}
        params = params_of(point, search)
        study.add_trial(optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params},
                                                  value=float(row["value"])))
    try:
        return get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0), normalize=True)
    except RuntimeError:  # every configuration scored the same: nothing to apportion
        return None


def search_importance(h: pd.DataFrame, search, task: str, path) -> str | None:
    got = importances(h, search, task)
    if not got:
        return None
    names = list(got)[::-1]
    fig = _figure(6.0, 0.5 + 0.45 * len(names))
    ax = fig.add_subplot()
    ax.barh(names, [got[n] for n in names], color="tab:blue")
    ax.set_xlabel("fANOVA importance (share of the objective's variance)")
    ax.set_xlim(0, 1)
    for y, n in enumerate(names):
        ax.text(got[n] + 0.01, y, f"{got[n]:.2f}", va="center", fontsize=8)
    _save(fig, path)
    return (f"Importance of each searched key (Optuna's fANOVA evaluator, random forest seed 0) for the "
            f"{_objective_name(search, task)}, over {int((~h.pruned & h['value'].notna()).sum())} finished "
            "configurations.")


def search_slices(h: pd.DataFrame, search, task: str, path) -> str | None:
    from ..spec._search import Choices, Layers

    keys = list(search.space)
    if not h["mean"].notna().any():
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = _figure(3.4 * cols, 2.9 * rows)
    order = h.number.to_numpy()
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        dim = search.space[key]
        raw = [held(v) for v in h[key]]
        if isinstance(dim, Choices) or isinstance(dim, Layers):
            shown = [json.dumps(v) if not isinstance(v, str) else v for v in raw]
            ticks = list(dict.fromkeys(json.dumps(c) if not isinstance(c, str) else c for c in dim.values())) \
                if isinstance(dim, Choices) else sorted(set(shown), key=lambda s: (len(json.loads(s)), json.loads(s)))
            x = np.array([ticks.index(s) for s in shown], dtype=float)
            ax.set_xticks(range(len(ticks)), ticks, rotation=30 if len(ticks) > 4 else 0, fontsize=7)
        else:
            x = np.array(raw, dtype=float)
            if dim.log:
                ax.set_xscale("log")
        sc = ax.scatter(x, h["mean"], c=order, cmap="viridis", s=18, edgecolors="none")
        if h.pruned.any():
            ax.scatter(x[h.pruned.to_numpy()], h["mean"][h.pruned], marker="x", c="tab:gray", s=18)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(search.resolved_metric(task), fontsize=8)
        ax.grid(alpha=0.3)
    fig.colorbar(sc, ax=fig.axes, label="configuration number", shrink=0.8)
    _save(fig, path)
    return (f"Slices: each configuration's {search.resolved_metric(task)} (mean over seeds) against each "
            "searched key; colour = order proposed, × = pruned.")
