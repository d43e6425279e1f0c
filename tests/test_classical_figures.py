"""The report's per-class table, confusion matrix and regression fit for classical models (issue 19 item 6),
the noise-free target where pca, encodings or features sit between the source and the model, and a DCGAN with
a batch of one refused like any batch norm (issue 19 item 10)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from classical_helpers import sklearn_rows

from nnstudy import kinds
from nnstudy.api import prepare
from nnstudy.data import load
from nnstudy.engines._classical._metrics import targets, with_scaled_targets
from nnstudy.report._per_class import scores
from nnstudy.spec._schema import DataConfig

IRIS = {"name": "iris"}
SINE = {"name": "sine", "n_samples": 120, "normalize": "none"}  # the grid in x itself


def train(model: dict, data: dict, **train_keys):
    """(result, data, trial) of the first trial of a classical study, trained in this process."""
    _, trials, *_ = prepare({"study": {"name": "x"}, "data": data, "model": model,
                             "train": {"engine": "classical", **train_keys}})
    trial = trials[0]
    ds = load(DataConfig.model_validate(trial.config["data"]))
    result = kinds.of(trial.config["model"]).train["classical"](trial, ds, lambda *epoch: None, "cpu")
    assert result.status == "done"
    return result, ds, trial


def arrays(result, name: str) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(result.artifacts[name])) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("model", [{"kind": "random_forest", "n_estimators": 5}, {"kind": "xgboost", "n_estimators": 3},
                                   {"kind": "sklearn_mlp", "hidden": [8]}, {"kind": "ols"}, {"kind": "ard"},
                                   {"kind": "som", "grid": [3, 3], "iterations": 300}],
                         ids=lambda m: m["kind"])
def test_every_classical_classifier_stores_its_test_predictions(model):
    result, ds, _ = train(model, IRIS, **({"epochs": 2} if model["kind"] in ("sklearn_mlp", "som") else {}))
    p = arrays(result, "predictions.npz")
    assert np.array_equal(p["y_true"], ds.y_test) and list(p["classes"]) == ds.classes
    assert np.mean(p["y_pred"] == p["y_true"]) == pytest.approx(result.final["test_accuracy"])  # the same predictions
    assert "wrong" not in p  # a table: labels only, no sample pictures
    rows, accuracy = scores(p["y_true"], p["y_pred"], ds.classes)
    for ours, theirs in zip(rows, sklearn_rows(p["y_true"], p["y_pred"], ds.classes), strict=True):
        assert ours[0] == theirs[0] and ours[4] == theirs[4]
        np.testing.assert_allclose(ours[1:4], theirs[1:4], rtol=0, atol=1e-12)
    assert accuracy == pytest.approx(result.final["test_accuracy"])


def test_a_classifier_on_images_keeps_its_first_mistakes_as_pictures():
    result, ds, _ = train({"kind": "random_forest", "n_estimators": 5}, {"name": "digits", "train_size": 300})
    p = arrays(result, "predictions.npz")
    wrong = np.flatnonzero(p["y_true"] != p["y_pred"])
    assert len(wrong) > 0 and np.array_equal(p["wrong"], wrong[:32])  # misclassified.png draws these
    plain = ds.unnormalized(ds.x_test[wrong[:32]])  # the images before data.normalize
    np.testing.assert_array_equal(p["x_raw"], plain.astype(np.float16).reshape(-1, *ds.input_shape))


def _refit(model: dict, ds, trial):
    """The trial's estimator fitted again the same way (same seed): the oracle of the stored prediction."""
    from nnstudy.engines._classical import _boosting, _supervised

    mc = trial.config["model"]
    if model["kind"] == "xgboost":
        est = _boosting.build(mc, "regression", trial.seed, 0, "cpu")[0]
    else:
        est = getattr(_supervised, model["kind"])(mc, "regression", trial.seed, ds.n_outputs)
    est = with_scaled_targets(est, ds)
    return est.fit(ds.x_train, targets(ds.y_train))


@pytest.mark.parametrize("model, data", [
    ({"kind": "svr", "C": 3.0}, {**SINE, "normalize_target": "standard"}),  # fitted on z-scores
    ({"kind": "ols"}, {**SINE, "encoding": "fourier", "frequencies": [0.4]}),  # the model sees x, sin, cos
    ({"kind": "random_forest", "n_estimators": 5}, SINE),
    ({"kind": "xgboost", "n_estimators": 5}, SINE),
], ids=["svr-standardized", "ols-fourier", "random_forest", "xgboost"])
def test_classical_regressors_store_their_prediction_over_x(model, data):
    result, ds, trial = train(model, data)
    fit = arrays(result, "regression_fit.npz")
    grid = fit["grid"].astype(np.float64)
    assert grid.shape == (200, 1) and np.all(np.diff(grid[:, 0]) > 0)
    plain = ds.plain_inputs()[1]
    assert grid.min() < plain.min() and grid.max() > plain.max()  # over the inputs before the encoding
    expected = _refit(model, ds, trial).predict(ds.encode(fit["grid"]))  # in the targets' units
    np.testing.assert_allclose(fit["prediction"], np.ravel(expected), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fit["target"], -np.sin(0.8 * np.pi * grid[:, 0]), atol=1e-6)  # sine, any encoding
    assert np.array_equal(fit["x"], plain) and np.array_equal(fit["y"], ds.y_test[:, 0])


@pytest.mark.parametrize("data", [
    {"name": "sine", "encoding": "fourier"},  # no 2-D stage: the plane is the 1-D input
    {"name": "sine", "features": [0]},
    {"name": "surface", "pca": 2},  # the model's inputs are the rotated plane
    {"name": "surface", "pca": 1},  # drawn in the 2 inputs the component is taken from
    {"name": "surface", "pca": 1, "encoding": "fourier", "frequencies": [1.0]},
    {"name": "surface", "features": [1, 0], "normalize": "minmax", "encoding": "fourier"},
], ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
def test_the_noise_free_target_is_known_in_the_plane_the_fit_is_drawn_in(data):
    ds = load(DataConfig(n_samples=200, noise=0.0, **data))
    plain = ds.plain_inputs()[1]
    assert plain.shape[1] == (1 if data["name"] == "sine" else 2)  # the source's own inputs, not the model's
    np.testing.assert_allclose(ds.target(plain), ds.y_test[:, 0], atol=1e-5)  # noise 0: the targets themselves


def test_the_target_is_left_out_when_the_inputs_lose_a_column_it_depends_on():
    assert load(DataConfig(name="surface", n_samples=200, features=[1])).target is None


def test_a_dcgan_with_a_batch_of_one_is_a_study_file_error(tmp_path, capsys):
    from nnstudy.cli import main
    from nnstudy.spec import read_study
    from nnstudy.store import Store

    path = tmp_path / "dcgan.toml"
    path.write_text('[study]\nname = "dcgan"\n[data]\nname = "digits"\nnormalize = "minmax"\n'
                    '[model]\nkind = "gan"\narchitecture = "conv"\nchannels = [4]\n'
                    '[train]\noptimizer = "adam"\nbatch_size = 16\nepochs = 1\n')
    Store(tmp_path / "runs").engine.dispose()  # an existing store, with no study yet
    before = {p: p.read_bytes() for p in (tmp_path / "runs").rglob("*") if p.is_file()}
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--set", "train.batch_size=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.batch_size: batch norm needs batches of two or more samples" in err[0]
    assert {p: p.read_bytes() for p in (tmp_path / "runs").rglob("*") if p.is_file()} == before
    read_study(str(path), {"train.batch_size": 1, "model.architecture": "mlp"})  # an MLP GAN has no batch norm


def test_lag_windows_of_one_input_draw_their_fit_and_the_caption_says_which_do_not(tmp_path):
    import nnstudy

    study = nnstudy.run({"study": {"name": "svr-lags"}, "data": {"name": "elnino"}, "model": {"kind": "svr"},
                         "train": {"engine": "classical"}, "sweep": {"data.lags": [1, 3]}}, store=tmp_path, workers=1)
    fits = [a for a in study.snapshot().artifacts if a.name == "regression_fit.npz"]
    assert [t["data.lags"] for _, t in study.trials().iterrows() if t["trial_id"] in {a.trial_id for a in fits}] == [1]
    md = (study.report_dir / "report.md").read_text()
    assert "the trial with the lowest seed of each; not drawn for 1 of 2 configurations (more than two inputs)" in md
    assert (study.report_dir / "figures" / "regression_fit.png").read_bytes()[:4] == b"\x89PNG"


def test_confusion_matrix_and_error_rates_are_sklearns_and_the_caption_says_what_is_true():
    """A perfect classifier (iris with data.split_seed = 4) was captioned 'Most errors: class setosa (0.0% wrong);
    the most frequent confusion is setosa taken for setosa (0 times)', and a class without test samples had a
    100 % error rate."""
    from sklearn.metrics import confusion_matrix, recall_score

    from nnstudy.report._figures_deep import confusion, error_rates, errors_text

    classes = ["a", "b", "c", "d"]  # d: no test sample, never predicted
    y_true = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 1, 2, 2, 2])
    cm = confusion(y_true, y_pred, 4)
    np.testing.assert_array_equal(cm, confusion_matrix(y_true, y_pred, labels=range(4)))
    with np.errstate(invalid="ignore"):
        recall = recall_score(y_true, y_pred, labels=range(4), average=None, zero_division=np.nan)
    np.testing.assert_allclose(error_rates(cm), 1 - recall)  # d: NaN on both sides
    assert errors_text(cm, classes) == ("Most errors: class a (33.3% wrong); the most frequent confusion is a taken "
                                        "for b (1 time).")
    assert errors_text(confusion(y_true, y_true, 4), classes) == "Every test sample is classified correctly."
