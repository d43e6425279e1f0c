"""kill -9 in the middle of a search, then run again: finished configurations are kept (not retrained),
the search goes on to the requested number, and no configuration is proposed twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pandas as pd

from nnstudy.cli import main
from nnstudy.search import optuna_path
from nnstudy.search._run import optuna_study_name
from nnstudy.spec import read_study

STUDY = """
[study]
name = "search-kill"
[data]
name = "moons"
n_samples = 300
[model]
hidden = [8]
[train]
epochs = 10
batch_size = 64
[trials]
seeds = 2
[search]
method = "random"
trials = 4
[search.space]
"train.lr" = { low = 0.01, high = 0.5, log = true }
"model.hidden" = { width = { low = 4, high = 16, int = true }, depth = { low = 1, high = 2, int = true } }
"""


def store_rows(store):
    path = store / "nnstudy.sqlite"
    if not path.exists():
        return []
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute("select trial_id, status, attempts, finished_at, point_json from trials "
                           "order by trial_id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def test_kill_9_during_a_search_then_resume(tmp_path):
    path = tmp_path / "search-kill.toml"
    path.write_text(STUDY)
    store = tmp_path / "store"
    target = random.Random(os.getpid()).randint(1, 5)
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy", "run", str(path), "--store", str(store),
                             "--workers", "1"], env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while sum(r[1] == "done" for r in store_rows(store)) < target and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = {r[0]: r for r in store_rows(store) if r[1] == "done"}
    assert len(before) >= target, "the search finished or stalled before the kill"

    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 0
    after = {r[0]: r for r in store_rows(store)}
    assert len(after) == 8 and {r[1] for r in after.values()} == {"done"}  # 4 configurations x 2 seeds
    for tid, row in before.items():  # finished before the kill: kept as they were, not trained again
        assert after[tid][3] == row[3] and after[tid][2] == 1
    assert max(r[2] for r in after.values()) <= 2  # only a trial the kill interrupted ran a second time

    spec = read_study(path)[0]
    ostudy = optuna.load_study(study_name=optuna_study_name(spec),
                               storage=f"sqlite:///{optuna_path(store, 'search-kill')}")
    complete = ostudy.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 4
    assert not ostudy.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    stored_points = {r[4] for r in after.values()}
    assert len(stored_points) == 4  # no configuration proposed twice
    results = pd.read_csv(store / "search-kill" / "results.csv")
    assert len(results) == 4 and (results["n"] == 2).all()
    assert {json.dumps(json.loads(p), sort_keys=True) for p in stored_points} == {
        json.dumps({"train.lr": t.params["train.lr"],
                    "model.hidden": [t.params["model.hidden:width"]] * t.params["model.hidden:depth"]},
                   sort_keys=True) for t in complete}


def test_with_a_postgresql_store_the_history_lives_in_the_database(pg_url, tmp_path, monkeypatch):
    """Optuna's tables go to their own schema of the store's database (they clash with the store's):
    a second driver, anywhere, continues the same search; nothing is written beside it."""
    from sqlalchemy import create_engine, inspect

    from nnstudy.search import OPTUNA_SCHEMA
    from nnstudy.store._engine import resolve_url

    monkeypatch.chdir(tmp_path)
    study = tmp_path / "grid.toml"
    study.write_text(STUDY.replace('method = "random"', 'method = "grid"').replace("trials = 4", "trials = 2")
                     .replace('"train.lr" = { low = 0.01, high = 0.5, log = true }',
                              '"train.lr" = { choices = [0.3, 0.1, 0.03] }')
                     .replace('"model.hidden" = { width = { low = 4, high = 16, int = true }, '
                              'depth = { low = 1, high = 2, int = true } }\n', ""))
    assert main(["run", str(study), "--store", pg_url, "--workers", "1"]) == 0
    study.write_text(study.read_text().replace("trials = 2", "trials = 3"))  # the same search, one more trial
    assert main(["run", str(study), "--store", pg_url, "--workers", "1"]) == 0
    engine = create_engine(resolve_url(pg_url))
    try:
        names = inspect(engine).get_table_names(schema=OPTUNA_SCHEMA)
        assert {"studies", "trials", "trial_params"} <= set(names)
        with engine.connect() as c:
            states = [r[0] for r in c.exec_driver_sql(f"SELECT state FROM {OPTUNA_SCHEMA}.trials ORDER BY number")]
            stored = c.exec_driver_sql("SELECT count(*) FROM trials").scalar()  # the store's own table
    finally:
        engine.dispose()
    assert states == ["COMPLETE"] * 3 and stored == 6  # 3 configurations x 2 seeds, none trained twice
    assert not list(tmp_path.glob("**/*.optuna.sqlite3"))


def test_a_run_killed_inside_optunas_ask_resumes(tmp_path):
    """The kill can land between Optuna storing a proposal and storing its parameters: the next run fails
    that half-stored proposal and goes on (CI once saw it stop on `KeyError: 'train.lr'`)."""
    path = tmp_path / "search-kill.toml"
    path.write_text(STUDY.replace("trials = 4", "trials = 2").replace("epochs = 10", "epochs = 2")
                    .replace("seeds = 2", "seeds = 1"))
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 0
    storage = f"sqlite:///{optuna_path(store, 'search-kill')}"
    ostudy = optuna.load_study(study_name=optuna_study_name(read_study(path)[0]), storage=storage)
    ostudy.ask().suggest_int("model.hidden:width", 4, 16)  # what the kill left: one of three parameters

    path.write_text(path.read_text().replace("trials = 2", "trials = 3"))
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 0
    states = [t.state.name for t in optuna.load_study(study_name=optuna_study_name(read_study(path)[0]),
                                                      storage=storage).trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert sum(r[1] == "done" for r in store_rows(store)) == 3


def test_ctrl_c_while_the_search_history_is_locked_is_answered_at_once(tmp_path, monkeypatch, capsys):
    """Another process holds a write lock on the Optuna history (a real lock, held to the end) when the search
    tells Optuna a configuration's value; SIGINT comes while it waits. Optuna's SQLite timeout of 60 s held
    the interrupt off for a minute; now SQLite waits 250 ms at a time and the rest is waited in Python."""
    import threading

    from nnstudy.search import _loop

    path = tmp_path / "search-kill.toml"
    path.write_text(STUDY.replace("epochs = 10", "epochs = 1").replace("trials = 4", "trials = 2"))
    store, held, tell = tmp_path / "store", [], _loop._tell

    def locked_tell(study, *args):
        if not held:
            lock = sqlite3.connect(optuna_path(store, "search-kill"), isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
            held.extend([lock, timer, time.monotonic()])
            timer.start()
        return tell(study, *args)

    monkeypatch.setattr(_loop, "_tell", locked_tell)
    code = main(["run", str(path), "--store", str(store), "--workers", "1"])
    lock, timer, locked_at = held
    answered_s = time.monotonic() - locked_at
    timer.cancel()
    lock.rollback()
    lock.close()
    err = capsys.readouterr().err
    assert answered_s < 20, answered_s
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "nnstudy: interrupted; finished trials are stored, run again to continue"
    assert {r[1] for r in store_rows(store)} == {"done"} and len(store_rows(store)) == 2  # the first configuration
    monkeypatch.undo()
    assert main(["run", str(path), "--store", str(store), "--workers", "1", "--quiet"]) == 0  # told, and one more
    assert len(store_rows(store)) == 4
