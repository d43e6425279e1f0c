"""nnstudy.data: registry, built-in and synthetic datasets, and the preparation of splits."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nnstudy import data
from nnstudy.data import _prepare
from nnstudy.errors import DataError, StudyError
from nnstudy.spec._schema import DataConfig


def cfg(name: str, **kw) -> DataConfig:
    return DataConfig(name=name, **kw)


def raw_split(name: str, **kw) -> data.Dataset:
    """The dataset with no validation split and no normalization (the "raw" reference)."""
    return data.load(cfg(name, validation=0.0, normalize="none", **kw))


def error_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


# ---------------------------------------------------------------- registry

def test_names_sorted_and_complete():
    got = data.names()
    assert got == sorted(got)
    assert {"fashion-mnist", "digits", "iris", "moons", "circles", "sine"} <= set(got)


@pytest.mark.parametrize("name", ["fashion-mnist", "digits", "iris", "moons", "circles", "sine"])
def test_info_fields(name):
    i = data.info(name)
    assert i.name == name and i.source and "\n" not in i.source
    assert i.task in ("classification", "regression")
    assert isinstance(i.input_shape, tuple) and all(d > 0 for d in i.input_shape)
    assert i.n_classes == (0 if i.task == "regression" else len(i.classes))
    assert i.fetchable == (name == "fashion-mnist")


def test_info_shapes():
    assert data.info("fashion-mnist").input_shape == (1, 28, 28)
    assert data.info("fashion-mnist").classes[0] == "T-shirt/top"
    assert data.info("fashion-mnist").classes[9] == "Ankle boot"
    assert data.info("digits").input_shape == (8, 8)
    assert data.info("iris").input_shape == (4,)
    assert data.info("sine").task == "regression" and data.info("sine").n_classes == 0


def test_unknown_dataset():
    for call in (data.info, data.locate, data.fetch):
        with pytest.raises(DataError) as exc:
            call("nope")
        assert "nope" in error_line(exc) and "fashion-mnist" in str(exc.value)
    assert issubclass(DataError, StudyError)


def test_schema_uses_the_registry():
    assert DataConfig(name="iris").name == "iris"
    with pytest.raises(ValueError, match="unknown dataset"):
        DataConfig(name="nope")


def test_locate_and_fetch_built_ins():
    assert data.locate("digits") == "scikit-learn built-in"
    assert data.locate("sine") == "generated from the seed"
    assert data.fetch("iris") == "scikit-learn built-in"


def test_import_is_cheap():
    code = ("import sys, nnstudy.errors; before = set(sys.modules); import nnstudy.data; "
            "new = set(sys.modules) - before; "
            "print(sorted(m for m in new if m.split('.')[0] in ('torch', 'sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- loading

@pytest.mark.parametrize("name,n,d,k", [("digits", 1797, 64, 10), ("iris", 150, 4, 3),
                                        ("moons", 1000, 2, 2), ("circles", 1000, 2, 2)])
def test_classification_shapes(name, n, d, k):
    ds = data.load(cfg(name))
    assert ds.task == "classification" and len(ds.classes) == k and ds.n_outputs == k
    assert ds.input_shape == data.info(name).input_shape
    assert len(ds.x_test) == int(np.ceil(0.2 * n))
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == n
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape[1:] == (d,)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert set(np.unique(y)) <= set(range(k))


def test_test_split_is_stratified():
    ds = raw_split("iris")
    assert np.bincount(ds.y_test).tolist() == [10, 10, 10]


def test_validation_zero_gives_empty_arrays():
    ds = raw_split("digits")
    assert ds.x_val.shape == (0, 64) and ds.y_val.shape == (0,) and ds.x_val.dtype == np.float32
    s = raw_split("sine")
    assert s.x_val.shape == (0, 1) and s.y_val.shape == (0, 1) and s.y_val.dtype == np.float32


def test_validation_is_stratified():
    ds = data.load(cfg("digits", validation=0.25, normalize="none"))
    train, val = np.bincount(ds.y_train), np.bincount(ds.y_val)
    expected = len(ds.y_val) * train / train.sum()
    assert np.all(np.abs(val - expected) <= 1.0)
    assert len(ds.y_val) == int(np.ceil(0.25 * (len(ds.y_train) + len(ds.y_val))))


def test_split_is_deterministic_per_seed():
    a = data.load(cfg("digits", validation=0.2))
    b = data.load(cfg("digits", validation=0.2))
    c = data.load(cfg("digits", validation=0.2, split_seed=1))
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert not np.array_equal(a.y_val, c.y_val)


def test_splits_are_disjoint_and_cover_the_data():
    full = raw_split("iris", train_size=1.0)
    ds = data.load(cfg("iris", validation=0.2, normalize="none"))
    rows = lambda x: {tuple(r) for r in x.tolist()}  # noqa: E731
    assert rows(ds.x_train).isdisjoint(rows(ds.x_val))
    assert rows(ds.x_train) | rows(ds.x_val) == rows(full.x_train)
    np.testing.assert_array_equal(ds.x_test, full.x_test)


def test_train_size_fraction():
    full = raw_split("digits")
    ds = raw_split("digits", train_size=0.5)
    assert len(ds.y_train) == len(full.y_train) // 2
    expected = len(ds.y_train) * np.bincount(full.y_train) / len(full.y_train)
    assert np.all(np.abs(np.bincount(ds.y_train) - expected) <= 1.0)
    assert len(ds.y_test) == len(full.y_test)


def test_train_size_count():
    ds = data.load(cfg("digits", validation=0.1, train_size=100))
    assert len(ds.y_train) == 100 and np.all(np.bincount(ds.y_train) >= 9)
    n = len(data.load(cfg("digits", validation=0.1)).y_train)
    assert len(data.load(cfg("digits", validation=0.1, train_size=n)).y_train) == n
    with pytest.raises(DataError) as exc:
        data.load(cfg("digits", validation=0.1, train_size=n + 1))
    assert "train_size" in error_line(exc) and str(n) in str(exc.value)


def test_impossible_stratified_split_is_a_data_error():
    with pytest.raises(DataError) as exc:
        data.load(cfg("iris", train_size=2))
    assert "iris" in error_line(exc)


def test_classes_filter_and_relabel():
    full = raw_split("digits")
    ds = raw_split("digits", classes=[3, 1])
    assert ds.classes == ["3", "1"] and ds.n_outputs == 2
    assert set(ds.y_train.tolist()) == {0, 1}
    for new, old in ((0, 3), (1, 1)):
        want = {tuple(r) for r in full.x_test[full.y_test == old].tolist()}
        assert {tuple(r) for r in ds.x_test[ds.y_test == new].tolist()} == want
    assert len(ds.y_train) == int(np.sum(np.isin(full.y_train, [3, 1])))


@pytest.mark.parametrize("name,classes,match", [("digits", [10], "do not exist"),
                                                ("iris", [1, 1], "repeats"),
                                                ("sine", [0], "regression")])
def test_bad_classes(name, classes, match):
    with pytest.raises(DataError, match=match) as exc:
        data.load(cfg(name, classes=classes))
    error_line(exc)


def test_n_samples_only_for_generated_data():
    with pytest.raises(DataError, match="train_size") as exc:
        data.load(cfg("digits", n_samples=100))
    error_line(exc)


# ---------------------------------------------------------------- normalization

def test_standard_fitted_on_train_only():
    ref = data.load(cfg("digits", validation=0.2, normalize="none"))
    ds = data.load(cfg("digits", validation=0.2, normalize="standard"))
    mean = ref.x_train.astype(np.float64).mean(axis=0)
    std = ref.x_train.astype(np.float64).std(axis=0)
    varying = std > 0
    x = ds.x_train.astype(np.float64)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0)[varying], 1.0, atol=1e-5)
    std[~varying] = 1.0
    for part in ("x_val", "x_test"):
        hand = (getattr(ref, part) - mean) / std
        np.testing.assert_allclose(getattr(ds, part), hand, rtol=1e-5, atol=1e-5)
    assert ds.x_train.dtype == np.float32 and ds.x_val.flags.c_contiguous


def test_minmax_fitted_on_train_only():
    ref = data.load(cfg("iris", validation=0.2, normalize="none"))
    ds = data.load(cfg("iris", validation=0.2, normalize="minmax"))
    lo, hi = ref.x_train.min(axis=0), ref.x_train.max(axis=0)
    np.testing.assert_allclose(ds.x_train.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(ds.x_train.max(axis=0), 1.0, atol=1e-6)
    for part in ("x_val", "x_test"):
        np.testing.assert_allclose(getattr(ds, part), (getattr(ref, part) - lo) / (hi - lo), atol=1e-6)


def test_constant_feature_is_not_divided_by_zero():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], np.float32)
    for how in ("standard", "minmax"):
        xs = [x.copy(), np.array([[2.0, 7.0]], np.float32)]
        _prepare._normalize(xs, how)
        assert np.all(np.isfinite(xs[0])) and np.all(xs[0][:, 1] == 0) and xs[1][0, 1] == 2.0


def test_regression_normalizes_x_only():
    ref = data.load(cfg("sine", normalize="none"))
    ds = data.load(cfg("sine", normalize="standard"))
    np.testing.assert_array_equal(ds.y_train, ref.y_train)
    assert abs(float(ds.x_train.mean())) < 1e-5 and not np.allclose(ds.x_train, ref.x_train)


# ---------------------------------------------------------------- generated data

def test_sine_exact_without_noise():
    ds = raw_split("sine", noise=0.0, n_samples=200)
    assert ds.task == "regression" and ds.classes == [] and ds.n_outputs == 1
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert y.shape == (len(x), 1) and y.dtype == np.float32
        np.testing.assert_allclose(y, -np.sin(0.8 * np.pi * x.astype(np.float64)), atol=1e-6)
    x = np.concatenate([ds.x_train, ds.x_test])
    assert len(x) == 200 and x.min() >= -2.5 and x.max() <= 2.5 and x.min() < -2.3 and x.max() > 2.3


def test_sine_noise_level():
    ds = raw_split("sine", noise=0.1, n_samples=4000)
    resid = ds.y_train - (-np.sin(0.8 * np.pi * ds.x_train.astype(np.float64)))
    assert 0.09 < float(resid.std()) < 0.11 and abs(float(resid.mean())) < 0.01


def test_generated_data_follow_seed_and_size():
    a = raw_split("moons", n_samples=300, noise=0.05)
    b = raw_split("moons", n_samples=300, noise=0.05)
    c = raw_split("moons", n_samples=300, noise=0.05, split_seed=3)
    assert len(a.y_train) + len(a.y_test) == 300
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    circles = raw_split("circles", noise=0.0, n_samples=200)
    radius = np.hypot(*circles.x_train.T)
    np.testing.assert_allclose(radius[circles.y_train == 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(radius[circles.y_train == 1], 0.5, atol=1e-5)
