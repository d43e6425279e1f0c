"""A user's own data: [data] name = "file" (CSV, Parquet, .npz, an image folder) and loader = "file.py:fn";
datasets of installed packages (entry points nnstudy.datasets)."""

import sys

import numpy as np
import pandas as pd
import pytest

from nnstudy import StudyError, data
from nnstudy.spec import expand, read_study
from nnstudy.spec._schema import DataConfig


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))


def study(tmp_path, data_toml: str, extra: str = "") -> tuple:
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nname = "own"\n[data]\n{data_toml}\n{extra}')
    s, _, _ = read_study(path)
    return s, expand(s, str(path))


def people(n=200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n).astype("U6")
    color[7] = "purple"  # one row: in the training rows for some split seeds, in the test rows for others
    label = np.where(x1 + 0.5 * x2 + (color == "red") > 0.3, "sick", "healthy")
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})


def test_csv_text_labels_and_a_one_hot_input_fitted_on_the_training_rows(tmp_path):
    people().to_csv(tmp_path / "people.csv", index=False)
    s, trials = study(tmp_path, 'name = "file"\npath = "people.csv"\nnormalize = "none"')
    info = data.info(s.data)
    assert info.task == "classification" and info.classes == ("healthy", "sick")
    assert "classification (inferred: text labels)" in info.source and "people.csv" in info.source
    assert len(s.data.sha256) == 64 and trials[0].config["data"]["sha256"] == s.data.sha256
    seen = set()
    for seed in range(8):
        ds = data.load(s.data.model_copy(update={"split_seed": seed}))
        purple_trains = bool(np.isin(np.float32(people().x1[7]), ds.x_train[:, 0]))
        seen.add(purple_trains)
        expected = ("x1", "x2", "color=blue", "color=green") + (("color=purple",) if purple_trains else ()) + (
            "color=red",)
        assert ds.input_names == expected  # categories of the training rows only
        assert ds.x_train.shape[1] == ds.x_test.shape[1] == len(expected)
        assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 200 and len(ds.x_test) == 40
        onehot = ds.x_test[:, 2:]
        assert set(np.unique(onehot)) <= {0.0, 1.0} and (onehot.sum(1) <= 1).all()
    assert seen == {True, False}


def test_parquet_float_target_is_regression_and_inputs_by_name_and_index(tmp_path):
    df = people()
    df["y"] = df.x1 * 2.0
    df.to_parquet(tmp_path / "p.parquet")
    s, _ = study(tmp_path, 'name = "file"\npath = "p.parquet"\ntarget = "y"\ninputs = ["x1", 1]')
    ds = data.load(s.data)
    assert ds.task == "regression" and ds.y_train.shape == (len(ds.x_train), 1)
    assert ds.input_names == ("x1", "x2") and "regression (inferred: float targets)" in data.info(s.data).source


def test_npz_given_test_split_is_used_as_is(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.normal(size=(50, 3)), "y_train": np.arange(50) % 3,
              "x_test": rng.normal(size=(7, 3)), "y_test": np.array([2, 1, 0, 0, 1, 2, 2]),
              "classes": np.array(["a", "b", "c"])}
    np.savez(tmp_path / "d.npz", **arrays)
    s, _ = study(tmp_path, 'name = "file"\npath = "d.npz"\nnormalize = "none"\nvalidation = 0.2')
    ds = data.load(s.data)
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.classes == ["a", "b", "c"] and len(ds.x_train) == 40 and len(ds.x_val) == 10


def test_image_folder_read_once_into_arrays_a_worker_finds_by_sha256(tmp_path):
    from PIL import Image

    for name, rgb in (("blue", (0, 0, 255)), ("red", (255, 0, 0))):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for k in range(6):
            Image.new("RGB", (12, 10), tuple(max(0, c - 10 * k) for c in rgb)).save(tmp_path / "pics" / name / f"{k}.png")
    s, _ = study(tmp_path, 'name = "file"\npath = "pics"\nimage_size = 8\nnormalize = "none"\nvalidation = 0')
    ds = data.load(s.data)
    assert ds.input_shape == (3, 8, 8) and ds.classes == ["blue", "red"]
    img = ds.x_test.reshape(-1, 3, 8, 8)
    red = ds.y_test == 1
    assert np.all(img[red, 0] > 0.7) and np.all(img[red, 2] == 0) and np.all(img[~red, 0] == 0)
    cfg = s.data.model_dump(mode="json")
    assert set(cfg) >= {"sha256", "images_sha256", "image_size"}
    (tmp_path / "pics" / "red" / "0.png").unlink()  # the worker reads the cached arrays, never the folder
    from nnstudy.data import _own

    _own._described.clear()
    again = data.load(DataConfig.model_validate(cfg))
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    gray, _ = study(tmp_path, 'name = "file"\npath = "pics"\nimage_size = [4, 6]\ncolor = "gray"')
    assert data.info(gray.data).input_shape == (1, 4, 6)
    assert gray.data.sha256 != s.data.sha256  # a file was removed: another folder


LOADER = '''
import numpy as np


def load(n, noise=0.0):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 2))
    return {"x_train": x, "y_train": (x[:, 0] + noise > 0).astype(int), "classes": ["left", "right"]}
'''


def test_loader_gets_the_other_keys_and_a_swept_keyword_makes_trials(tmp_path):
    (tmp_path / "my_data.py").write_text(LOADER)
    s, trials = study(tmp_path, 'loader = "my_data.py:load"\nn = 100', '[sweep]\n"data.n" = [100, 300]\n[trials]\nseeds = 2')
    assert len(trials) == 4 and len({t.trial_id for t in trials}) == 4
    cfgs = [t.config["data"] for t in trials[::2]]
    assert [c["n"] for c in cfgs] == [100, 300] and cfgs[0]["name"] == "loader"
    assert cfgs[0]["loader_sha256"] == cfgs[1]["loader_sha256"] and len(cfgs[0]["loader_sha256"]) == 64
    for c, n in zip(cfgs, (100, 300)):
        ds = data.load(DataConfig.model_validate(c))
        assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == n and ds.classes == ["left", "right"]
    (tmp_path / "my_data.py").write_text(LOADER + "\n# edited\n")
    _, edited = study(tmp_path, 'loader = "my_data.py:load"\nn = 100', '[sweep]\n"data.n" = [100, 300]\n[trials]\nseeds = 2')
    assert not {t.trial_id for t in edited} & {t.trial_id for t in trials}


def test_a_changed_file_gives_new_trial_ids_an_unchanged_one_the_same(tmp_path):
    people().to_csv(tmp_path / "people.csv", index=False)
    _, first = study(tmp_path, 'name = "file"\npath = "people.csv"')
    _, same = study(tmp_path, 'name = "file"\npath = "people.csv"')
    people(seed=1).to_csv(tmp_path / "people.csv", index=False)
    _, changed = study(tmp_path, 'name = "file"\npath = "people.csv"')
    assert [t.trial_id for t in first] == [t.trial_id for t in same]
    assert first[0].trial_id != changed[0].trial_id


def test_run_on_a_csv_trains_above_chance(tmp_path):
    from nnstudy import api

    people(400).to_csv(tmp_path / "people.csv", index=False)
    path = tmp_path / "study.toml"
    path.write_text('[study]\nname = "own-csv"\n[data]\nname = "file"\npath = "people.csv"\n'
                    '[model]\nhidden = [16]\n[train]\nepochs = 30\nlr = 0.05\n[trials]\nseeds = 2\n')
    result = api.run(path, store=tmp_path / "runs", workers=1)
    acc = result.trials()["test_accuracy"]
    assert len(acc) == 2 and acc.min() > 0.85  # the majority class is about 0.6


PLUGIN = '''
import numpy as np
from nnstudy.data import DatasetInfo, Entry

ENTRY = Entry(DatasetInfo("stripes", "classification", "a test plugin", (2,), 2, classes=("even", "odd")),
              module="nnstudy_test_plugin")


def raw(name, cfg):
    from nnstudy.data._prepare import carve_test

    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    return carve_test(x, np.arange(50) % 2, cfg.split_seed, stratify=True)
'''


def test_installed_package_registers_a_dataset_by_entry_point(tmp_path, monkeypatch):
    (tmp_path / "nnstudy_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "nnstudy_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nnstudy-test-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nnstudy.datasets]\nstripes = nnstudy_test_plugin:ENTRY\n")
    assert "stripes" not in data.names()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "stripes" in data.names() and "nnstudy_test_plugin" not in sys.modules  # listed, not imported
    ds = data.load(DataConfig(name="stripes", validation=0))
    assert ds.classes == ["even", "odd"] and len(ds.x_train) == 40 and len(ds.x_test) == 10
    assert data.info("stripes").source == "a test plugin"
    monkeypatch.delitem(sys.modules, "nnstudy_test_plugin")


def test_sweeping_the_file_hashes_each_file(tmp_path):
    people().to_csv(tmp_path / "a.csv", index=False)
    people(seed=1).to_csv(tmp_path / "b.csv", index=False)
    _, trials = study(tmp_path, 'name = "file"\npath = "a.csv"', '[sweep]\n"data.path" = ["a.csv", "b.csv"]')
    shas = [t.config["data"]["sha256"] for t in trials]
    from nnstudy._userfiles import sha256_bytes

    assert shas == [sha256_bytes((tmp_path / f).read_bytes()) for f in ("a.csv", "b.csv")]


def test_a_column_of_ones_own_table_is_a_time_series_cut_by_lags(tmp_path):
    """data.lags on name = "file": the target column in row order, windows as elnino's, the latest ones the test
    split; the date column is not read."""
    temp = 10 + 8 * np.sin(np.arange(240) * 2 * np.pi / 12)  # 20 years of monthly values
    pd.DataFrame({"month": [f"{1990 + i // 12}-{i % 12 + 1:02d}" for i in range(240)], "temp": temp,
                  "note": ["x"] * 240}).to_csv(tmp_path / "temps.csv", index=False)
    s, trials = study(tmp_path, 'name = "file"\npath = "temps.csv"\ntarget = "temp"\nlags = 12\nhorizon = 2\n'
                                'validation = 0.1\nnormalize = "none"')
    info = data.info(s.data)
    assert info.task == "regression" and info.input_shape == (12,)
    assert "a series of 240 values (column 'temp', in row order)" in info.source
    ds = data.load(s.data)
    windows = 240 - 12 - 2 + 1
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == windows and len(ds.x_test) == int(np.ceil(0.2 * windows))
    first_test = windows - len(ds.x_test)  # chronological: the test split is the latest windows, in order
    np.testing.assert_allclose(ds.x_test[0], temp[first_test:first_test + 12], rtol=1e-6)
    np.testing.assert_allclose(ds.y_test[:, 0], temp[first_test + 13:first_test + 13 + len(ds.x_test)], rtol=1e-6)
    np.testing.assert_allclose(ds.x_val[-1], temp[first_test - 1:first_test + 11], rtol=1e-6)  # then validation
    assert trials[0].config["data"]["lags"] == 12 and "inputs" not in trials[0].config["data"]
    with pytest.raises(StudyError, match="column 'note' is not a series of numbers"):
        study(tmp_path, 'name = "file"\npath = "temps.csv"\ntarget = "note"\nlags = 12')
    with pytest.raises(StudyError, match="lags: applies only to time series"):
        study(tmp_path, 'name = "iris"\nlags = 12')


@pytest.mark.parametrize("rgb", [False, True])
def test_a_medmnist_npz_is_read_as_it_is_published(tmp_path, rgb):
    """MedMNIST's arrays (train/val/test _images and _labels, labels (n, 1), colour channels last) as they are:
    the validation images join the training ones, the test split is used as is, channels come first."""
    rng = np.random.default_rng(0)
    shape = (28, 28, 3) if rgb else (28, 28)
    arrays = {f"{split}_{kind}": (rng.integers(0, 256, (n, *shape), dtype=np.uint8) if kind == "images"
                                  else rng.integers(0, 3, (n, 1)))
              for split, n in (("train", 60), ("val", 15), ("test", 25)) for kind in ("images", "labels")}
    np.savez(tmp_path / "bloodmnist.npz", **arrays)
    s, _ = study(tmp_path, 'name = "file"\npath = "bloodmnist.npz"\nnormalize = "none"\nvalidation = 0.2')
    info = data.info(s.data)
    assert info.task == "classification" and info.classes == ("0", "1", "2")
    assert info.input_shape == ((3, 28, 28) if rgb else (28, 28))
    assert "75 training samples + 25 test samples (given) (MedMNIST layout: its 15 validation images" in info.source
    ds = data.load(s.data)
    assert len(ds.x_train) + len(ds.x_val) == 75 and len(ds.x_test) == 25
    first = arrays["test_images"][0].transpose(2, 0, 1) if rgb else arrays["test_images"][0]
    np.testing.assert_array_equal(ds.x_test[0], first.ravel().astype(np.float32))  # the pixels, in C, H, W order
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"][:, 0])


def test_a_csv_separated_by_semicolons_is_named_as_such(tmp_path):
    people().to_csv(tmp_path / "people.csv", sep=";", index=False)
    with pytest.raises(StudyError) as e:
        study(tmp_path, 'name = "file"\npath = "people.csv"')
    assert str(e.value).endswith("people.csv: its header is one column 'x1;x2;color;label': the file seems separated "
                                 "by ';', but .csv is read as comma-separated (save it with commas as .csv, or with "
                                 "tabs as .tsv)")
    people().to_csv(tmp_path / "people.tsv", sep=",", index=False)
    with pytest.raises(StudyError, match=r"seems separated by ',', but \.tsv is read as tab-separated"):
        study(tmp_path, 'name = "file"\npath = "people.tsv"')


def test_a_loader_giving_test_inputs_without_test_labels_is_told_both(tmp_path):
    (tmp_path / "half.py").write_text("import numpy as np\n\n\ndef load():\n    x = np.zeros((20, 2))\n"
                                      "    return {'x_train': x, 'y_train': np.arange(20) % 2, 'x_test': x[:4]}\n")
    with pytest.raises(StudyError) as e:
        study(tmp_path, 'loader = "half.py:load"')
    assert str(e.value).endswith("half.py:load() returned a dict with x_test, x_train, y_train; give x_train, "
                                 "y_train and optionally x_test and y_test (both or neither), classes")


def test_a_row_index_saved_by_to_csv_is_no_input(tmp_path):
    """DataFrame.to_csv keeps the index as an unnamed first column: 0 .. n-1 is left out and said; an unnamed
    column of other values, or one named in inputs, stays an input."""
    people().to_csv(tmp_path / "indexed.csv")
    s, _ = study(tmp_path, 'name = "file"\npath = "indexed.csv"\nnormalize = "none"')
    ds = data.load(s.data)
    assert ds.input_names[:2] == ("x1", "x2") and "Unnamed: 0" not in ds.input_names
    assert "(its first column, unnamed and 0 to 199, is a saved row index: left out)" in data.info(s.data).source
    shifted = people().set_axis(range(1, 201))
    shifted.to_csv(tmp_path / "shifted.csv")
    s, _ = study(tmp_path, 'name = "file"\npath = "shifted.csv"\nnormalize = "none"')
    assert data.load(s.data).input_names[0] == "Unnamed: 0"
    s, _ = study(tmp_path, 'name = "file"\npath = "indexed.csv"\ninputs = [0, "x1"]')
    assert data.load(s.data).input_names == ("Unnamed: 0", "x1")


def test_true_false_labels_are_said_to_be_so(tmp_path):
    df = people()
    df["label"] = df.x1 > 0
    df.to_csv(tmp_path / "bools.csv", index=False)
    s, _ = study(tmp_path, 'name = "file"\npath = "bools.csv"')
    info = data.info(s.data)
    assert "classification (inferred: true/false labels)" in info.source and info.classes == ("False", "True")


@pytest.mark.parametrize("layout", ["x", "x_train"])
def test_images_saved_channels_last_are_read_channels_first_and_said_so(tmp_path, layout):
    """(n, H, W, C) images, as Keras and PIL save them, would have been read as H channels of W x C images: they
    are put channels first, and the data line says so. (n, C, H, W) stays as it is."""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)  # 6 x 5 pixels, RGB
    labels = np.arange(40) % 2
    arrays = {"x": images, "y": labels} if layout == "x" else {
        "x_train": images[:30], "y_train": labels[:30], "x_test": images[30:], "y_test": labels[30:]}
    np.savez(tmp_path / "pics.npz", **arrays)
    s, _ = study(tmp_path, 'name = "file"\npath = "pics.npz"\nnormalize = "none"\nvalidation = 0')
    info = data.info(s.data)
    assert info.input_shape == (3, 6, 5)
    assert "(images saved channels last, 6x5x3: read as 3x6x5, channels first)" in info.source
    ds = data.load(s.data)
    if layout == "x_train":
        np.testing.assert_array_equal(ds.x_test[0], images[30].transpose(2, 0, 1).ravel().astype(np.float32))
    np.savez(tmp_path / "first.npz", x=images.transpose(0, 3, 1, 2), y=labels)
    s, _ = study(tmp_path, 'name = "file"\npath = "first.npz"\nnormalize = "none"\nvalidation = 0')
    info = data.info(s.data)
    assert info.input_shape == (3, 6, 5) and "channels last" not in info.source


def test_a_loader_returning_images_channels_last_is_read_channels_first(tmp_path):
    (tmp_path / "pics.py").write_text(
        "import numpy as np\n\n\ndef load():\n"
        "    x = np.arange(20 * 5 * 6 * 3, dtype=np.float32).reshape(20, 5, 6, 3)\n"
        "    return x, np.arange(20) % 2\n")
    s, _ = study(tmp_path, 'loader = "pics.py:load"\nnormalize = "none"\nvalidation = 0')
    info = data.info(s.data)
    assert info.input_shape == (3, 5, 6) and "read as 3x5x6, channels first" in info.source
