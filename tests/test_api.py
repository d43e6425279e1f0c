"""The Python API as the issue writes it: run (file + set, dict), results, trials, history, report, load, compare."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

import nnstudy
from nnstudy.cli import main

TINY = {
    "study": {"name": "tiny", "description": "two learning rates on moons"},
    "data": {"name": "moons", "n_samples": 200},
    "model": {"hidden": [8]},
    "train": {"epochs": 3, "batch_size": 32},
    "sweep": {"train.lr": [0.3, 0.01]},
    "trials": {"seeds": 3},
}
TOML = """
[study]
name = "tiny-file"
[data]
name = "moons"
n_samples = 200
[model]
hidden = [4]
[train]
epochs = 5
batch_size = 50
[trials]
seeds = 2
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("api") / "runs"


@pytest.fixture(scope="module")
def tiny(store):
    return nnstudy.run(TINY, store=store, workers=1)


def test_run_from_a_dict_gives_the_csv_tables(tiny, store):
    results = tiny.results()
    on_disk = pd.read_csv(store / "tiny" / "results.csv")
    assert list(results.columns) == list(on_disk.columns)
    assert sorted(results["train.lr"]) == [0.01, 0.3]
    assert results["n"].tolist() == [3, 3]
    trials = tiny.trials()
    assert list(trials.columns) == list(pd.read_csv(store / "tiny" / "trials.csv").columns)
    assert len(trials) == 6 and set(trials["status"]) == {"done"}
    # the table's mean is the mean of the trials' values
    for lr, group in trials.groupby("train.lr"):
        row = results[results["train.lr"] == lr].iloc[0]
        assert row["test_accuracy_mean"] == pytest.approx(group["test_accuracy"].mean())


def test_history_is_long_format_one_row_per_trial_epoch_metric(tiny):
    hist = tiny.history()
    assert list(hist.columns) == ["trial_id", "epoch", "metric", "value"]
    assert set(hist["trial_id"]) == set(tiny.trials()["trial_id"])
    loss = hist[hist["metric"] == "train_loss"]
    assert sorted(loss.groupby("trial_id")["epoch"].apply(sorted).iloc[0]) == [1, 2, 3]
    assert not hist.duplicated(["trial_id", "epoch", "metric"]).any()
    assert pd.api.types.is_float_dtype(hist["value"])


def test_report_writes_the_files_and_returns_their_paths(tiny, tmp_path):
    paths = tiny.report(tmp_path / "out")
    names = {p.name for p in paths}
    assert {"results.csv", "trials.csv", "report.md", "results.tex", "report.html"} <= names
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert any(p.parent.name == "figures" and p.suffix == ".png" for p in paths)
    assert tiny.report_dir.name == "tiny" and (tiny.report_dir / "report.html").exists()


def test_run_a_file_with_set_overrides(tmp_path, store):
    path = tmp_path / "tiny-file.toml"
    path.write_text(TOML)
    study = nnstudy.run(path, store=store, set={"train.epochs": 2}, workers=1)
    assert study.name == "tiny-file@epochs=2"  # a variant of the study tiny-file
    assert study.history()["epoch"].max() == 2
    assert study.trials()["epochs_run"].tolist() == [2, 2]


def test_load_reads_the_store_without_training(tiny, store):
    again = nnstudy.load("tiny", store=store)
    pd.testing.assert_frame_equal(again.results(), tiny.results())
    assert len(again.history()) == len(tiny.history())


BASE = '[study]\nname = "x"\n[data]\nname = "moons"\n'


@pytest.mark.parametrize("text, words", [
    (BASE + "[train]\nlr = 0\n", "train.lr"),
    (BASE + '[model]\nactivation = "swish"\n', "model.activation"),
    ('[study]\nname = "x"\n', "missing section [data]"),
    (BASE + "[sweep]\n'train.nope' = [1, 2]\n", "train.nope"),
])
def test_errors_are_the_cli_one_line_message(text, words, tmp_path, store, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(nnstudy.StudyError) as err:
        nnstudy.run(path, store=store)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert main(["run", str(path), "--store", str(store)]) == 2
    assert capsys.readouterr().err.strip() == f"nnstudy: error: {err.value}"


def test_a_dict_is_validated_like_a_file(store):
    with pytest.raises(nnstudy.StudyError, match=r"^<dict>: train.lr: "):
        nnstudy.run({"study": {"name": "x"}, "data": {"name": "moons"}, "train": {"lr": 0}}, store=store)
    with pytest.raises(nnstudy.StudyError, match="no study named"):
        nnstudy.load("absent", store=store)


@pytest.mark.parametrize("source", [42, None, ["studies/moons-depth.toml"]])
def test_a_study_that_is_neither_a_path_nor_a_dict_is_one_line(source, tmp_path):
    with pytest.raises(nnstudy.StudyError, match="a study is a study file's path or a dict of its sections, not "):
        nnstudy.run(source, store=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_dict_holding_what_no_study_file_can_hold_is_one_line(tmp_path):
    study = {"study": {"name": "x"}, "data": {"name": "moons"}, "sweep": {"train.lr": (lr for lr in [0.1])}}
    with pytest.raises(nnstudy.StudyError, match=r"^<dict>: a study holds numbers, strings, booleans, lists and "
                                                 r"dicts \(cannot pickle 'generator' object\)$"):
        nnstudy.run(study, store=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_compare_two_configurations_of_a_study(tiny, store):
    c = nnstudy.compare(tiny, where=({"train.lr": 0.3}, {"train.lr": 0.01}), metric="test_accuracy", store=store)
    row = c.table.iloc[0]
    trials = tiny.trials()
    a = trials.loc[trials["train.lr"] == 0.3, "test_accuracy"]
    b = trials.loc[trials["train.lr"] == 0.01, "test_accuracy"]
    assert row["metric"] == "test_accuracy" and len(c.table) == 1
    assert row["diff"] == pytest.approx(b.mean() - a.mean())
    if a.std() > 0 or b.std() > 0:
        assert row["p_welch"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    with pytest.raises(nnstudy.StudyError, match="compare tiny with itself: give --where twice"):
        nnstudy.compare("tiny", store=store)
