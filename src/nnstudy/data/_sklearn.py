"""scikit-learn datasets: the built-ins digits and iris, and the generated moons and circles.

None ships a test split, so ``carve_test`` holds out a stratified 20 % seeded by ``split_seed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._prepare import Raw, carve_test

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

DEFAULT_N_SAMPLES = 1000
DEFAULT_NOISE = {"moons": 0.2, "circles": 0.1}
CIRCLES_FACTOR = 0.5


def raw(name: str, cfg: DataConfig) -> Raw:
    x, y = _generate(name, cfg)
    return carve_test(np.asarray(x, np.float32), np.asarray(y, np.int64), cfg.split_seed, True)


def _generate(name: str, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    if name in ("digits", "iris"):
        from ._sklearn_files import load

        return load(name)
    n = cfg.n_samples or DEFAULT_N_SAMPLES
    noise = DEFAULT_NOISE[name] if cfg.noise is None else cfg.noise
    if name == "moons":
        return make_moons(n, noise, cfg.split_seed)
    if name == "circles":
        return make_circles(n, noise, CIRCLES_FACTOR, cfg.split_seed)
    raise KeyError(name)


# scikit-learn's make_moons and make_circles (1.9.1) to the last bit, without importing scikit-learn (about a
# second at the start of every process that loads the data): the same points, shuffled by the same RandomState,
# then the same noise (tests/test_data_sklearn.py compares them).

def make_moons(n_samples: int, noise: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n_out, n_in = n_samples // 2, n_samples - n_samples // 2
    x = np.vstack([np.append(np.cos(np.linspace(0, np.pi, n_out)), 1 - np.cos(np.linspace(0, np.pi, n_in))),
                   np.append(np.sin(np.linspace(0, np.pi, n_out)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5)]).T
    return _shuffled_with_noise(x, n_out, n_in, noise, seed)


def make_circles(n_samples: int, noise: float | None, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n_out, n_in = n_samples // 2, n_samples - n_samples // 2
    out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.vstack([np.append(np.cos(out), np.cos(inner) * factor),
                   np.append(np.sin(out), np.sin(inner) * factor)]).T
    return _shuffled_with_noise(x, n_out, n_in, noise, seed)


def _shuffled_with_noise(x: np.ndarray, n_out: int, n_in: int, noise: float | None, seed: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    rng = np.random.RandomState(seed)
    order = np.arange(len(y))
    rng.shuffle(order)  # sklearn.utils.shuffle: resample(replace=False)
    x, y = x[order], y[order]
    if noise is not None:
        x += rng.normal(scale=noise, size=x.shape)
    return x, y
