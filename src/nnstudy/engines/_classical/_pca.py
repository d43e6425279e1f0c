"""PCA: own SVD next to scikit-learn's. Reconstruction RMSE against the number of components on every
split; losses are reconstruction MSEs with ``model.components`` components."""

from __future__ import annotations

import time

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import npz, one_row, splits

MAX_CURVE_POINTS = 40


def own_pca(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (d,), components (r, d) rows orthonormal, variance per component (r,)) by SVD of centred x."""
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt, s ** 2 / max(len(x) - 1, 1)


def recon_rmse(x: np.ndarray, mean: np.ndarray, comps: np.ndarray, k: int) -> float:
    """RMSE over every entry of x after projecting on the first k components and back."""
    xc = x - mean
    v = comps[:k]  # (k, d)
    return float(np.sqrt(np.mean((xc - (xc @ v.T) @ v) ** 2)))


def curve_points(rank: int) -> np.ndarray:
    """0..rank, every one when few, else evenly spaced (always with 0, 1, 2 and the full rank)."""
    if rank + 1 <= MAX_CURVE_POINTS:
        return np.arange(rank + 1)
    return np.unique(np.r_[0, 1, 2, np.linspace(0, rank, MAX_CURVE_POINTS).round().astype(int), rank])


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    from sklearn.decomposition import PCA

    x_train = data.x_train.astype(np.float64)
    t0 = time.perf_counter()
    mean, comps, var = own_pca(x_train)
    train_time = time.perf_counter() - t0
    rank = len(comps)
    sk = PCA(n_components=rank, svd_solver="full").fit(x_train)
    k = min(trial.config["model"]["components"] or rank, rank)
    ks = curve_points(rank)
    parts = {name: x.astype(np.float64) for name, x, _ in splits(data)}
    own = {n: np.array([recon_rmse(x, mean, comps, j) for j in ks]) for n, x in parts.items()}
    theirs = {n: np.array([recon_rmse(x, sk.mean_, sk.components_, j) for j in ks]) for n, x in parts.items()}
    metrics: dict[str, float] = {}
    for name, x in parts.items():
        rmse = recon_rmse(x, mean, comps, k)
        metrics |= {f"{name}_loss": rmse ** 2, f"{name}_recon_rmse": rmse}
    total = float(np.var(x_train, axis=0, ddof=1).sum())
    metrics["explained_variance"] = float(var[:k].sum() / total) if total > 0 else 1.0
    metrics["sklearn_gap"] = float(max(np.abs(own[n] - theirs[n]).max() for n in parts))

    def artifacts() -> dict[str, bytes]:
        names = list(parts)
        curves = npz(k=ks, splits=np.array(names), own=np.stack([own[n] for n in names]),
                     sklearn=np.stack([theirs[n] for n in names]), explained=np.cumsum(var) / (total or 1.0),
                     explained_sklearn=np.cumsum(sk.explained_variance_ratio_))
        shown = data.x_test if len(data.x_test) else data.x_train
        labels = data.y_test if len(data.x_test) else data.y_train
        z = (shown.astype(np.float64) - mean) @ comps[:2].T
        proj = npz(z=z.astype(np.float32), z_sklearn=sk.transform(shown.astype(np.float64))[:, :2].astype(np.float32),
                   y=labels if data.task == "classification" else labels[:, 0],
                   classes=np.array(data.classes), task=np.array(data.task))
        return {"pca_curves.npz": curves, "pca_projection.npz": proj}

    return one_row(trial, metrics, train_time, on_epoch, artifacts)
