"""Synthetic regression data generated from ``split_seed``.

sine: x ~ U[-2.5, 2.5], y = -sin(0.8 pi x) + N(0, noise^2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._prepare import Raw, carve_test

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

DEFAULT_N_SAMPLES = 1000
DEFAULT_NOISE = 0.1
X_RANGE = (-2.5, 2.5)


def sine_target(x: np.ndarray) -> np.ndarray:
    return -np.sin(0.8 * np.pi * x)


def raw(name: str, cfg: DataConfig) -> Raw:
    if name != "sine":
        raise KeyError(name)
    rng = np.random.default_rng(cfg.split_seed)
    n = cfg.n_samples or DEFAULT_N_SAMPLES
    noise = DEFAULT_NOISE if cfg.noise is None else cfg.noise
    x = rng.uniform(*X_RANGE, size=(n, 1)).astype(np.float32)
    y = sine_target(x.astype(np.float64)) + noise * rng.standard_normal((n, 1))
    return carve_test(x, y.astype(np.float32), cfg.split_seed, False)
