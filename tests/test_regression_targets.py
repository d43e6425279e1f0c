"""data.normalize_target = "standard": networks learn standardized targets, every metric stays in the
targets' own units on both engines (and stacked, tests/test_stack.py), and on El Niño (targets around
25 degrees) it is what lets an MLP learn at all."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnstudy import StudyError, run
from nnstudy.data import load
from nnstudy.engines._torch._mlp import build_model
from nnstudy.engines._torch._tensors import DeviceData, evaluate
from nnstudy.spec import read_study
from nnstudy.spec._schema import DataConfig


def test_the_data_carry_the_training_targets_statistics():
    plain = load(DataConfig(name="surface", n_samples=300))
    scaled = load(DataConfig(name="surface", n_samples=300, normalize_target="standard"))
    np.testing.assert_array_equal(plain.y_test, scaled.y_test)  # the targets themselves are untouched
    assert plain.y_scale is None and plain.scaled_targets(plain.y_train) is plain.y_train
    z = scaled.scaled_targets(scaled.y_train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    np.testing.assert_allclose(scaled.y_shift, scaled.y_train.mean(0), rtol=1e-6)


MODEL = {"kind": "mlp", "hidden": [8], "activation": "tanh", "dropout": 0.0, "norm": "none"}


def units_mse(data, outputs: np.ndarray) -> float:
    """The test MSE of standardized outputs, taken back to the targets' units by hand."""
    pred = outputs.astype(np.float64) * data.y_scale + data.y_shift
    return float(((pred - data.y_test.astype(np.float64)) ** 2).mean())


@pytest.fixture(scope="module")
def surface():
    return load(DataConfig(name="surface", n_samples=300, normalize_target="standard"))


def test_torch_metrics_are_in_the_targets_units(surface):
    dd = DeviceData.from_dataset(surface, torch.device("cpu"), torch.float64)
    torch.manual_seed(0)
    model = build_model(MODEL, 2, 1, (2,)).double()
    got = evaluate(model, dd, "mse")
    with torch.no_grad():
        mse = units_mse(surface, model(torch.as_tensor(surface.x_test, dtype=torch.float64)).numpy())
    assert float(got["test_mse"]) == pytest.approx(mse, rel=1e-9)
    assert float(got["test_rmse"]) == pytest.approx(np.sqrt(mse), rel=1e-9)
    assert float(got["test_loss"]) == float(got["test_mse"])


def test_numpy_metrics_are_in_the_targets_units(surface):
    from nnstudy.engines._numpy._losses import make_loss
    from nnstudy.engines._numpy._network import build_network
    from nnstudy.engines._numpy._train import as_arrays
    from nnstudy.engines._numpy._train import evaluate as numpy_evaluate

    rng = np.random.default_rng(0)
    net = build_network(MODEL, 2, 1, np.float64, rng, rng)
    got = numpy_evaluate(net, make_loss("mse"), as_arrays(surface, np.float64), True, surface.y_scale)
    mse = units_mse(surface, net.forward(np.asarray(surface.x_test, np.float64), train=False))
    assert got["test_mse"] == pytest.approx(mse, rel=1e-9)


def test_an_mlp_learns_el_nino_only_with_standardized_targets(tmp_path):
    pytest.importorskip("statsmodels")
    spec = {"study": {"name": "elnino-mlp"}, "data": {"name": "elnino", "lags": 6},
            "model": {"hidden": [32]}, "train": {"optimizer": "adam", "lr": 0.001, "epochs": 60, "batch_size": 16},
            "sweep": {"data.normalize_target": ["standard", "none"]},
            "report": {"metrics": ["test_mse", "val_mse"]}}
    results = run(spec, store=tmp_path, workers=1).results().set_index("data.normalize_target")
    assert results.loc["standard", "test_mse_mean"] < 0.5  # the SVR of studies/elnino-svr.toml: 0.27
    assert results.loc["standard", "test_mse_mean"] < 0.4 * results.loc["none", "test_mse_mean"]


def test_a_classical_regressor_fits_z_scores_and_predicts_in_units():
    """SVR's epsilon and C act on z-scores then: the same fit as scikit-learn's on hand-scaled targets."""
    pytest.importorskip("statsmodels")
    import io

    from sklearn.svm import SVR

    from nnstudy.engines import get_engine
    from nnstudy.spec import expand

    study = read_study({"study": {"name": "x"}, "data": {"name": "elnino", "lags": 6, "normalize_target": "standard"},
                        "model": {"kind": "svr", "C": 0.4, "epsilon": 0.2}, "train": {"engine": "classical"}})[0]
    data = load(study.data)
    result = get_engine("classical").train(expand(study)[0], data, lambda *_: None, "cpu")
    forecast = np.load(io.BytesIO(result.artifacts["forecast.npz"]))
    z = (data.y_train[:, 0].astype(np.float64) - data.y_shift[0]) / data.y_scale[0]
    theirs = SVR(C=0.4, epsilon=0.2).fit(data.x_train, z).predict(data.x_test) * data.y_scale[0] + data.y_shift[0]
    np.testing.assert_allclose(forecast["pred"][:, 0], theirs, rtol=1e-5)
    mse = float(((theirs - data.y_test[:, 0].astype(np.float64)) ** 2).mean())
    assert result.final["test_mse"] == pytest.approx(mse, rel=1e-6)


@pytest.mark.parametrize("data, model, message", [
    ({"name": "moons"}, {}, "moons is a classification dataset"),
    ({"name": "elnino"}, {"kind": "xgboost"}, "not to 'xgboost'"),
])
def test_it_is_refused_where_it_does_not_apply(data, model, message):
    engine = "classical" if model else "torch"
    with pytest.raises(StudyError, match=f"data.normalize_target: applies .*{message}"):
        read_study({"study": {"name": "x"}, "data": {**data, "normalize_target": "standard"}, "model": model,
                    "train": {"engine": engine}})


def test_sklearn_mlp_learns_z_scores_epoch_by_epoch(tmp_path):
    """partial_fit on z-scores, early stopping's copies of the wrapped model, metrics and forecast in units."""
    pytest.importorskip("statsmodels")
    import io

    spec = {"study": {"name": "skl"}, "data": {"name": "elnino", "lags": 6},
            "model": {"kind": "sklearn_mlp", "hidden": [32], "solver": "adam"},
            "train": {"engine": "classical", "lr": 0.001, "epochs": 40, "batch_size": 16,
                      "early_stopping": {"patience": 5}},
            "sweep": {"data.normalize_target": ["standard", "none"]}, "report": {"metrics": ["test_mse"]}}
    study = run(spec, store=tmp_path, workers=1)
    results = study.results().set_index("data.normalize_target")
    assert results.loc["standard", "test_mse_mean"] < 0.5 * results.loc["none", "test_mse_mean"]
    trials = study.trials().set_index("data.normalize_target")
    snap = study.snapshot()
    art = next(a for a in snap.artifacts if a.name == "forecast.npz" and a.trial_id == trials.loc["standard", "trial_id"])
    f = np.load(io.BytesIO(art.data))
    mse = float(((f["pred"].astype(np.float64) - f["y"].astype(np.float64)) ** 2).mean())
    assert trials.loc["standard", "test_mse"] == pytest.approx(mse, rel=1e-5)  # forecast in degrees, like the metric
