"""Figures of one trial's pictures for the configurations a study chooses (issue 19 item 6): with
``report.configurations = ["Baseline", "Wide"]`` each figure that shows the best configuration alone (first-layer
weights, U-matrix, projections, reconstructions, ...) is drawn once per chosen configuration, and the drawings
are put side by side in one PNG, in the order given."""

from __future__ import annotations

import copy
import io
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib import image as mpimg

from ._atomic import write_atomic
from ._stats import Analysis

# figures that show one configuration's trial (the best, unless the study chooses)
PER_CONFIGURATION = ("first_layer_weights.png", "grad_norms.png", "decision_boundary.png", "class_errors.png", "misclassified.png",
                     "reconstructions.png", "reconstructions_along.png", "interpolation.png", "samples.png",
                     "pca_projection.png", "som_umatrix.png", "som_hits.png", "som_prototypes.png", "rbm_samples.png",
                     "rbm_inpainting.png", "rbm_filters.png", "dbm_filters.png", "dbm_samples.png", "forecast.png",
                     "linear_weights.png")
GAP = 12  # white pixels between two drawings


def focused(a: Analysis, i: int) -> Analysis:
    """The analysis with configuration i first in line and its trials alone, so a figure of 'the best' draws it
    (or nothing, when its trials lack the figure's data)."""
    view = copy.copy(a)
    view.focus = i
    view.trials = a.trials[a.trials["config"] == i]
    return view


def side_by_side(a: Analysis, name: str, jobs_of: Callable[[Analysis], dict[str, Callable]], path: Path) -> str | None:
    """Figure ``name`` drawn for each of ``a.chosen()``, side by side in one PNG; its caption names them."""
    chosen = a.chosen()
    drawn, captions = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in chosen:
            draw = jobs_of(focused(a, i)).get(name)
            part = Path(tmp) / f"{len(drawn)}.png"
            cap = draw(part) if draw else None
            if cap and part.exists():
                drawn.append(mpimg.imread(part))
                captions.append((i, cap))
    if not drawn:
        return None
    write_atomic(Path(path), _png(_hstack(drawn)))
    names = " | ".join(a.labels[i] for i, _ in captions)
    which = "each configuration" if len(drawn) > 1 else "the chosen configuration"
    first = captions[0][1].replace("the best configuration", which).replace("best configuration", "configuration")
    return (f"One panel per configuration of report.configurations, left to right: {names}. " + first
            if len(drawn) > 1 else first)


def _hstack(images: list[np.ndarray]) -> np.ndarray:
    images = [im[..., :3] if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
    h = max(im.shape[0] for im in images)
    parts = []
    for j, im in enumerate(images):
        pad = np.ones((h - im.shape[0], im.shape[1], 3), dtype=im.dtype)
        parts.append(np.concatenate([im, pad], axis=0))
        if j < len(images) - 1:
            parts.append(np.ones((h, GAP, 3), dtype=im.dtype))
    return np.concatenate(parts, axis=1)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    mpimg.imsave(buf, np.clip(rgb, 0, 1), format="png", metadata={"Software": None})
    return buf.getvalue()
