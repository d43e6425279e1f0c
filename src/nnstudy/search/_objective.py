"""The seed-averaged objective: the mean over seeds, or a conservative bound one standard error away."""

from __future__ import annotations

import math

import numpy as np


def seed_stats(values: list[float]) -> tuple[float, float]:
    """(mean, standard error) over seeds; the SE of one seed is 0 (nothing to estimate it from)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0


def objective_value(values: list[float], objective: str, direction: str) -> float:
    mean, sem = seed_stats(values)
    if objective == "mean":
        return mean
    return mean - sem if direction == "max" else mean + sem
