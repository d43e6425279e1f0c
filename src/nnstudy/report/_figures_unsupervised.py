"""More figures of the classical methods (drawn through _figures_classical.jobs): PCA's cumulative explained
variance, SOM prototypes over the data in the input plane, linear weights of OLS and ARD side by side, and
the histogram of ARD's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ._figures import _colors, _figure, _label, _save, best_arrays, picked_arrays
from ._figures_classical import _title

MAX_WEIGHT_CONFIGS = 6  # configurations side by side in linear_weights.png


def pca_explained(a, path: Path) -> str | None:
    """Cumulative explained variance against the number of components: own SVD (line), scikit-learn (crosses)."""
    got = best_arrays(a, "pca_curves.npz")
    if got is None or "explained" not in got[2]:
        return None
    i, row, d = got
    own = np.asarray(d["explained"], float)
    k = np.arange(1, len(own) + 1)
    fig = _figure(6.8, 4.4)
    ax = fig.subplots()
    ax.plot(k, own, "o-", ms=3, lw=1.8, label="own SVD")
    if "explained_sklearn" in d:
        ax.plot(k, np.asarray(d["explained_sklearn"], float), "x", ms=7, color="tab:red", label="scikit-learn")
    for level in (0.9, 0.95):
        ax.axhline(level, color="0.6", lw=0.8, ls="--")
        ax.text(0.01, level, f"{level:.0%}", transform=ax.get_yaxis_transform(), fontsize=7, color="0.4",
                va="bottom" if level > 0.9 else "top")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("components")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("cumulative explained variance")
    ax.set_title(f"PCA explained variance: {_title(a, i, row)}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)
    need = {lv: int(np.searchsorted(own, lv - 1e-12) + 1) for lv in (0.9, 0.95)}
    return (f"Fraction of the training variance kept by the first k principal components, own SVD (line) and "
            f"scikit-learn (crosses); {need[0.9]} components keep 90 %, {need[0.95]} keep 95 %.")


def _input_plane(x: np.ndarray, protos: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Data and prototypes in two dimensions: the inputs themselves, or their first two principal components."""
    if x.shape[1] == 2:
        return x, protos, "input"
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    v = vt[:2].T
    return (x - mean) @ v, (protos - mean) @ v, "principal component"


def som_prototypes(a, path: Path) -> str | None:
    got = best_arrays(a, "som.npz")
    if got is None or "prototypes" not in got[2]:
        return None
    i, row, d = got
    protos = np.asarray(d["prototypes"], float)  # (rows, cols, inputs)
    rows, cols, dim = protos.shape
    x, y = np.asarray(d["x"], float), np.asarray(d["y"])
    xy, p, axis = _input_plane(x, protos.reshape(-1, dim))
    p = p.reshape(rows, cols, 2)
    dead = np.asarray(d["hits"]).sum(0) == 0
    classes = [str(c) for c in d["classes"]]
    fig = _figure(6.6, 5.4)
    ax = fig.subplots()
    for j, (cls, color) in enumerate(zip(classes, _colors(len(classes)))):
        sel = y == j
        ax.scatter(xy[sel, 0], xy[sel, 1], s=9, color=color, alpha=0.45, edgecolors="none", label=cls)
    for r in range(rows):  # the map's grid: neighbours joined
        ax.plot(p[r, :, 0], p[r, :, 1], "-", color="0.15", lw=0.9)
    for c in range(cols):
        ax.plot(p[:, c, 0], p[:, c, 1], "-", color="0.15", lw=0.9)
    ax.scatter(p[~dead, 0], p[~dead, 1], s=28, color="black", zorder=3, label="prototype")
    if dead.any():
        ax.scatter(p[dead, 0], p[dead, 1], s=60, marker="x", color="tab:red", zorder=4, label="dead unit")
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(f"SOM prototypes over the training data ({int(dead.sum())} dead of {rows * cols}): "
                 f"{_title(a, i, row)}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    _save(fig, path)
    plane = "the input plane" if axis == "input" else "the plane of the data's first two principal components"
    return (f"The best map's {rows}x{cols} prototypes (black, neighbours joined) over the training samples in "
            f"{plane}; a red cross is a dead unit, one that wins no training sample ({int(dead.sum())} here).")


def linear_weights(a, path: Path) -> str | None:
    """Each configuration's weights per input (OLS, ARD, ...), bars side by side."""
    picks = picked_arrays(a, "linear_weights.npz", MAX_WEIGHT_CONFIGS)
    if not picks:
        return None
    names = [str(n) for n in picks[0][2]["names"]]
    fig = _figure(max(6.0, 0.45 * len(names) * max(1, len(picks)) / 2 + 2.5), 4.4)
    ax = fig.subplots()
    width = 0.8 / len(picks)
    for k, ((i, _, d), color) in enumerate(zip(picks, _colors(len(picks)))):
        coef = np.asarray(d["coef"], float)
        w = coef[0] if len(coef) == 1 else np.abs(coef).mean(0)
        ax.bar(np.arange(len(w)) + (k - (len(picks) - 1) / 2) * width, w, width, color=color,
               label=_label(a, i, 50))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=90 if len(names) > 12 else 0, fontsize=7 if len(names) > 12 else 9)
    ax.set_xlabel("input")
    multi = len(np.asarray(picks[0][2]["coef"])) > 1
    ax.set_ylabel("|weight| (mean over outputs)" if multi else "weight")
    ax.set_title("weights per input, one bar per configuration", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _save(fig, path)
    return ("The fitted weight of every input, one bar per configuration (lowest seed): ordinary least squares "
            "keeps a weight on every input, ARD drives the weights of irrelevant inputs to 0.")


def ard_weight_histogram(a, path: Path) -> str | None:
    got = best_arrays(a, "relevance.npz")
    if got is None:
        return None
    i, row, d = got
    w = np.asarray(d["coef"], float).ravel()
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    counts, _, _ = ax.hist(w, bins=max(10, min(50, 2 * len(w))), color="tab:blue")
    log = counts.max() >= 20 * counts[counts > 0].min()  # a peak at 0 that would flatten the rest
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 1, 10, 100, not 10^0
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:  # a few inputs: whole counts on a linear axis
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("weight")
    ax.set_ylabel("inputs (log scale)" if log else "inputs")
    ax.set_title(f"histogram of the ARD weights: {_title(a, i, row)}", fontsize=9)
    ax.grid(alpha=0.3)
    _save(fig, path)
    zero = int((np.abs(w) <= 1e-6 * (np.abs(w).max() or 1)).sum())
    return (f"Histogram of the {len(w)} weights of the best ARD fit: {zero} pruned to 0 (the peak at 0), the "
            f"relevant inputs' weights away from it.")
