"""The performance profile (rliable, Agarwal et al. 2021): per configuration, the fraction of its seeds that
score above each value of the first metric (below, for a lower-is-better metric)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._figures import MAX_CURVES, _colors, _figure, _label, _metric_name, _save, _shown
from ._stats import Analysis, higher_is_better


def profile(values, thresholds, higher: bool = True) -> np.ndarray:
    """Fraction of `values` strictly above (higher) or below (lower is better) each threshold."""
    v = np.asarray(values, dtype=float)[:, None]
    t = np.asarray(thresholds, dtype=float)[None, :]
    return ((v > t) if higher else (v < t)).mean(axis=0)


def performance_profile(a: Analysis, path: Path) -> str | None:
    m = a.metric
    done = a.done
    if m is None or m not in done.columns:
        return None
    vals = np.asarray(pd.to_numeric(done[m], errors="coerce"), dtype=float)
    ok = np.isfinite(vals)
    cfg = done["config"].to_numpy()
    have = [i for i in range(len(a.configs)) if (ok & (cfg == i)).sum() >= 2]
    if not have:
        return None
    cfgs, note = _shown(a, have, MAX_CURVES)
    higher = higher_is_better(m)
    lo, hi = float(vals[ok].min()), float(vals[ok].max())
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi) * 0.01, 1e-3)
    grid = np.linspace(lo - pad, hi + pad, 400)
    fig = _figure(7.8, 4.4)
    ax = fig.subplots()
    best = set(a.ranked()[:1])
    for c, i in zip(_colors(len(cfgs)), cfgs):
        v = vals[ok & (cfg == i)]
        ax.step(grid, profile(v, grid, higher), where="post", color=c, lw=2.4 if i in best else 1.5,
                label=_label(a, i, 44) + (" (best)" if i in best else ""))
    ax.set_xlabel(_metric_name(m))
    ax.set_ylabel(f"fraction of seeds {'above' if higher else 'below'}")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"Performance profile of {m}", fontsize=10)
    _save(fig, path)
    side = "above" if higher else "below"
    return (f"Performance profile: for each value of {m}, the fraction of a configuration's seeds that score "
            f"{side} it ({'higher' if higher else 'lower'} is better: a curve further "
            f"{'right' if higher else 'left'} is better throughout, crossing curves mean no configuration "
            f"wins on every seed). Configurations with at least two done seeds." + note)


__all__ = ["profile", "performance_profile"]
