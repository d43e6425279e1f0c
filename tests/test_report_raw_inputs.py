"""misclassified.png draws the test images as they were before data.normalize (per-pixel standardisation
turns them into a shaded background); a store written before predictions.npz held them still draws its x."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

import nnstudy
from nnstudy.data import load
from nnstudy.engines._common import _npz
from nnstudy.report._figures import FigureSink
from nnstudy.report._figures_deep import misclassified
from nnstudy.report._stats import analyze
from nnstudy.spec._schema import DataConfig
from nnstudy.store._snapshot import Artifact

DATA = {"name": "digits", "train_size": 300, "normalize": "standard"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    raw = {"study": {"name": "raw-inputs"}, "data": DATA, "model": {"hidden": [8]},
           "train": {"optimizer": "sgd", "lr": 0.01, "epochs": 1}, "trials": {"seeds": 1}}
    s = nnstudy.run(raw, store=tmp_path_factory.mktemp("runs"), workers=1, device="cpu")
    snap = s.snapshot()
    blob = next(x.data for x in snap.artifacts if x.name == "predictions.npz")
    return snap, dict(np.load(io.BytesIO(blob)))


def _drawn(snap) -> list[np.ndarray]:
    sink = FigureSink()
    assert misclassified(analyze(snap), sink)
    return [im.get_array() for im in sink.figure.axes[0].images]


def _scaled(images: np.ndarray) -> list[np.ndarray]:
    """Each image to its own range [0, 1], as the figure draws it."""
    return [(x - x.min()) / (x.max() - x.min()) for x in np.asarray(images, np.float64)]


def test_the_misclassified_images_are_the_images_before_normalization(run):
    snap, d = run
    wrong = d["wrong"]
    plain = load(DataConfig(**{**DATA, "normalize": "none"})).x_test[wrong].reshape(-1, 8, 8)
    model_saw = load(DataConfig(**DATA)).x_test[wrong].reshape(-1, 8, 8)
    assert len(wrong) == 32 and "x" not in d
    np.testing.assert_allclose(d["x_raw"], plain, atol=1e-3)
    drawn = _drawn(snap)
    assert len(drawn) == 32
    for got, want, standardized in zip(drawn, _scaled(plain), _scaled(model_saw)):
        np.testing.assert_allclose(got, want, atol=2e-3)
        assert np.abs(got - standardized).max() > 0.1  # what the figure drew before


def test_a_store_from_before_x_raw_still_draws_its_x(run):
    snap, d = run
    x = load(DataConfig(**DATA)).x_test[d["wrong"]].reshape(-1, 8, 8).astype(np.float16)
    old = _npz(y_true=d["y_true"], y_pred=d["y_pred"], classes=d["classes"], wrong=d["wrong"], x=x)
    arts = [Artifact(a.trial_id, a.name, old if a.name == "predictions.npz" else a.data) for a in snap.artifacts]
    for got, want in zip(_drawn(dataclasses.replace(snap, artifacts=arts)), _scaled(x)):
        np.testing.assert_allclose(got, want, atol=2e-3)
