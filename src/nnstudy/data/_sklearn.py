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
    from sklearn import datasets

    if name == "digits":
        return datasets.load_digits(return_X_y=True)
    if name == "iris":
        return datasets.load_iris(return_X_y=True)
    n = cfg.n_samples or DEFAULT_N_SAMPLES
    noise = DEFAULT_NOISE[name] if cfg.noise is None else cfg.noise
    if name == "moons":
        return datasets.make_moons(n_samples=n, noise=noise, random_state=cfg.split_seed)
    if name == "circles":
        return datasets.make_circles(n_samples=n, noise=noise, factor=CIRCLES_FACTOR,
                                     random_state=cfg.split_seed)
    raise KeyError(name)
