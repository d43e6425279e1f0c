"""End to end through the CLI: numbers in results.csv, re-runs, failures, divergence, workers."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import run_cli, write_study
from nnstudy.cli import main
from nnstudy.store._schema import SCHEMA_VERSION

SMALL = {"study": {"name": "small", "description": "two learning rates on moons"},
         "data": {"name": "moons", "n_samples": 300}, "model": {"hidden": [8]},
         "train": {"epochs": 4, "batch_size": 32}, "sweep": {"train.lr": [0.1, 0.01]}, "trials": {"seeds": 3},
         "report": {"metrics": ["test_accuracy", "val_loss"]}}


@pytest.fixture
def small(tmp_path):
    return write_study(tmp_path, SMALL)


def db_rows(store, sql):
    con = sqlite3.connect(store / "nnstudy.sqlite")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_results_csv_equals_hand_computation_from_trials_csv(small, tmp_path):
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1") == 0
    out = store / "small"
    for name in ("results.csv", "trials.csv", "report.md", "results.tex", "report.html"):
        assert (out / name).stat().st_size > 0
    trials = pd.read_csv(out / "trials.csv")
    results = pd.read_csv(out / "results.csv")
    assert list(trials.columns[:4]) == ["trial_id", "seed", "status", "train.lr"]
    assert len(trials) == 6 and set(trials.status) == {"done"}
    assert list(results["train.lr"]) == [0.1, 0.01]
    for _, row in results.iterrows():
        values = trials.loc[trials["train.lr"] == row["train.lr"], "test_accuracy"].to_numpy()
        n = len(values)
        mean, std = values.mean(), values.std(ddof=1)
        sem = std / np.sqrt(n)
        low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=sem)
        assert row["n"] == n == 3
        assert row["test_accuracy_mean"] == pytest.approx(mean, rel=1e-12)
        assert row["test_accuracy_std"] == pytest.approx(std, rel=1e-12)
        assert row["test_accuracy_sem"] == pytest.approx(stats.sem(values), rel=1e-12)
        assert row["test_accuracy_ci95_low"] == pytest.approx(low, rel=1e-12)
        assert row["test_accuracy_ci95_high"] == pytest.approx(high, rel=1e-12)
    best = results["test_accuracy_mean"].idxmax()
    assert results.loc[best, "rank"] == 1
    # the per-epoch history is in the store, with gradient norms per layer
    metrics = {m for (m,) in db_rows(store, "select distinct metric from epochs")}
    assert {"train_loss", "val_accuracy", "test_accuracy", "grad_norm/hidden1", "grad_norm/output"} <= metrics
    assert db_rows(store, "select max(epoch) from epochs") == [(4,)]


def test_rerun_skips_done_trials(small, tmp_path, capsys):
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1") == 0
    before = db_rows(store, "select trial_id, finished_at, final_json from trials order by trial_id")
    capsys.readouterr()
    assert run_cli(small, "--store", store, "--workers", "1") == 0
    assert "ran 0, skipped 6" in capsys.readouterr().err
    assert db_rows(store, "select trial_id, finished_at, final_json from trials order by trial_id") == before


def test_pool_gives_the_same_numbers_as_inline(small, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    from nnstudy.report._conditions import COLUMNS  # how each trial ran: threads, executor, ...

    assert run_cli(small, "--store", a, "--workers", "1", "--threads", "1") == 0
    assert run_cli(small, "--store", b, "--workers", "2", "--threads", "1") == 0
    ta = pd.read_csv(a / "small" / "trials.csv").drop(columns=["train_time_s", *COLUMNS])
    tb = pd.read_csv(b / "small" / "trials.csv").drop(columns=["train_time_s", *COLUMNS])
    pd.testing.assert_frame_equal(ta, tb)


def test_set_overrides_and_new_trials(small, tmp_path):
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1", "--set", "train.epochs=2",
                   "--set", "trials.seeds=1") == 0
    trials = pd.read_csv(store / "small@epochs=2,seeds=1" / "trials.csv")  # a variant, beside the study
    assert len(trials) == 2 and set(trials.epochs_run) == {2}
    assert not (store / "small").exists()


def test_diverged_trial_is_recorded_and_the_study_goes_on(tmp_path, capsys):
    path = write_study(tmp_path, {**SMALL, "sweep": {"train.lr": [1e12, 0.1]}, "trials": {"seeds": 1}}, "div.toml")
    store = tmp_path / "runs"
    assert run_cli(path, "--store", store, "--workers", "1") == 1
    trials = pd.read_csv(store / "small" / "trials.csv")
    assert list(trials.status) == ["diverged", "done"]
    assert "loss became nan" in trials.error[0] or "inf" in trials.error[0]
    results = pd.read_csv(store / "small" / "results.csv")
    assert list(results.n) == [0, 1]


def test_failed_trial_prints_config_and_reruns(small, tmp_path, capsys, monkeypatch):
    from nnstudy.engines._torch import _train

    real = _train.train_trial

    def flaky(trial, data, on_epoch, device="cpu"):
        if trial.seed == 1:
            raise RuntimeError("simulated crash")
        return real(trial, data, on_epoch, device)

    monkeypatch.setattr(_train, "train_trial", flaky)  # one trial's training (--stack off: no CPU stack)
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1", "--stack", "off") == 1
    err = capsys.readouterr().err
    assert "failed" in err and "simulated crash" in err and '"lr": 0.1' in err
    status = dict(db_rows(store, "select seed, status from trials where seed = 1"))
    assert status == {1: "failed"}
    trials = pd.read_csv(store / "small" / "trials.csv")
    assert (trials.status == "failed").sum() == 2
    assert trials.loc[trials.status == "failed", "error"].str.contains("simulated crash").all()
    monkeypatch.setattr(_train, "train_trial", real)
    capsys.readouterr()
    assert run_cli(small, "--store", store, "--workers", "1", "--stack", "off") == 0
    assert "ran 2, skipped 4" in capsys.readouterr().err


def test_fail_fast_stops_at_first_failure(small, tmp_path, monkeypatch):
    from nnstudy.engines._torch import _train

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(_train, "train_trial", broken)
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1", "--stack", "off", "--fail-fast") == 1
    statuses = [s for (s,) in db_rows(store, "select status from trials")]
    assert statuses.count("failed") == 1 and statuses.count("pending") == 5


def test_report_ls_show_commands(small, tmp_path, capsys):
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1") == 0
    (store / "small" / "results.csv").unlink()
    assert main(["report", "small", "--store", str(store)]) == 0
    assert (store / "small" / "results.csv").exists()
    assert main(["report", str(small), "--store", str(store), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "report.html").exists()
    capsys.readouterr()
    assert main(["ls", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "6" in out
    tid = pd.read_csv(store / "small" / "trials.csv").trial_id[0]
    assert main(["show", tid[:8], "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert tid in out and "train_loss" in out and '"lr"' in out
    assert main(["report", "nope", "--store", str(store)]) == 2
    assert main(["show", "ffffffff", "--store", str(store)]) == 2


def test_store_is_sqlite_wal_with_schema_version(small, tmp_path):
    store = tmp_path / "runs"
    assert run_cli(small, "--store", store, "--workers", "1") == 0
    assert db_rows(store, "pragma journal_mode") == [("wal",)]
    assert db_rows(store, "select value from meta where key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    con = sqlite3.connect(store / "nnstudy.sqlite")
    con.execute("update meta set value = '99' where key = 'schema_version'")
    con.commit()
    con.close()
    assert run_cli(small, "--store", store) == 2


def test_regression_study_reports_mse(tmp_path):
    path = tmp_path / "sine.toml"
    path.write_text("""
[study]
name = "sine"
[data]
name = "sine"
n_samples = 200
[model]
hidden = [16]
activation = "tanh"
[train]
optimizer = "adam"
lr = 0.01
epochs = 150
batch_size = 32
""")
    store = tmp_path / "runs"
    assert run_cli(path, "--store", store, "--workers", "1") == 0
    trials = pd.read_csv(store / "sine" / "trials.csv")
    assert {"test_mse", "test_rmse", "val_mse"} <= set(trials.columns)
    assert trials.test_rmse[0] == pytest.approx(np.sqrt(trials.test_mse[0]), rel=1e-9)
    assert trials.test_mse[0] < 0.1  # the variance of -sin is 0.5: the net learned something
    hist = pd.read_sql("select e.epoch, e.value from epochs e where e.metric = 'train_loss' order by e.epoch",
                       sqlite3.connect(store / "nnstudy.sqlite"))
    assert hist.value.iloc[-1] < hist.value.iloc[0]


def test_python_api_matches_the_files(small, tmp_path):
    import nnstudy

    study = nnstudy.run(small, store=tmp_path / "runs", workers=1)
    results = study.results()
    on_disk = pd.read_csv(tmp_path / "runs" / "small" / "results.csv")
    assert list(results.columns) == list(on_disk.columns)
    np.testing.assert_allclose(results.test_accuracy_mean.to_numpy(float), on_disk.test_accuracy_mean.to_numpy())
    again = nnstudy.load("small", store=tmp_path / "runs")
    assert len(again.trials()) == 6
    hist = again.history()
    assert set(hist.columns) == {"trial_id", "epoch", "metric", "value"}
    with pytest.raises(nnstudy.StudyError, match="no study named"):
        nnstudy.load("other", store=tmp_path / "runs")
    with pytest.raises(nnstudy.StudyError, match="train.lr"):
        nnstudy.run({"study": {"name": "x"}, "data": {"name": "moons"}, "train": {"lr": 0}},
                    store=tmp_path / "runs")
