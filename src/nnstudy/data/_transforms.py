"""Input transforms fitted on the training split, applied after normalization, for every model.

    data.pca = k | fraction      project on the first k principal components (or as many as keep that
                                 fraction of the variance), fitted on the normalized training inputs
    data.encoding = "fourier"    append sin(2 pi f x) and cos(2 pi f x) of every input for each f in
    data.frequencies = [...]     data.frequencies; the inputs themselves are kept in front:
                                 [x, sin(2 pi f1 x), cos(2 pi f1 x), sin(2 pi f2 x), ...]

PCA comes first when both are set. ``data.features`` (column selection) is applied by ``prepare``
before normalization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._registry import FOURIER_FREQUENCIES

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

def _float_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)


@dataclass(frozen=True)
class Pca:
    mean: np.ndarray  # (d,)
    components: np.ndarray  # (k, d), rows = principal axes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) @ self.components.T
        return np.ascontiguousarray(z, dtype=_float_dtype(x))

    @property
    def invertible(self) -> bool:
        """Every component kept: the projection is a rotation about the mean."""
        return self.components.shape[0] == self.components.shape[1]

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """The inputs (float64) whose projection is ``z`` (``invertible`` projections only)."""
        return np.asarray(z, np.float64) @ self.components + self.mean


@dataclass(frozen=True)
class Fourier:
    frequencies: tuple[float, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, d + 2 f d): x, then per frequency sin(2 pi f x) and cos(2 pi f x)."""
        z = np.asarray(x, np.float64)
        angles = (2 * np.pi) * z[:, None, :] * np.asarray(self.frequencies)[None, :, None]
        waves = np.stack([np.sin(angles), np.cos(angles)], axis=2)  # (n, f, 2, d)
        out = np.concatenate([z, waves.reshape(len(z), -1)], axis=1)
        return np.ascontiguousarray(out, dtype=_float_dtype(x))

    invertible = True  # the inputs are kept in front

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """The inputs: the first d of the d + 2 f d columns (float64)."""
        d = z.shape[1] // (1 + 2 * len(self.frequencies))
        return np.asarray(z[:, :d], np.float64)


@dataclass(frozen=True)
class Chain:
    """Steps applied in order: what ``Dataset.encode`` calls on points of the boundary plane."""

    steps: tuple[Pca | Fourier, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for step in self.steps:
            x = step(x)
        return x


def fit(x_train: np.ndarray, cfg: DataConfig, label: str) -> list[Pca | Fourier]:
    """The steps ``cfg`` asks for, in order, PCA fitted on ``x_train``; empty when it asks for none."""
    steps: list[Pca | Fourier] = []
    if cfg.pca is not None:
        steps.append(Pca(*fit_pca(x_train, cfg.pca, label)))
    if cfg.encoding == "fourier":
        steps.append(Fourier(tuple(cfg.frequencies or FOURIER_FREQUENCIES)))
    return steps


def fit_pca(x: np.ndarray, keep: int | float, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, components) of scikit-learn's PCA on ``x``: ``keep`` components, or a variance fraction."""
    from sklearn.decomposition import PCA

    n, d = x.shape
    if isinstance(keep, int) and keep > min(n, d):
        raise DataError(f"{label}: pca = {keep} is more than the {d} inputs"
                        if keep > d else f"{label}: pca = {keep} needs at least {keep} training samples "
                        f"(there are {n})")
    pca = PCA(n_components=keep, svd_solver="full").fit(np.asarray(x, np.float64))
    return pca.mean_, pca.components_
