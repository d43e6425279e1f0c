"""Small tables and generated sets for classical methods.

wine, breast-cancer: scikit-learn built-ins (stratified 20 % test split seeded by ``split_seed``).
gaussian: ``n_samples`` x ``dim`` standard normal, seeded; it has no labels, so it is a regression set
whose targets are its inputs (an autoencoder's task; PCA and other unsupervised methods read x only).
surface: Franke's function of (x1, x2) ~ U[0, 1]^2 plus N(0, noise^2), seeded (regression).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._prepare import Raw, carve_test
from ._registry import GAUSSIAN_DIM

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

DEFAULT_N_SAMPLES = 1000
SURFACE_NOISE = 0.05


def raw(name: str, cfg: DataConfig) -> Raw:
    if name in ("wine", "breast-cancer"):
        from ._sklearn_files import load

        x, y = load(name)
        return carve_test(x.astype(np.float32), y.astype(np.int64), cfg.split_seed, True)
    rng = np.random.default_rng(cfg.split_seed)
    n = cfg.n_samples or DEFAULT_N_SAMPLES
    if name == "gaussian":
        if cfg.noise is not None:
            raise DataError("gaussian: noise does not apply (the samples are standard normal)")
        dim = cfg.dim or GAUSSIAN_DIM
        x = rng.standard_normal((n, dim)).astype(np.float32)
        out = carve_test(x, x.copy(), cfg.split_seed, False)
        out.input_shape = (dim,)
        return out
    if name == "surface":
        x = rng.uniform(0.0, 1.0, (n, 2))
        noise = SURFACE_NOISE if cfg.noise is None else cfg.noise
        y = franke(x[:, 0], x[:, 1]) + noise * rng.standard_normal(n)
        out = carve_test(x.astype(np.float32), y[:, None].astype(np.float32), cfg.split_seed, False)
        out.target = franke_of  # the report draws it next to each configuration's prediction
        return out
    raise KeyError(name)


def franke_of(x: np.ndarray) -> np.ndarray:
    """Franke's function of the rows (x1, x2) of x."""
    return franke(x[:, 0], x[:, 1])


def franke(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Franke's (1979) test function for 2-D approximation, on [0, 1]^2 (values in about [0, 1.2])."""
    a = 0.75 * np.exp(-((9 * x1 - 2) ** 2) / 4 - ((9 * x2 - 2) ** 2) / 4)
    b = 0.75 * np.exp(-((9 * x1 + 1) ** 2) / 49 - (9 * x2 + 1) / 10)
    c = 0.5 * np.exp(-((9 * x1 - 7) ** 2) / 4 - ((9 * x2 - 3) ** 2) / 4)
    d = 0.2 * np.exp(-((9 * x1 - 4) ** 2) - (9 * x2 - 7) ** 2)
    return a + b + c - d
