"""The moons and circles nnstudy generates without importing scikit-learn are scikit-learn's, bit for bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import datasets

from nnstudy.data import _sklearn

CASES = [(n, noise, seed) for n in (1, 2, 3, 7, 100, 1000, 1001) for noise in (None, 0.0, 0.2, 1.5)
         for seed in (0, 1, 42, 2**31 - 1)]


@pytest.mark.parametrize("n, noise, seed", CASES)
def test_moons_and_circles_equal_scikit_learns(n, noise, seed):
    for ours, theirs in (
            (_sklearn.make_moons(n, noise, seed), datasets.make_moons(n_samples=n, noise=noise, random_state=seed)),
            (_sklearn.make_circles(n, noise, 0.5, seed),
             datasets.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed))):
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_loading_moons_does_not_import_scikit_learn():
    code = ("import sys; from nnstudy.data import load; from nnstudy.spec._schema import DataConfig; "
            "d = load(DataConfig(name='moons', n_samples=300)); print(len(d.x_train) + len(d.x_val) + "
            "len(d.x_test), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["300", "False"]


@pytest.mark.parametrize("name, loader", [("iris", datasets.load_iris), ("digits", datasets.load_digits),
                                          ("wine", datasets.load_wine),
                                          ("breast-cancer", datasets.load_breast_cancer)])
def test_the_bundled_datasets_are_read_as_scikit_learn_reads_them(name, loader, monkeypatch):
    from nnstudy.data import _sklearn_files

    theirs = loader(return_X_y=True)
    for ours in (_sklearn_files.load(name), _fallback(name, monkeypatch)):
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def _fallback(name, monkeypatch):
    """Where scikit-learn's files are not where they were: its own loader."""
    from pathlib import Path

    from nnstudy.data import _sklearn_files

    with monkeypatch.context() as m:
        m.setattr(_sklearn_files, "_data_dir", lambda: Path("/nonexistent"))
        return _sklearn_files.load(name)


@pytest.mark.parametrize("name", ["iris", "digits", "wine", "breast-cancer"])
def test_loading_a_bundled_dataset_does_not_import_scikit_learn(name):
    code = ("import sys; from nnstudy.data import load; from nnstudy.spec._schema import DataConfig; "
            f"d = load(DataConfig(name={name!r})); print(len(d.x_train) > 0, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False"]
