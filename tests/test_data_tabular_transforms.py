"""Time-series windows with a chronological split, input transforms (features, pca, fourier), their
study keys, and decision boundaries drawn through the transform."""

from __future__ import annotations

import io

import numpy as np
import pytest

from nnstudy import data
from nnstudy.data import _elnino, _series
from nnstudy.data._transforms import Fourier
from nnstudy.errors import DataError, StudyError
from nnstudy.spec._schema import DataConfig


def load(name: str, **kw) -> data.Dataset:
    return data.load(DataConfig(name=name, **kw))


# ---------------------------------------------------------------- windows

def test_windows_exact_values():
    s = np.arange(10, dtype=np.float64) * 10  # 0, 10, ..., 90
    x, y = _series.windows(s, lags=3, horizon=2)
    assert x.shape == (6, 3) and y.shape == (6, 1)
    np.testing.assert_array_equal(x[0], [0, 10, 20])
    np.testing.assert_array_equal(y[:, 0], [40, 50, 60, 70, 80, 90])  # 2 steps after the last input
    np.testing.assert_array_equal(x[-1], [50, 60, 70])
    with pytest.raises(DataError, match="no window of lags = 9 and horizon = 2"):
        _series.windows(s, lags=9, horizon=2)


@pytest.fixture
def ramp(monkeypatch):
    """elnino replaced by the months 0, 1, 2, ... so that every value tells its time."""
    monkeypatch.setattr(_elnino, "series", lambda path: np.arange(100, dtype=np.float64))
    monkeypatch.setattr(_elnino, "fetch", lambda name, progress=None: "ramp")


def test_chronological_split_has_no_leakage(ramp):
    ds = load("elnino", lags=4, horizon=3, validation=0.2, normalize="none")
    assert ds.input_shape == (4,) and ds.task == "regression"
    n = 100 - 4 - 3 + 1
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == n
    assert len(ds.x_test) == int(np.ceil(0.2 * n))
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        np.testing.assert_array_equal(x, x[:, :1] + np.arange(4))  # consecutive months
        np.testing.assert_array_equal(y[:, 0], x[:, -1] + 3)
        assert np.all(np.diff(y[:, 0]) == 1)  # in time order, nothing shuffled or skipped
    # every training target comes before every validation target, which comes before every test target
    assert ds.y_train.max() < ds.y_val.min() and ds.y_val.max() < ds.y_test.min()
    assert ds.y_val.min() == ds.y_train.max() + 1 and ds.y_test.min() == ds.y_val.max() + 1


def test_series_normalization_fitted_on_train_only(ramp):
    plain = load("elnino", lags=2, validation=0.1, normalize="none")
    ds = load("elnino", lags=2, validation=0.1, normalize="standard")
    mean, std = plain.x_train.mean(0), plain.x_train.std(0)
    np.testing.assert_allclose(ds.x_test, (plain.x_test - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(ds.x_train.mean(0), 0, atol=1e-5)
    assert ds.x_test.mean() > 1.5  # the latest months lie far above the training mean


def test_series_train_size_keeps_the_latest_windows(ramp):
    full = load("elnino", lags=2, validation=0.0, normalize="none")
    few = load("elnino", lags=2, validation=0.0, normalize="none", train_size=10)
    np.testing.assert_array_equal(few.y_train, full.y_train[-10:])
    np.testing.assert_array_equal(few.y_test, full.y_test)


def test_real_elnino_series():
    if _elnino.locate("elnino") is None:
        pytest.skip("statsmodels is not installed")
    series = _elnino.series(_elnino.locate("elnino"))
    assert series.shape == (732,) and series[0] == pytest.approx(23.11) and series[12] == pytest.approx(24.19)
    ds = load("elnino", validation=0.0, normalize="none")
    np.testing.assert_allclose(ds.x_train[0], series[:12])
    assert ds.y_train[0, 0] == pytest.approx(series[12])


# ---------------------------------------------------------------- transforms

def test_features_keep_the_chosen_columns():
    full = load("wine", validation=0.0)
    few = load("wine", validation=0.0, features=[0, 5, 6])
    assert few.input_shape == (3,)
    np.testing.assert_array_equal(few.x_train, full.x_train[:, [0, 5, 6]])
    np.testing.assert_array_equal(few.x_test, full.x_test[:, [0, 5, 6]])


def test_pca_equals_scikit_learn_fitted_on_train():
    from sklearn.decomposition import PCA

    plain = load("wine", validation=0.2)
    ref = PCA(n_components=3, svd_solver="full").fit(plain.x_train.astype(np.float64))
    ds = load("wine", validation=0.2, pca=3)
    assert ds.input_shape == (3,) and ds.x_train.dtype == np.float32
    for mine, theirs in ((ds.x_train, plain.x_train), (ds.x_val, plain.x_val), (ds.x_test, plain.x_test)):
        np.testing.assert_allclose(mine, ref.transform(theirs.astype(np.float64)), atol=1e-5)
    kept = load("wine", validation=0.2, pca=0.9)
    frac = PCA(n_components=0.9, svd_solver="full").fit(plain.x_train.astype(np.float64))
    assert kept.input_shape == (frac.n_components_,) and 1 < frac.n_components_ < 13
    np.testing.assert_allclose(kept.x_test, frac.transform(plain.x_test.astype(np.float64)), atol=1e-5)


def test_fourier_features_exact_values():
    t = Fourier((1.0, 0.25))
    x = np.array([[0.0, 0.5], [1.0, 0.25]])
    got = t(x)
    tau = 2 * np.pi
    want = [[0, 0.5, 0, np.sin(tau * 0.5), 1, np.cos(tau * 0.5),
             0, np.sin(tau * 0.125), 1, np.cos(tau * 0.125)],
            [1, 0.25, np.sin(tau), np.sin(tau * 0.25), np.cos(tau), np.cos(tau * 0.25),
             np.sin(tau * 0.25), np.sin(tau * 0.0625), np.cos(tau * 0.25), np.cos(tau * 0.0625)]]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got.dtype == np.float64 and t(x.astype(np.float32)).dtype == np.float32


def test_fourier_on_a_dataset_keeps_the_plain_inputs():
    plain = load("moons", n_samples=200)
    ds = load("moons", n_samples=200, encoding="fourier", frequencies=[1.0, 3.0])
    assert ds.input_shape == (10,) and ds.x_train.shape == (len(plain.x_train), 10)
    np.testing.assert_allclose(ds.x_train[:, :2], plain.x_train, atol=1e-6)
    np.testing.assert_allclose(ds.x_train[:, 2:4], np.sin(2 * np.pi * plain.x_train), atol=1e-5)
    np.testing.assert_allclose(ds.x_test[:, 8:10], np.cos(6 * np.pi * plain.x_test), atol=1e-5)
    np.testing.assert_array_equal(ds.plain_inputs()[1], plain.x_test)
    np.testing.assert_allclose(ds.encode(plain.x_test), ds.x_test)


def test_pca_then_fourier():
    ds = load("wine", pca=2, encoding="fourier", frequencies=[1.0])
    pca = load("wine", pca=2)
    assert ds.input_shape == (6,)
    np.testing.assert_allclose(ds.x_train[:, :2], pca.x_train, atol=1e-6)
    np.testing.assert_allclose(ds.x_train[:, 2:4], np.sin(2 * np.pi * pca.x_train), atol=1e-5)


# ---------------------------------------------------------------- study keys

@pytest.mark.parametrize("kw, message", [
    ({"name": "iris", "lags": 3}, "applies only to time series (elnino, or a column of your own table"),
    ({"name": "iris", "countries": ["FR", "DE"]}, "applies only to the countries dataset"),
    ({"name": "countries", "countries": ["FR"]}, "at least 2 distinct country codes"),
    ({"name": "countries", "countries": ["fr", "DE"]}, "should match pattern"),
    ({"name": "iris", "pca": 5}, "pca = 5 is more than the 4 inputs of iris"),
    ({"name": "wine", "features": [0, 2], "pca": 3}, "pca = 3 is more than the 2 inputs of wine"),
    ({"name": "iris", "features": [1, 4]}, "features [4] do not exist: iris has inputs 0..3"),
    ({"name": "iris", "features": [1, 1]}, "features repeat a column"),
    ({"name": "elnino", "lags": 6, "features": [6]}, "features [6] do not exist"),
    ({"name": "moons", "dim": 3}, "applies only to the interval-sum and gaussian datasets"),
    ({"name": "interval-sum", "dim": 21}, "dim <= 20"),
    ({"name": "iris", "pca": 1.5}, "pca"),
    ({"name": "iris", "encoding": "wavelet"}, "encoding"),
])
def test_bad_keys(kw, message):
    from nnstudy.spec import read_study

    with pytest.raises(StudyError) as exc:
        read_study({"study": {"name": "bad"}, "data": kw})
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_unset_keys_leave_trial_configs_as_they_were():
    dumped = DataConfig(name="iris").model_dump(mode="json")
    assert set(dumped) - {"augment"} == {"name", "validation", "train_size", "normalize", "classes",
                                         "split_seed", "n_samples", "noise"}  # augment: another part's key
    fourier = DataConfig(name="moons", encoding="fourier", frequencies=[2.0]).model_dump(mode="json")
    assert fourier["encoding"] == "fourier" and fourier["frequencies"] == [2.0]
    none = DataConfig(name="moons", encoding="none", frequencies=[2.0]).model_dump(mode="json")
    assert none["encoding"] == "none" and "frequencies" not in none  # used only by the fourier encoding
    assert DataConfig(name="gaussian", dim=50).dim == 50 and DataConfig(name="wine", pca=0.95).pca == 0.95


def test_sweep_over_keys_the_file_leaves_unset(tmp_path):
    from nnstudy.spec import expand, read_study

    path = tmp_path / "s.toml"
    path.write_text('[study]\nname = "s"\n[data]\nname = "elnino"\n'
                    '[sweep]\n"data.lags" = [3, 6]\n"data.encoding" = ["none", "fourier"]\n')
    trials = expand(read_study(path)[0])
    assert [t.point for t in trials] == [{"data.lags": 3, "data.encoding": "none"},
                                        {"data.lags": 3, "data.encoding": "fourier"},
                                        {"data.lags": 6, "data.encoding": "none"},
                                        {"data.lags": 6, "data.encoding": "fourier"}]
    assert trials[0].config["data"]["lags"] == 3


# ---------------------------------------------------------------- decision boundary through the transform

@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_boundary_grid_goes_through_the_transform(engine):
    from nnstudy.engines import ENGINES
    from nnstudy.spec._expand import Trial

    cfg = DataConfig(name="moons", n_samples=200, encoding="fourier", frequencies=[0.5])
    ds = data.load(cfg)
    config = {"data": cfg.model_dump(mode="json"),
              "model": {"kind": "mlp", "hidden": [8], "activation": "tanh", "dropout": 0.0, "norm": "none"},
              "train": _train_section(engine)}
    result = ENGINES[engine].train(Trial("t", 0, config, {}), ds, lambda *epoch: None, "cpu")
    with np.load(io.BytesIO(result.artifacts["decision_boundary.npz"])) as npz:
        assert npz["x"].shape == (len(ds.x_test), 2)  # the test points in the plain plane
        np.testing.assert_array_equal(npz["x"], ds.plain_inputs()[1])
        xx, zz = npz["xx"], npz["zz"]
    assert xx.shape == zz.shape and set(np.unique(zz)) <= {0, 1}


def _train_section(engine: str) -> dict:
    from nnstudy.spec._schema import TrainConfig

    return TrainConfig(engine=engine, optimizer="adam", lr=0.01, epochs=2, batch_size=32).model_dump(mode="json")


def test_boundary_plane_is_the_last_2d_stage():
    from nnstudy.engines._common import boundary_grid

    three = load("wine", pca=3)  # no 2-D stage: no boundary
    assert three.transform is None and boundary_grid(three) is None
    two = load("wine", pca=2)  # the model's inputs are the plane
    assert two.transform is None and two.plain_inputs()[1] is two.x_test and boundary_grid(two) is not None
    waves = load("wine", pca=2, encoding="fourier", frequencies=[1.0])  # the plane: the 2 components
    np.testing.assert_allclose(waves.plain_inputs()[1], two.x_test, atol=1e-6)
    np.testing.assert_allclose(waves.encode(waves.plain_inputs()[1]), waves.x_test)
    xx, _, points = boundary_grid(waves)
    assert points.shape == (xx.size, 2) and waves.encode(points).shape == (xx.size, 6)
    pair = load("wine", features=[0, 1], pca=1, encoding="fourier")  # the plane: the 2 chosen columns
    assert pair.plain_inputs()[0].shape == (len(pair.x_train), 2) and pair.x_train.shape[1] == 7
    np.testing.assert_allclose(pair.encode(pair.plain_inputs()[1]), pair.x_test)
