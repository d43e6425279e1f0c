"""Synthetic data generated from ``split_seed``.

sine: x ~ U[-2.5, 2.5], y = -sin(0.8 pi x) + N(0, noise^2) (regression).
interval-sum: x in {0,1}^dim, class "+1" (index 1) when A <= sum(x) <= B, else "-1" (index 0). Without
n_samples every one of the 2^dim inputs appears once; with ``noise`` each coordinate is moved by
U[-noise, noise] after labelling (small perturbations of the same inputs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._prepare import Raw, carve_test
from ._registry import INTERVAL_SUM_DIM, INTERVAL_SUM_INTERVAL

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

DEFAULT_N_SAMPLES = 1000
DEFAULT_NOISE = 0.1
X_RANGE = (-2.5, 2.5)


def sine_target(x: np.ndarray) -> np.ndarray:
    return -np.sin(0.8 * np.pi * x)


def raw(name: str, cfg: DataConfig) -> Raw:
    if name == "interval-sum":
        return interval_sum(cfg)
    if name != "sine":
        raise KeyError(name)
    rng = np.random.default_rng(cfg.split_seed)
    n = cfg.n_samples or DEFAULT_N_SAMPLES
    noise = DEFAULT_NOISE if cfg.noise is None else cfg.noise
    x = rng.uniform(*X_RANGE, size=(n, 1)).astype(np.float32)
    y = sine_target(x.astype(np.float64)) + noise * rng.standard_normal((n, 1))
    out = carve_test(x, y.astype(np.float32), cfg.split_seed, False)
    out.target = sine_target  # the report draws it under each configuration's prediction
    return out


def interval_labels(x: np.ndarray, low: int, high: int) -> np.ndarray:
    """(n,) int64: 1 where low <= sum of the row <= high, else 0. x: (n, dim) of 0/1."""
    s = x.sum(axis=1)
    return ((s >= low) & (s <= high)).astype(np.int64)


def all_binary_inputs(dim: int) -> np.ndarray:
    """(2^dim, dim) float32: every vector of {0,1}^dim, row i = the bits of i."""
    return ((np.arange(2 ** dim)[:, None] >> np.arange(dim)) & 1).astype(np.float32)


def interval_sum(cfg: DataConfig) -> Raw:
    dim = cfg.dim or INTERVAL_SUM_DIM
    low, high = cfg.interval or INTERVAL_SUM_INTERVAL
    rng = np.random.default_rng(cfg.split_seed)
    if cfg.n_samples is None:
        x = all_binary_inputs(dim)
    else:
        x = rng.integers(0, 2, size=(cfg.n_samples, dim)).astype(np.float32)
    y = interval_labels(x, low, high)
    if cfg.noise:
        x += rng.uniform(-cfg.noise, cfg.noise, size=x.shape).astype(np.float32)
    stratify = min(np.bincount(y, minlength=2)) >= 2
    out = carve_test(x, y, cfg.split_seed, stratify)
    out.input_shape = (dim,)
    return out
