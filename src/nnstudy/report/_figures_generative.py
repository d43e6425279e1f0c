"""Report figures of autoencoders and generative models, and of vanishing gradients in deep nets.

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones. Images come from the artifacts the engine
stores per trial (reconstructions.npz, interpolation.npz, samples.npz); each configuration shows its
lowest-seed done trial.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm

from ._figures import _colors, _figure, _label, _save, _which, best_arrays, picked_arrays
from ._stats import Analysis, epoch_curve, grad_layers, history_of

PATTERNS = ("reconstructions.png", "reconstructions_by_config.png", "reconstructions_along.png", "interpolation.png",
            "samples.png",
            "gan_losses.png", "grad_heatmap.png", "grad_vs_depth.png")
MAX_CONFIGS = 6  # rows / panels of the per-configuration figures
DEEP = 20  # layers (with the output layer) from which a network gets the vanishing-gradient figures
PANELS = 4  # configurations in the gradient figures
ZERO_COLOR = "#9ecae1"  # heatmap cells whose gradient is exactly zero


def jobs(a: Analysis) -> list[tuple[str, Callable[[Path], str | None]]]:
    return [("reconstructions.png", lambda p: reconstructions(a, p)),
            ("reconstructions_by_config.png", lambda p: reconstructions_by_config(a, p)),
            ("reconstructions_along.png", lambda p: reconstructions_along(a, p)),
            ("interpolation.png", lambda p: interpolation(a, p)),
            ("samples.png", lambda p: samples(a, p)),
            ("gan_losses.png", lambda p: gan_losses(a, p)),
            ("grad_heatmap.png", lambda p: grad_heatmap(a, p)),
            ("grad_vs_depth.png", lambda p: grad_vs_depth(a, p))]


def _show(ax, img: np.ndarray) -> None:
    """One image: grey in [0, 1]; colour images, or values outside [0, 1], scaled to their own range."""
    img = np.asarray(img, dtype=float)
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    if lo < 0 or hi > 1:
        img = (img - lo) / ((hi - lo) or 1.0)
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(img.clip(0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _image_rows(rows: list[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """A grid: one labelled row of images per entry."""
    cols = max(len(r) for _, r in rows)
    fig = _figure(0.8 * cols + 2.4, 0.85 * len(rows) + 0.7)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for (label, images), ax_row in zip(rows, axes):
        for j, ax in enumerate(ax_row):
            if j < len(images):
                _show(ax, images[j])
            else:
                ax.set_axis_off()
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def reconstructions(a: Analysis, path: Path) -> str | None:
    got = best_arrays(a, "reconstructions.npz")
    if got is None:
        return None
    i, row, d = got
    _image_rows([("original", d["original"]), ("reconstruction", d["reconstruction"])], path,
                f"reconstructions of test samples, {_which(a)}: {_label(a, i, 90)} (seed {row['seed']})")
    return (f"The first {len(d['original'])} test samples (top) and their reconstructions (bottom) by the best "
            f"configuration ({a.labels[i]}, seed {row['seed']}).")


def reconstructions_along(a: Analysis, path: Path) -> str | None:
    """The best configuration's reconstructions of the same test images after pre-training and along training."""
    got = best_arrays(a, "reconstructions_along.npz")
    if got is None:
        return None
    i, row, d = got
    n = min(8, len(d["original"]))
    labels = [str(t) for t in d["labels"]]
    _image_rows([("original", d["original"][:n])] + [(t, imgs[:n]) for t, imgs in zip(labels, d["images"])], path,
                f"reconstructions along training: {_label(a, i, 90)} (seed {row['seed']})")
    return (f"The first {n} test samples (top) and their reconstructions by the best configuration "
            f"({a.labels[i]}) at {', '.join(labels)}: how the reconstructions sharpen as the model trains"
            + (" (the first row after layer-wise pre-training, before fine-tuning)."
               if labels and labels[0] == "after pre-training" else "."))


def reconstructions_by_config(a: Analysis, path: Path) -> str | None:
    picks = picked_arrays(a, "reconstructions.npz", MAX_CONFIGS)
    if len(picks) < 2:
        return None
    rows = [("original", picks[0][2]["original"])]
    rows += [(_label(a, i, 26), d["reconstruction"]) for i, _, d in picks]
    _image_rows(rows, path, "the same test samples reconstructed by each configuration (best first)")
    return (f"The same test samples (top row) reconstructed by each configuration, best first "
            f"({len(picks)} shown; lowest-seed trial of each).")


def interpolation(a: Analysis, path: Path) -> str | None:
    picks = picked_arrays(a, "interpolation.npz", MAX_CONFIGS)
    if not picks:
        return None
    rows, encoded = [], False
    for i, _, d in picks:
        images = list(d["images"])
        ends = d["ends"]
        if ends.dtype.kind == "f":  # an autoencoder: the two test samples at the ends
            images = [ends[0], *images, ends[1]]
            encoded = True
        rows.append((_label(a, i, 26), images))
    _image_rows(rows, path, "latent interpolation (best configuration first)")
    how = ("autoencoders: between the codes of two test samples of different classes (shown at the "
           "ends), decoded; " if encoded else "")
    return (f"Latent interpolation, one row per configuration (best first): {how}GANs: between two "
            f"random latent vectors, generated. Steps are evenly spaced on the straight line.")


def samples(a: Analysis, path: Path) -> str | None:
    picks = picked_arrays(a, "samples.npz", MAX_CONFIGS)
    if not picks:
        return None
    grid = 8 if len(picks) == 1 else 6
    fig = _figure(min(13.0, 2.3 * len(picks) * grid / 6) + 0.4, 2.3 * grid / 6 + 0.8)
    subs = fig.subfigures(1, len(picks), squeeze=False)[0]
    for sub, (i, _, d) in zip(subs, picks):
        images = d["images"][:grid * grid]
        axes = sub.subplots(grid, grid, squeeze=False)
        for ax, j in zip(axes.flat, range(grid * grid)):
            if j < len(images):
                _show(ax, images[j])
            else:
                ax.set_axis_off()
        sub.suptitle(_label(a, i, 40), fontsize=7)
    _save(fig, path)
    return (f"Generated samples (decoded draws from the prior / the generator's noise), one grid per "
            f"configuration, best first ({len(picks)} shown).")


def gan_losses(a: Analysis, path: Path) -> str | None:
    done = a.done
    hist = history_of(a.snap, done["trial_id"])
    if hist.empty or not hist["metric"].isin(["g_loss", "d_loss"]).any():
        return None
    cfgs = [i for i in a.ranked() if hist["trial_id"].isin(done.loc[done["config"] == i, "trial_id"])
            .any()][:MAX_CONFIGS]
    fig = _figure(12.0, 4.4)
    ax_loss, ax_prob = fig.subplots(1, 2)
    for color, i in zip(_colors(len(cfgs)), cfgs):
        h = hist[hist["trial_id"].isin(done.loc[done["config"] == i, "trial_id"])]
        for ax, metrics in ((ax_loss, ("g_loss", "d_loss")), (ax_prob, ("d_real", "d_fake"))):
            for m, ls, mark in zip(metrics, ("-", "--"), ("o", "s")):
                c = epoch_curve(h, m)
                if len(c):  # one epoch is a point: the marker tells the two metrics apart
                    ax.plot(c["epoch"], c["mean"], ls, color=color, marker=mark if len(c) == 1 else None,
                            label=f"{m}: {_label(a, i, 40)}" if len(cfgs) > 1 else m)
    ax_loss.set_title("generator (solid) and discriminator (dashed) loss")
    ax_loss.set_ylabel("loss")
    ax_prob.set_title("mean D(real) (solid) and D(generated) (dashed)")
    ax_prob.set_ylabel("probability")
    ax_prob.set_ylim(-0.02, 1.02)
    for ax in (ax_loss, ax_prob):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if hist["epoch"].nunique() == 1:  # the integer locator needs a range: one epoch was ticked 0.96-1.04
            ax.set_xticks(sorted(set(hist["epoch"])))
    ax_loss.legend(fontsize=7, loc="best")
    _save(fig, path)
    return ("GAN training: generator and discriminator loss per epoch (mean over seeds), and the "
            "discriminator's mean output on real and generated batches (0.5 = it cannot tell them apart).")


def _grad_matrices(a: Analysis) -> list[tuple[int, list[str], np.ndarray, np.ndarray]]:
    """(configuration, layers, epochs, norms (layers, epochs) mean over seeds) for deep nets, best first."""
    done, out = a.done, []
    for i in a.ranked():
        hist = history_of(a.snap, done.loc[done["config"] == i, "trial_id"])
        layers = grad_layers(hist)
        if len(layers) < DEEP:
            continue
        curves = [epoch_curve(hist, m).set_index("epoch")["mean"] for m in layers]
        epochs = np.array(sorted(set().union(*(c.index for c in curves))), dtype=float)
        norms = np.array([c.reindex(epochs).to_numpy(float) for c in curves])
        out.append((i, [m.removeprefix("grad_norm/") for m in layers], epochs, norms))
    return out[:PANELS]


def _positive_range(mats: list[np.ndarray]) -> tuple[float, float]:
    v = np.concatenate([m[np.isfinite(m) & (m > 0)] for m in mats])
    return (float(v.min()), float(v.max())) if len(v) else (1e-12, 1.0)


def grad_heatmap(a: Analysis, path: Path) -> str | None:
    mats = _grad_matrices(a)
    if not mats:
        return None
    lo, hi = _positive_range([m for *_, m in mats])
    fig = _figure(4.6 * len(mats) + 1.2, 5.2)
    axes = fig.subplots(1, len(mats), squeeze=False, sharey=True)[0]
    image = None
    for ax, (i, layers, epochs, norms) in zip(axes, mats):
        shown = np.ma.masked_where(~(norms > 0), norms)
        cmap = colormaps["magma"].with_extremes(bad=ZERO_COLOR)
        image = ax.pcolormesh(np.arange(len(epochs) + 1) + 0.5, np.arange(len(layers) + 1) + 0.5, shown,
                              norm=LogNorm(lo, max(hi, lo * 10)), cmap=cmap, shading="flat")
        ax.set_title(_label(a, i, 44), fontsize=8)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("layer (1 = input side)")
    fig.colorbar(image, ax=list(axes), label="weight-gradient norm (log scale)")
    fig.suptitle("per-layer gradient norm through training", fontsize=10)
    _save(fig, path)
    return ("Weight-gradient norm of every layer (rows, input layer at the bottom) in every epoch "
            "(mean over seeds), log colour scale shared by the panels: dark rows near the input are "
            "vanishing gradients; light blue: exactly zero (no gradient reaches the layer, e.g. dead ReLUs).")


def grad_vs_depth(a: Analysis, path: Path) -> str | None:
    mats = _grad_matrices(a)
    if not mats:
        return None
    fig = _figure(4.6 * len(mats) + 0.8, 4.4)
    axes = fig.subplots(1, len(mats), squeeze=False, sharey=True)[0]
    for ax, (i, layers, epochs, norms) in zip(axes, mats):
        picks = sorted(set([0, len(epochs) // 2, len(epochs) - 1]))
        for color, j in zip(_colors(len(picks)), picks):
            y = norms[:, j]
            ok = np.isfinite(y) & (y > 0)
            ax.plot(np.arange(1, len(layers) + 1)[ok], y[ok], color=color, lw=1.5, label=f"epoch {epochs[j]:g}")
        ax.set_yscale("log")
        ax.set_xlim(0.5, len(layers) + 0.5)
        ax.set_xlabel("layer (input → output)")
        zero = int((norms[:, -1] == 0).sum())
        ax.set_title(_label(a, i, 44) + (f"\n{zero} layers with zero gradient (not drawn)" if zero else ""),
                     fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("weight-gradient norm")
    fig.suptitle("gradient norm against depth (log scale)", fontsize=10)
    _save(fig, path)
    return ("Weight-gradient norm against the layer's depth at the first, middle and last epoch "
            "(mean over seeds, log scale): a line that falls towards the input is a vanishing gradient.")
