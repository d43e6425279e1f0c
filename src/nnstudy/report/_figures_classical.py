"""Report figures of classical and unsupervised methods.

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones. Each figure reads the .npz artifacts the
classical engine stores; the best configuration's lowest-seed trial is shown unless a figure says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib import colormaps
from matplotlib.patheffects import withStroke
from matplotlib.ticker import MaxNLocator

from ._figures import _colors, _figure, _label, _save, best_arrays, image_colorbar, picked_arrays
from ._mosaic import wrap_title

FIGURES = ("pca_curves.png", "pca_projection.png", "som_umatrix.png", "som_hits.png", "rbm_samples.png",
           "rbm_inpainting.png", "rbm_filters.png", "dbm_filters.png", "dbm_samples.png", "ard_relevance.png",
           "forecast.png", "feature_importance.png", "pca_explained.png", "som_prototypes.png",
           "linear_weights.png", "ard_weight_histogram.png")
PATTERNS: tuple[str, ...] = FIGURES


def jobs(a) -> list[tuple[str, Callable]]:
    from ._figures_unsupervised import ard_weight_histogram, linear_weights, pca_explained, som_prototypes

    draws = (pca_curves, pca_projection, som_umatrix, som_hits, rbm_samples, rbm_inpainting, rbm_filters,
             dbm_filters, dbm_samples, ard_relevance, forecast, feature_importance, pca_explained, som_prototypes,
             linear_weights, ard_weight_histogram)
    return [(name, lambda p, f=f: f(a, p)) for name, f in zip(FIGURES, draws)]


def _title(a, i: int, row) -> str:
    return f"{_label(a, i, 90)} (seed {row['seed']})"


def _tiles(fig, images: np.ndarray, rows: int, cols: int, cmap: str = "gray", signed: bool = False,
           spec=None, row_labels: list[str] | None = None) -> None:
    """images (rows*cols, h, w) in a grid, each tile scaled on its own (signed: centred at 0)."""
    axes = (spec.subgridspec(rows, cols) if spec is not None else fig.add_gridspec(rows, cols)).subplots(
        squeeze=False)
    for j, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        if j >= len(images):
            continue
        img = np.asarray(images[j], float)
        if signed:
            lim = float(np.abs(img).max()) or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    if row_labels:
        for r, text in enumerate(row_labels):
            axes[r, 0].set_ylabel(text, fontsize=8, rotation=0, ha="right", va="center")


# ---------------------------------------------------------------- PCA


def pca_curves(a, path: Path) -> str | None:
    picks = picked_arrays(a, "pca_curves.npz")
    if not picks:
        return None
    shown: list[tuple[int, dict]] = []  # the curve depends on the data only: draw each distinct one once
    for i, _, d in picks:
        if not any(d["own"].shape == e["own"].shape and np.allclose(d["own"], e["own"]) for _, e in shown):
            shown.append((i, d))
    fig = _figure(8.4, 4.6)
    ax = fig.subplots()
    for (i, d), color in zip(shown, _colors(len(shown))):
        splits = [str(s) for s in d["splits"]]
        s = splits.index("test") if "test" in splits else 0
        who = f"{_label(a, i, 40)}: " if len(shown) > 1 else ""
        ax.plot(d["k"], d["own"][s], "-", color=color, lw=1.8, label=f"{who}own SVD ({splits[s]})")
        ax.plot(d["k"], d["sklearn"][s], "x", color=color, ms=6, label=f"{who}scikit-learn")
    ax.set_xlabel("components kept")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iris's 0..4 were ticked 0.5, 1.5, ...
    ax.set_ylabel("reconstruction RMSE")
    ax.set_title("PCA reconstruction error vs number of components")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _save(fig, path)
    return ("Reconstruction RMSE (every entry of the test split) against the number of principal components "
            "fitted on train: own SVD (line) and scikit-learn's PCA (crosses), one colour per distinct curve "
            "(the curve depends on the data, not on model.components). It reaches 0 at full rank.")


def pca_projection(a, path: Path) -> str | None:
    got = best_arrays(a, "pca_projection.npz")
    if got is None:
        return None
    i, row, d = got
    z, y = np.asarray(d["z"], float), np.asarray(d["y"])
    if z.ndim != 2 or z.shape[1] < 2:
        return None
    panels = [("own SVD", z)] + ([("scikit-learn", np.asarray(d["z_sklearn"], float))] if "z_sklearn" in d else [])
    fig = _figure(6.0 * len(panels) + 0.4, 5.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, zz) in zip(axes, panels):
        if str(d["task"]) == "classification":
            classes = [str(c) for c in d["classes"]]
            for j, (cls, color) in enumerate(zip(classes, _colors(len(classes)))):
                sel = y == j
                ax.scatter(zz[sel, 0], zz[sel, 1], s=12, color=color, label=cls, alpha=0.8, edgecolors="none")
            ax.legend(fontsize=8, title="class", loc="best")
        else:
            sc = ax.scatter(zz[:, 0], zz[:, 1], s=12, c=y, cmap="viridis", edgecolors="none")
            fig.colorbar(sc, ax=ax, label="first target")
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"2-D PCA projection: {_title(a, i, row)}", fontsize=9)
    _save(fig, path)
    both = (" by the own SVD (left) and scikit-learn's PCA (right): the same picture up to the sign of each "
            "component" if len(panels) == 2 else "")
    return (f"Test samples projected on the first two principal components (fitted on train){both}, "
            f"{a.labels[i]}.")


# ---------------------------------------------------------------- SOM


def som_umatrix(a, path: Path) -> str | None:
    got = best_arrays(a, "som.npz")
    if got is None:
        return None
    i, row, d = got
    u, labels = np.asarray(d["umatrix"], float), np.asarray(d["labels"])
    classes = [str(c) for c in d["classes"]]
    fig = _figure(max(4.0, 0.5 * u.shape[1] + 2.6), max(2.6, 0.5 * u.shape[0] + 1.4))
    ax = fig.subplots()
    im = ax.imshow(u, cmap="bone_r", interpolation="nearest")
    image_colorbar(fig, ax, im, label="mean distance to neighbours")
    colors = _colors(len(classes))
    for (r, c), lab in np.ndenumerate(labels):
        if lab >= 0:
            ax.text(c, r, classes[lab][:3], ha="center", va="center", fontsize=7, color=colors[lab],
                    fontweight="bold", path_effects=[withStroke(linewidth=2.5, foreground="white")])  # on dark cells
        else:
            ax.text(c, r, "·", ha="center", va="center", fontsize=9, color="tab:red")
    ax.set_title(f"U-matrix and neuron labels: {_title(a, i, row)}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    _save(fig, path)
    return ("U-matrix of the best map (dark = far from its neighbours: a cluster border), each neuron marked "
            "with the majority training label of the samples it wins (red dot: no sample, a dead unit).")


def som_hits(a, path: Path) -> str | None:
    got = best_arrays(a, "som.npz")
    if got is None:
        return None
    i, row, d = got
    hits = np.asarray(d["hits"], float)  # (classes, rows, cols)
    classes = [str(c) for c in d["classes"]]
    panels = [("all classes", hits.sum(0))] + [(c, h) for c, h in zip(classes, hits)]
    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    grid = hits.shape[1:]
    fig = _figure(cols * max(2.4, 0.3 * grid[1] + 1.2), rows * max(2.2, 0.3 * grid[0] + 1.0) + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (name, h) in zip(axes.flat, panels):
        im = ax.imshow(h, cmap=colormaps["Blues"], interpolation="nearest")
        for (r, c), v in np.ndenumerate(h):
            if grid[0] * grid[1] <= 64:
                ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 * (h.max() or 1) else "black")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        image_colorbar(fig, ax, im)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(f"hit map (training samples per neuron): {_title(a, i, row)}", fontsize=9)
    _save(fig, path)
    return "Training samples won by each neuron of the best map, all together and per class (0 = dead unit)."


# ---------------------------------------------------------------- RBM / DBM


def rbm_samples(a, path: Path) -> str | None:
    got = best_arrays(a, "rbm_samples.npz")
    if got is None:
        return None
    i, row, d = got
    steps = [int(s) for s in d["steps"]]
    sides = [("own", d["own"])] + ([("scikit-learn", d["sklearn"])] if "sklearn" in d else [])
    n = min(8, d["own"].shape[1])
    fig = _figure(1.0 * n * len(sides) + 1.6, 1.0 * len(steps) + 0.9)
    specs = fig.add_gridspec(1, len(sides), wspace=0.08)
    for k, (name, arr) in enumerate(sides):
        imgs = np.concatenate([arr[s, :n] for s in range(len(steps))])
        _tiles(fig, imgs, len(steps), n, spec=specs[0, k],
               row_labels=[f"{s} step{'' if s == 1 else 's'}" for s in steps] if k == 0 else None)
    fig.suptitle(f"RBM samples after Gibbs steps from noise: {' | '.join(n for n, _ in sides)} — "
                 f"{_title(a, i, row)}", fontsize=9)
    _save(fig, path)
    return ("Samples of the best RBM (mean visible activity) after 1, 10, 100, ... Gibbs steps from random "
            "noise, own CD-k on the left, scikit-learn's BernoulliRBM on the right.")


def rbm_inpainting(a, path: Path) -> str | None:
    got = best_arrays(a, "rbm_inpainting.npz")
    if got is None:
        return None
    i, row, d = got
    imgs = np.concatenate([d["original"], d["masked"], d["filled"]])
    n = len(d["original"])
    fig = _figure(1.0 * n + 1.6, 3.6)
    side = str(d["side"]) if "side" in d else "bottom"
    what = f"{side} {int(d['rows'])} {'rows' if side in ('top', 'bottom') else 'columns'}"
    _tiles(fig, imgs, 3, n, row_labels=["original", f"{side} hidden", "inpainted"])
    fig.suptitle(f"RBM inpainting of the {what}: {_title(a, i, row)}", fontsize=9)
    _save(fig, path)
    return (f"Inpainting with the best RBM: the {what} of test images are hidden "
            "(grey) and filled in by Gibbs sampling with the visible rows clamped: each pixel shows its probability "
            "of being on, averaged over the second half of the Gibbs steps.")


def _filter_figure(title: str, sets: list[tuple[str, np.ndarray]], path) -> None:
    n = max(len(w) for _, w in sets)
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    width = min(0.75 * cols, 9.0) * len(sets) + 0.6
    names = "".join(f"  |  {name}" for name, _ in sets if name)  # one unnamed set: no trailing bar
    title = wrap_title(title + names, 0.95 * width)  # 16 tiles are 3.6 inches wide
    fig = _figure(width, min(0.75 * rows, 9.0) + 0.8 + 0.17 * title.count("\n"))
    specs = fig.add_gridspec(1, len(sets), wspace=0.1)
    for k, (name, w) in enumerate(sets):
        _tiles(fig, w, rows, cols, signed=True, spec=specs[0, k])
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def rbm_filters(a, path: Path) -> str | None:
    got = best_arrays(a, "rbm_filters.npz")
    if got is None:
        return None
    i, row, d = got
    _filter_figure(f"RBM filters (weights of each hidden unit): {_title(a, i, row)}", [("", d["w"])], path)
    return (f"Weights of {len(d['w'])} of {int(d['total'])} hidden units of the best RBM as images "
            "(red: the pixel turns the unit on, blue: off).")


def dbm_filters(a, path: Path) -> str | None:
    got = best_arrays(a, "dbm.npz")
    if got is None:
        return None
    i, row, d = got
    _filter_figure(f"DBM filters: {_title(a, i, row)}",
                   [("layer 1", d["filters1"]), ("layer 2 (W1 W2)", d["filters2"])], path)
    return ("Filters of the best DBM: first-layer weights (left) and second-layer units projected to pixels "
            "through the first layer, W1 W2 (right).")


def dbm_samples(a, path: Path) -> str | None:
    got = best_arrays(a, "dbm.npz")
    if got is None:
        return None
    i, row, d = got
    steps = [int(s) for s in d["steps"]]
    n = min(8, d["samples"].shape[1])
    imgs = np.concatenate([d["samples"][-1, :n], d["rbm_samples"][-1, :n]])
    fig = _figure(1.0 * n + 1.8, 2.6)
    _tiles(fig, imgs, 2, n, row_labels=["DBM", "RBM"])
    fig.suptitle(f"samples after {steps[-1]} Gibbs steps: {_title(a, i, row)}", fontsize=9)
    _save(fig, path)
    return (f"Samples after {steps[-1]} Gibbs steps from noise: the jointly trained DBM (top) and its "
            "greedily pre-trained first-layer RBM (bottom).")


# ---------------------------------------------------------------- supervised


def _bars(a, path: Path, artifact: str, key: str, ylabel: str, title: str, transform=None) -> tuple | None:
    got = best_arrays(a, artifact)
    if got is None:
        return None
    i, row, d = got
    v = np.asarray(d[key], float)
    v = transform(v) if transform else v
    names = [str(n) for n in d["names"]]
    fig = _figure(max(5.0, 0.32 * len(v) + 2.0), 4.0)
    ax = fig.subplots()
    ax.bar(range(len(v)), v, color="tab:blue")
    ax.set_xticks(range(len(v)), names, rotation=90 if len(v) > 12 else 0, fontsize=7 if len(v) > 12 else 9)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("input")
    ax.set_title(f"{title}: {_title(a, i, row)}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return i, row, v, names


def ard_relevance(a, path: Path) -> str | None:
    got = _bars(a, path, "relevance.npz", "coef", "|weight| (mean over outputs)", "ARD relevance",
                lambda c: np.abs(c).mean(0))
    if got is None:
        return None
    _, _, v, names = got
    kept = [n for n, x in zip(names, v) if x > 1e-6 * (v.max() or 1)]
    return (f"Absolute ARD weight per input of the best configuration; pruned inputs have 0. Kept: "
            f"{', '.join(kept) or 'none'}. Select them with data.features.")


def feature_importance(a, path: Path) -> str | None:
    got = _bars(a, path, "feature_importance.npz", "importance", "importance", "feature importance")
    if got is None:
        return None
    return "Feature importances of the best tree ensemble (random forest: mean impurity decrease; XGBoost: gain)."


def forecast(a, path: Path) -> str | None:
    got = best_arrays(a, "forecast.npz")
    if got is None:
        return None
    i, row, d = got
    y, pred = np.asarray(d["y"], float)[:, 0], np.asarray(d["pred"], float)[:, 0]
    series = bool(d["series"])
    fig = _figure(9.0 if series else 5.4, 4.2)
    ax = fig.subplots()
    if series:
        ax.plot(y, "-", color="black", lw=1.4, label="truth")
        ax.plot(pred, "-", color="tab:orange", lw=1.4, label="forecast")
        ax.set_xlabel("test step (chronological)")
        ax.set_ylabel("target")
    else:
        ax.scatter(y, pred, s=10, alpha=0.7, edgecolors="none")
        lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "--", color="0.4", lw=1, label="prediction = truth")
        ax.set_xlabel("truth")
        ax.set_ylabel("prediction")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    ax.set_title(f"{'forecast vs truth' if series else 'prediction vs truth'} (test): {_title(a, i, row)}",
                 fontsize=9)
    _save(fig, path)
    return (("One-step forecasts against the true series on the chronological test split"
             if series else "Predictions against the true targets on the test split")
            + f" (first output), best configuration ({a.labels[i]}).")
