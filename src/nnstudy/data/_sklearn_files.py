"""scikit-learn's bundled datasets (iris, digits, wine, breast cancer) read from its package's data files, as its
``load_*(return_X_y=True)`` reads them, without importing scikit-learn (about a second in every process that loads
them): the same float64 inputs and int targets (tests/test_data_sklearn.py compares them)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

FILES = {"iris": "iris.csv", "digits": "digits.csv.gz", "wine": "wine_data.csv",
         "breast-cancer": "breast_cancer.csv"}


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of the bundled dataset ``name``; scikit-learn's own loader where its files are not found."""
    path = _data_dir() / FILES[name]
    if not path.is_file():
        return _loaded_by_sklearn(name)
    # digits: the gzipped CSV load_digits reads; the others: load_csv_data's, after a header (n, d, names...);
    # each row d values, then the target
    with (gzip.open(path, mode="rt", encoding="utf-8") if name == "digits" else path.open(encoding="utf-8")) as f:
        data = np.loadtxt(f, delimiter=",", skiprows=0 if name == "digits" else 1, ndmin=2)
    return data[:, :-1], data[:, -1].astype(int)


def _data_dir() -> Path:
    spec = importlib.util.find_spec("sklearn")
    return Path(spec.origin).parent / "datasets" / "data" if spec and spec.origin else Path("/nonexistent")


def _loaded_by_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"iris": datasets.load_iris, "digits": datasets.load_digits, "wine": datasets.load_wine,
              "breast-cancer": datasets.load_breast_cancer}[name]
    return loader(return_X_y=True)
