"""Shared by the tests of the classical engine: tiny studies through nnstudy.run, their figures."""

import io
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from sklearn.metrics import classification_report

import nnstudy

MLBENCH = Path(__file__).resolve().parent / "data" / "mlbench"  # real r-cran-mlbench files (checked by sha256)


def run(tmp_path, name, data, model, train=None, seeds=1, **extra):
    spec = {"study": {"name": name}, "data": data, "model": model,
            "train": {"engine": "classical", **(train or {})}, "trials": {"seeds": seeds}, **extra}
    return nnstudy.run(spec, store=tmp_path / "runs", workers=1)


def figures(study) -> dict[str, tuple[int, int]]:
    """file name -> (height, width) of every PNG of the report; each must hold a real picture."""
    out = {}
    for path in (study.report_dir / "figures").glob("*.png"):
        assert path.stat().st_size > 2000, path
        out[path.name] = mpimg.imread(path).shape[:2]
    return out


@pytest.fixture
def mlbench_cache(tmp_path, monkeypatch):
    """A data cache holding the committed Ionosphere and Pima diabetes .rda files."""
    from nnstudy.data import _mlbench

    cache = tmp_path / "cache"
    shutil.copytree(MLBENCH, cache / "mlbench")
    monkeypatch.setenv("NNSTUDY_DATA", str(cache))
    _mlbench._read.cache_clear()
    yield cache
    _mlbench._read.cache_clear()


def sklearn_rows(y_true, y_pred, classes) -> list[tuple]:
    """classification_report's (class, precision, recall, F1, support), classes then macro and weighted avg."""
    rep = classification_report(y_true, y_pred, labels=range(len(classes)), target_names=classes,
                                output_dict=True, zero_division=0)
    return [(c, rep[c]["precision"], rep[c]["recall"], rep[c]["f1-score"], rep[c]["support"])
            for c in [*classes, "macro avg", "weighted avg"]]


def assert_per_class_table(study) -> None:
    """report.md's per-class table shows classification_report's numbers for the stored test predictions."""
    art = next(a for a in study.snapshot().artifacts if a.name == "predictions.npz")
    with np.load(io.BytesIO(art.data)) as p:
        expected = sklearn_rows(p["y_true"], p["y_pred"], [str(c) for c in p["classes"]])
    md = (study.report_dir / "report.md").read_text()
    table = md.split("### Per-class precision, recall and F1 on the test split")[1].split("\n\n")[1]
    shown = [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]
    assert len(shown) == len(expected)
    for row, theirs in zip(shown, expected):
        assert row[0] == theirs[0] and int(row[4]) == theirs[4]
        assert [float(v) for v in row[1:4]] == [round(v, 4) for v in theirs[1:4]]
