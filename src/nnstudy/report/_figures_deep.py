"""Report figures of classifiers on images and signals (cnn, resnet18, vit, and the MLP on images).

They read the ``predictions.npz`` artifact (test labels and predictions, the first misclassified
test inputs as they were before data.normalize): a confusion matrix with the per-class error rates, a
grid of misclassified samples, and samples the best configuration gets right and the worst gets wrong.
First-layer conv filters are drawn by ``first_layer_weights`` in ``_figures.py`` from the engine's artifact.

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._figures import DPI, _figure, _label, _save, _which, best_and_worst, image_colorbar
from ._mosaic import Tile, mosaic_figure

PATTERNS: tuple[str, ...] = ("class_errors.png", "misclassified.png", "right_vs_wrong.png")
MAX_TILES = 32


def _short(a, i: int, width: int = 110) -> str:
    text = _label(a, i, width).replace("\n", " ")
    return text if len(text) <= width else text[:width - 1] + "…"


def jobs(a) -> list[tuple[str, Callable]]:
    return [("class_errors.png", lambda p: confusion_matrix(a, p)),
            ("misclassified.png", lambda p: misclassified(a, p)),
            ("right_vs_wrong.png", lambda p: right_vs_wrong(a, p))]


def _best_and_worst(a) -> list[tuple[int, dict, object]]:
    """[(configuration, its predictions, its trial row)], best first, then the worst if it differs."""
    return [(i, d, row) for i, row, d in best_and_worst(a, "predictions.npz")]


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(y_true.astype(np.int64) * k + y_pred.astype(np.int64), minlength=k * k).reshape(k, k)


def confusion_matrix(a, path) -> str | None:
    chosen = _best_and_worst(a)
    if not chosen:
        return None
    i, d, row = chosen[0]
    classes = [str(c) for c in d["classes"]]
    k = len(classes)
    cm = confusion(d["y_true"], d["y_pred"], k)
    per_class = error_rates(cm)
    fig = _figure(5.2 + 0.35 * k + 4.2, 0.42 * k + 2.6)
    ax, bar = fig.subplots(1, 2, width_ratios=[1.3, 1])
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    image_colorbar(fig, ax, im, label="share of the true class")
    for r in range(k):
        for c in range(k):
            if cm[r, c]:
                ax.text(c, r, str(cm[r, c]), ha="center", va="center", fontsize=7, in_layout=False,
                        color="white" if frac[r, c] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("test samples (colour: share of the true class)", fontsize=9)
    bar.barh(range(k), np.nan_to_num(per_class), color="tab:red")
    bar.set_yticks(range(k), classes, fontsize=7)
    bar.invert_yaxis()
    bar.set_xlabel("error rate")
    bar.set_title("errors per class", fontsize=9)
    fig.suptitle(f"{_which(a)}: {_short(a, i)} (seed {row['seed']})", fontsize=9)
    _save(fig, path)
    return (f"Confusion matrix of the best configuration ({a.labels[i]}, seed {row['seed']}) on the "
            f"{int(cm.sum())} test samples, and its error rate per class. {errors_text(cm, classes)}")


def error_rates(cm: np.ndarray) -> np.ndarray:
    """Per true class (row) the share of its test samples predicted as another class; NaN for a class without
    test samples (it has no error rate, not 100 %)."""
    support = cm.sum(1)
    return np.divide(support - np.diag(cm), support, out=np.full(len(cm), np.nan), where=support > 0)


def errors_text(cm: np.ndarray, classes: list[str]) -> str:
    """'Most errors: class 7 (12.0% wrong); the most frequent confusion is 7 taken for 1 (3 times).', or that
    there is no error."""
    off = cm - np.diag(np.diag(cm))
    if not off.any():
        return "Every test sample is classified correctly."
    per_class = error_rates(cm)
    r, c = np.unravel_index(int(off.argmax()), off.shape)
    worst = int(np.nanargmax(per_class))
    return (f"Most errors: class {classes[worst]} ({per_class[worst]:.1%} wrong); the most frequent confusion is "
            f"{classes[r]} taken for {classes[c]} ({int(off[r, c])} time{'s' if off[r, c] > 1 else ''}).")


def _show(ax, x: np.ndarray) -> None:
    """One input: an image (gray or RGB, scaled to its own range) or a signal as a line."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 1:
        ax.plot(x, color="black", lw=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo or 1.0)
    if x.ndim == 3:
        ax.imshow(np.moveaxis(x, 0, -1) if x.shape[0] in (3, 4) else x[0], interpolation="nearest")
    else:
        ax.imshow(x, cmap="gray_r", interpolation="nearest")
    ax.set_axis_off()


def _grid(samples: list[tuple[np.ndarray, str]], title: str, path) -> None:
    cols = min(8, len(samples))
    rows = -(-len(samples) // cols)
    images = [_image(x) for x, _ in samples]
    if all(im is not None for im in images):  # one axes for all tiles: far cheaper than a subplot each
        tiles = [Tile(im, text, None if im.ndim == 3 else "gray_r") for im, (_, text) in zip(images, samples)]
        _save(mosaic_figure(tiles, cols, title, DPI, cell=1.45), path)
        return
    fig = _figure(max(1.45 * cols + 0.4, 5.0), 1.55 * rows + 0.6)  # signals: a line each
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (x, text) in zip(axes, samples):
        _show(ax, x)
        ax.set_title(text, fontsize=7)
    for ax in axes[len(samples):]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def _image(x: np.ndarray) -> np.ndarray | None:
    """An input as an image scaled to [0, 1] (gray (h, w) or RGB (h, w, 3)), or None for a signal."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim < 2 or (x.ndim == 2 and x.shape[0] == 1) or (x.ndim == 3 and x.shape[0] not in (3, 4)):
        return None
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo or 1.0)
    return np.moveaxis(x, 0, -1) if x.ndim == 3 else x


def inputs(d) -> np.ndarray | None:
    """The misclassified test inputs of a predictions.npz as a person sees them: ``x_raw`` (before data.normalize);
    in a store written before it, ``x`` (as the model saw them); None for a table's (labels only)."""
    for name in ("x_raw", "x"):
        if name in d:
            return d[name]
    return None


def misclassified(a, path) -> str | None:
    chosen = _best_and_worst(a)
    if not chosen or inputs(chosen[0][1]) is None or not len(chosen[0][1]["wrong"]):  # a table's: labels only
        return None
    i, d, row = chosen[0]
    classes = [str(c) for c in d["classes"]]
    wrong, x = d["wrong"][:MAX_TILES], inputs(d)
    samples = [(x[j], f"true {classes[d['y_true'][w]]}\npred {classes[d['y_pred'][w]]}")
               for j, w in enumerate(wrong)]
    _grid(samples, f"misclassified test samples, {_which(a)}: {_short(a, i, 80)}", path)
    n_wrong = int((d["y_true"] != d["y_pred"]).sum())
    return (f"The first {len(samples)} of the {n_wrong} test samples the best configuration "
            f"({a.labels[i]}, seed {row['seed']}) gets wrong, with the true and the predicted class.")


def right_vs_wrong(a, path) -> str | None:
    chosen = _best_and_worst(a)
    if len(chosen) < 2:
        return None
    (i, best, _), (j, worst, _) = chosen
    x = inputs(worst)
    if x is None:  # a table's predictions: labels only, no samples to show
        return None
    if len(best["y_true"]) != len(worst["y_true"]) or not np.array_equal(best["y_true"], worst["y_true"]):
        return None  # different test sets: nothing to compare sample by sample
    right = best["y_pred"] == best["y_true"]
    pos = [p for p, w in enumerate(worst["wrong"]) if right[w]][:MAX_TILES]
    if not pos:
        return None
    classes = [str(c) for c in best["classes"]]
    samples = [(x[p], f"{classes[best['y_true'][w]]}\nworst: {classes[worst['y_pred'][w]]}")
               for p, w in ((p, worst["wrong"][p]) for p in pos)]
    _grid(samples, "right by the best configuration, wrong by the worst (answer shown)", path)
    total = int((right & (worst["y_pred"] != worst["y_true"])).sum())
    return (f"Test samples the best configuration ({a.labels[i]}) classifies correctly and the worst "
            f"({a.labels[j]}) does not: {total} in all, {len(samples)} shown, each with its true class and "
            f"the worst configuration's answer.")
