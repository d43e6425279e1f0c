"""nnstudy's own train_test_split (data/_split.py) gives scikit-learn's indices and error messages exactly:
every stored study was trained on scikit-learn's splits, and a re-run must train on the very same rows."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.model_selection import train_test_split as sk_split

from nnstudy.data import _split
from nnstudy.data._prepare import _split as prepare_split
from nnstudy.data._prepare import carve_test
from nnstudy.errors import DataError


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """1 to 7 classes with skewed counts (some classes may get a single member, or none)."""
    k = int(rng.integers(1, 8))
    weights = rng.dirichlet(np.full(k, 0.5))
    return rng.choice(k, size=n, p=weights).astype(np.int64)


def _size(rng: np.random.Generator, n: int):
    """A float in (0, 1), an int in [1, n), or now and then one out of range."""
    roll = rng.random()
    if roll < 0.45:
        return float(np.round(rng.uniform(0.01, 0.99), 3))
    if roll < 0.9:
        return int(rng.integers(1, max(n, 2)))
    return [0, n, 1.0, 0.0, -3, 1.5][int(rng.integers(6))]


def _cases(count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 501))
        which = rng.integers(3)  # test_size, train_size, both
        size = {}
        if which != 1:
            size["test_size"] = _size(rng, n)
        if which != 0:
            size["train_size"] = _size(rng, n)
        yield n, size, int(rng.integers(0, 2**31 - 1)), _labels(rng, n), rng.random()


def _both(call_ours, call_sklearn):
    """(ours, sklearn's), or the two ValueErrors' messages."""
    try:
        want = call_sklearn()
    except ValueError as err:
        with pytest.raises(ValueError) as ours:
            call_ours()
        assert str(ours.value) == str(err)
        return None
    return call_ours(), want


def _assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("case_seed", [0, 1, 2])
def test_same_indices_as_sklearn(case_seed):
    kinds = {"stratified": 0, "shuffled": 0, "ordered": 0, "errors": 0}
    for n, size, seed, y, roll in _cases(250, case_seed):
        idx = np.arange(100, 100 + n, dtype=np.int64)  # positions differ from the values
        if roll < 0.45:
            kind, extra = "stratified", {"random_state": seed, "stratify": y}
        elif roll < 0.8:
            kind, extra = "shuffled", {"random_state": seed}
        else:
            kind, extra = "ordered", {"shuffle": False}
        pair = _both(lambda: _split.train_test_split(idx, **size, **extra), lambda: sk_split(idx, **size, **extra))
        if pair is None:
            kinds["errors"] += 1
            continue
        kinds[kind] += 1
        _assert_same(*pair)
    assert min(kinds.values()) >= 15, kinds  # every path and the errors were exercised


def test_error_messages_a_user_can_hit():
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    idx = np.arange(len(y))
    cases = [({"test_size": 0.0}, None), ({"test_size": 1.0}, None), ({"test_size": 10}, None),
             ({"train_size": 0}, None), ({"train_size": 1.5}, None), ({"train_size": -2}, None),
             ({"train_size": True}, None), ({"test_size": "a"}, None),
             ({"train_size": 0.7, "test_size": 0.4}, None), ({"train_size": 6, "test_size": 5}, None),
             ({"train_size": 0.05}, None), ({"test_size": 0.25}, y),  # class 3 has one member
             ({"train_size": 2}, y[:9]), ({"test_size": 2}, y[:9]),  # fewer than 3 classes
             ({"train_size": 0.01, "test_size": 0.5}, None)]
    for size, strat in cases:
        x = idx[:len(strat)] if strat is not None else idx
        with pytest.raises(ValueError) as want:
            sk_split(x, **size, random_state=3, stratify=strat)
        with pytest.raises(ValueError) as got:
            _split.train_test_split(x, **size, random_state=3, stratify=strat)
        assert str(got.value) == str(want.value), size
    with pytest.raises(ValueError) as want:
        sk_split(idx, stratify=y, shuffle=False)
    with pytest.raises(ValueError) as got:
        _split.train_test_split(idx, stratify=y, shuffle=False)
    assert str(got.value) == str(want.value)


def test_prepare_keeps_sklearn_rows_and_one_line_errors():
    rng = np.random.default_rng(5)
    y = rng.choice(4, size=300, p=[0.6, 0.25, 0.1, 0.05])  # skewed classes
    x = rng.normal(size=(300, 3)).astype(np.float32)
    raw = carve_test(x, y, seed=7, stratify=True)
    want = sk_split(x, y, test_size=0.2, stratify=y, random_state=7)
    _assert_same([raw.x_train, raw.x_test, raw.y_train, raw.y_test], want)
    raw = carve_test(x, x[:, :2].copy(), seed=7, stratify=False)
    want = sk_split(x, x[:, :2], test_size=0.2, random_state=7)
    _assert_same([raw.x_train, raw.x_test, raw.y_train, raw.y_test], want)
    idx = np.arange(3, 300)
    keep, held = prepare_split(idx, y, {"train_size": 40}, 11, "what")
    want = sk_split(idx, train_size=40, random_state=11, stratify=y[idx])
    _assert_same([keep, held], want)
    keep, held = prepare_split(idx, None, {"train_size": 40}, 11, "what", ordered=True)
    assert np.array_equal(keep, idx[-40:]) and np.array_equal(held, idx[:-40])
    with pytest.raises(DataError) as exc:
        prepare_split(idx, y, {"train_size": 1}, 11, "iris: cannot keep train_size = 1")
    assert str(exc.value) == ("iris: cannot keep train_size = 1: that keeps 1 sample, fewer than the 4 classes (a "
                              "stratified split puts every class in both parts)")  # the study's words, not sklearn's
    with pytest.raises(DataError) as exc:
        prepare_split(idx, y, {"test_size": 2}, 11, "iris: cannot hold out validation = 2")
    assert str(exc.value) == ("iris: cannot hold out validation = 2: that is 2 samples to validate on, fewer than the "
                              "4 classes (a stratified split puts every class in both parts)")
    with pytest.raises(DataError, match="a stratified split needs two samples of every class, and these classes have "
                                        r"one: \[3\]"):
        prepare_split(np.arange(5), np.array([0, 0, 1, 1, 3]), {"test_size": 0.4}, 11, "x")


def test_the_split_does_not_import_sklearn():
    code = ("import sys, numpy as np; from nnstudy.data._prepare import _split, carve_test; "
            "carve_test(np.zeros((20, 2)), np.arange(20) % 2, 0, True); _split(np.arange(20), None, "
            "{'test_size': 0.1}, 0, 'x'); assert not [m for m in sys.modules if m.startswith('sklearn')]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_too_many_folds_are_said_in_the_studys_words():
    """More folds than the smallest class has training samples (stratified), or than there are samples."""
    from nnstudy.data._prepare import fold_split

    y = np.array([0] * 10 + [1] * 4)
    with pytest.raises(DataError) as exc:
        fold_split(np.arange(14), y, 5, 0, 0, "iris")
    assert str(exc.value) == ("iris: cannot make folds = 5: a stratified fold holds every class, and the smallest "
                              "class has 4 training samples (use folds = 4 or fewer)")
    with pytest.raises(DataError, match=r"^sine: cannot make folds = 5: there are 4 training samples \(use folds = 4"):
        fold_split(np.arange(4), None, 5, 0, 0, "sine")
    keep, held = fold_split(np.arange(14), y, 4, 3, 0, "iris")  # as many folds as the smallest class: fine
    assert len(keep) + len(held) == 14 and set(y[held]) == {0, 1}
