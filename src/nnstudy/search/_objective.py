"""The seed-averaged objective: the mean over seeds, or a conservative bound one standard error away.

A configuration left with one done seed (the others diverged or failed) has no spread of its own: its
standard error is the pooled within-configuration standard deviation of the study's configurations with
two or more done seeds, over sqrt(1); with none of those yet, ``lcb`` gives no bound (NaN: told FAIL).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def seed_stats(values: list[float]) -> tuple[float, float]:
    """(mean, standard error) over seeds; the SE of one seed is 0 (nothing to estimate it from)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0


def pooled_sd(groups: Iterable[list[float]]) -> float | None:
    """sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1)) over the groups of two or more values; None without one."""
    squares, freedom = 0.0, 0
    for values in groups:
        v = np.asarray(values, dtype=float)
        if len(v) >= 2:
            squares += float(((v - v.mean()) ** 2).sum())
            freedom += len(v) - 1
    return math.sqrt(squares / freedom) if freedom else None


def objective_value(values: list[float], objective: str, direction: str, pooled: float | None = None) -> float:
    """The mean, or (lcb) the bound one SE away; a single seed's SE is ``pooled / 1`` (NaN when None)."""
    mean, sem = seed_stats(values)
    if objective == "mean":
        return mean
    if len(values) == 1:
        sem = math.nan if pooled is None else pooled
    return mean - sem if direction == "max" else mean + sem
