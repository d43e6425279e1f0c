"""The run's progress counts what each trial will run: a kind that fits once is one unit of work (however many
rows its history gets: XGBoost's rounds), a train.steps budget the epochs it takes on the trial's data; the
overall bar ends at its total and the heartbeat's ETA never goes negative."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import run_cli, write_study
from nnstudy.executor import _driver, _progress


@pytest.fixture
def progresses(monkeypatch):
    """Every StudyProgress a run makes, kept to read once it has ended; heartbeats every 10 ms."""
    made: list[_progress.StudyProgress] = []

    class Kept(_progress.StudyProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(_driver, "StudyProgress", Kept)
    monkeypatch.setattr(_progress, "HEARTBEAT_S", 0.01)
    return made


def overall(progress: _progress.StudyProgress) -> tuple[int, int]:
    """(epochs done, epochs planned) of the study's bar."""
    task = progress.progress.tasks[progress.overall]
    return int(task.completed), int(task.total)


def events_of(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def check_heartbeats(events: list[dict], total: int) -> None:
    beats = [e for e in events if e["event"] == "heartbeat"]
    assert all(b["epochs"] == total and 0 <= b["epochs_done"] <= total for b in beats), beats
    assert all(b["eta_s"] is None or b["eta_s"] >= 0 for b in beats), beats


FIT_ONCE = {
    "random_forest": {"kind": "random_forest", "n_estimators": 5},
    "xgboost": {"kind": "xgboost", "n_estimators": 4},  # 4 rows of history, one fit
}


@pytest.mark.parametrize("kind", sorted(FIT_ONCE))
def test_a_trial_that_fits_once_is_one_unit_of_work(tmp_path, capsys, progresses, kind):
    study = {"study": {"name": "once"}, "data": {"name": "iris"}, "model": FIT_ONCE[kind],
             "train": {"engine": "classical"}, "trials": {"seeds": 3}}
    assert run_cli(write_study(tmp_path, study), "--store", tmp_path / "runs", "--workers", "1", "--json") == 0
    events = events_of(capsys)
    (progress,) = progresses
    assert overall(progress) == (3, 3)  # not 3 x train.epochs' default (20)
    check_heartbeats(events, 3)
    trials = pd.read_csv(tmp_path / "runs" / "once" / "trials.csv")
    assert list(trials.status) == ["done"] * 3


@pytest.mark.parametrize("stack", ["off", "on"])  # one row per trial, or one for a stack of them
def test_a_steps_budget_counts_the_epochs_it_runs(tmp_path, capsys, progresses, stack):
    # moons: 144 training samples at batch 32 are 5 steps an epoch; 12 steps are 3 epochs (the last partial)
    study = {"study": {"name": "steps"}, "data": {"name": "moons", "n_samples": 200}, "model": {"hidden": [4]},
             "train": {"steps": 12, "batch_size": 32}, "sweep": {"train.lr": [0.1, 0.05]}, "trials": {"seeds": 2}}
    assert run_cli(write_study(tmp_path, study), "--store", tmp_path / "runs", "--workers", "1", "--json",
                   "--stack", stack) == 0
    events = events_of(capsys)
    assert ("stack(s)" in events[0]["where"]) == (stack == "on"), events[0]
    trials = pd.read_csv(tmp_path / "runs" / "steps" / "trials.csv")
    ran = int(trials.epochs_run.sum())
    assert list(trials.status) == ["done"] * 4 and list(trials.epochs_run) == [3] * 4, trials.epochs_run
    (progress,) = progresses
    assert overall(progress) == (ran, ran)
    check_heartbeats(events, ran)


def test_a_stack_row_shows_the_furthest_epoch_of_its_trials_and_the_overall_bar_each_trials_plan():
    from io import StringIO

    from rich.console import Console

    progress = _progress.StudyProgress(Console(file=StringIO()), "s", 3, 4 + 6 + 6)
    progress.start_stack("stack-a", {"a": 4, "b": 6, "c": 6})
    row = progress.rows["stack-a"]
    done = lambda: int(progress.progress.tasks[row].completed)  # noqa: E731
    for trial, epoch, shown, total in [("a", 1, 1, 1), ("b", 3, 3, 4), ("a", 5, 4, 7), ("c", 2, 4, 9),
                                       ("b", 6, 6, 12), ("c", 6, 6, 16)]:
        progress.epoch(trial, epoch)  # "a" reports past its plan of 4: the bar counts 4 of it
        assert (done(), overall(progress)[0]) == (shown, total), (trial, epoch)
    for trial, planned in [("a", 4), ("b", 6), ("c", 6)]:
        progress.finish(trial, planned, f"{trial} done")
    progress.end_stack("stack-a")
    assert overall(progress) == (16, 16) and progress.stack_done == {} and progress.rows == {}
