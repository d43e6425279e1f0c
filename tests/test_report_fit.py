"""A regression on one or two inputs draws each configuration's prediction over them (issue 19 item 6)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import nnstudy
from nnstudy.data._dataset import Dataset
from nnstudy.engines._common import fit_artifact, fit_grid


def _data(d: int, scaled: bool = False) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (50, d)).astype(np.float32)
    y = x.sum(1, keepdims=True).astype(np.float32)
    return Dataset("t", "regression", x[:30], y[:30], x[30:40], y[30:40], x[40:], y[40:], (d,),
                   y_shift=np.array([2.0]) if scaled else None, y_scale=np.array([3.0]) if scaled else None)


def test_the_grid_spans_the_inputs_and_the_prediction_is_in_the_targets_units():
    one, two = fit_grid(_data(1)), fit_grid(_data(2))
    assert one.shape == (200, 1) and two.shape == (3600, 2)
    x = np.concatenate([_data(1).x_train, _data(1).x_test])
    pad = 0.1 * (x.max() - x.min())
    assert np.isclose(one.min(), x.min() - pad) and np.isclose(one.max(), x.max() + pad)
    assert fit_grid(_data(3)) is None
    z = np.load(io.BytesIO(fit_artifact(one, np.ones((200, 1)), _data(1, scaled=True))["regression_fit.npz"]))
    assert np.allclose(z["prediction"], 1.0 * 3.0 + 2.0)  # standardized targets back to their units
    assert np.array_equal(z["x"], _data(1).x_test) and np.array_equal(z["y"], _data(1).y_test[:, 0])


def test_a_sine_study_draws_each_labelled_configuration_over_x(tmp_path):
    study = {"study": {"name": "fit"}, "data": {"name": "sine", "n_samples": 120},
             "model": {"hidden": [8]}, "train": {"epochs": 2, "batch_size": 32},
             "sweep": [{"label": "Narrow"}, {"label": "Wide", "model.hidden": [[32]]}]}
    run = nnstudy.run(study, store=tmp_path, workers=1)
    snap = run.snapshot()
    fits = {a.trial_id: np.load(io.BytesIO(a.data)) for a in snap.artifacts if a.name == "regression_fit.npz"}
    assert len(fits) == 2
    for z in fits.values():
        assert z["grid"].shape == (200, 1) and np.isfinite(z["prediction"]).all()
        assert np.all(np.diff(z["grid"][:, 0]) > 0)
    assert not np.allclose(*[z["prediction"] for z in fits.values()])  # two models, two curves
    mse = snap.trials.set_index("trial_id")["test_mse"]
    for tid, z in fits.items():  # the line is the model's prediction in the targets' units: its test MSE
        assert np.mean((z["y"] - np.interp(z["x"][:, 0], z["grid"][:, 0], z["prediction"])) ** 2) == \
            pytest.approx(mse[tid], rel=0.02)
    z = next(iter(fits.values()))  # the source's noise-free target, on the standardized inputs' grid
    residual = z["y"] - np.interp(z["x"][:, 0], z["grid"][:, 0], z["target"])
    assert 0.05 < residual.std() < 0.15 and abs(residual.mean()) < 0.05  # what is left is the noise (sd 0.1)
    assert np.ptp(z["target"]) > 1.9  # -sin(0.8 pi x) over x in [-2.5, 2.5]: it spans [-1, 1]
    md = (tmp_path / "fit" / "report.md").read_text()
    assert "![Regression fit: the test data (grey), the noise-free target function (black, dashed) and each " \
           "configuration's prediction over x" in md
    assert (tmp_path / "fit" / "figures" / "regression_fit.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("normalize_target", ["none", "standard"])
def test_a_classical_regressor_stores_its_line_in_the_targets_units(normalize_target):
    """OLS on one input (the classical engine): the stored line is scikit-learn's least-squares line over the grid,
    also when it learned z-scores (a line is the same line in either units)."""
    from sklearn.linear_model import LinearRegression

    from nnstudy.data import load
    from nnstudy.engines import get_engine
    from nnstudy.spec import expand, read_study

    study = read_study({"study": {"name": "ols"}, "data": {"name": "sine", "n_samples": 120,
                                                          "normalize_target": normalize_target},
                        "model": {"kind": "ols"}, "train": {"engine": "classical"}})[0]
    data = load(study.data)
    result = get_engine("classical").train(expand(study)[0], data, lambda *_: None, "cpu")
    z = np.load(io.BytesIO(result.artifacts["regression_fit.npz"]))
    assert (data.y_scale is not None) == (normalize_target == "standard")
    line = LinearRegression().fit(data.x_train, data.y_train[:, 0].astype(np.float64))  # y_train: in its units
    assert z["grid"].shape == (200, 1)
    np.testing.assert_allclose(z["prediction"], line.predict(z["grid"]), rtol=1e-4, atol=1e-5)
    assert abs(line.coef_[0]) > 0.1 and np.ptp(z["prediction"]) > 0.3  # a sloped line, not a constant


def test_two_inputs_draw_a_panel_per_configuration(tmp_path):
    """A surface (two inputs), fitted by OLS and ARD (classical: no training loop): the target's panel, then one
    contour per configuration, named in the caption."""
    study = {"study": {"name": "fit2"}, "data": {"name": "surface", "n_samples": 200},
             "model": {"kind": "ols"}, "train": {"engine": "classical"},
             "sweep": [{"label": "OLS", "model.kind": ["ols"]}, {"label": "ARD", "model.kind": ["ard"]}]}
    run = nnstudy.run(study, store=tmp_path, workers=1)
    fits = [np.load(io.BytesIO(a.data)) for a in run.snapshot().artifacts if a.name == "regression_fit.npz"]
    assert len(fits) == 2 and all(z["grid"].shape == (3600, 2) for z in fits)
    md = (tmp_path / "fit2" / "report.md").read_text()
    assert "figures/regression_fit.png" in md and "a filled contour of the prediction over the two inputs" in md
    assert (tmp_path / "fit2" / "figures" / "regression_fit.png").read_bytes()[:4] == b"\x89PNG"
