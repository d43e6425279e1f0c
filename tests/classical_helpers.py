"""Shared by the tests of the classical engine: tiny studies through nnstudy.run, their figures."""

import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pytest

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
