"""Per-epoch records: each epoch reaches the store when it ends, while its trial still runs (inline, in a
worker pool, in a stack); the final write replaces them with the whole history, atomically, no duplicates."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnstudy.cli import main

# A training function that reports two epochs, then waits until the test lets it go on.
GATED = '''
import os, time
from pathlib import Path

def train(config, seed, data, report):
    gate = Path(config["train"]["args"]["gate"])
    for epoch in range(1, config["train"]["epochs"] + 1):
        if epoch == 3:
            deadline = time.time() + 120
            while not gate.exists() and time.time() < deadline:
                time.sleep(0.05)
        report(epoch, train_loss=1.0 / epoch + seed, val_accuracy=0.5 + 0.1 * epoch)
    return {"test_accuracy": 0.75 + 0.01 * seed}
'''

STUDY = '''
[study]
name = "live"
description = "epochs as they end"

[data]
name = "moons"

[train]
function = "gated.py:train"
epochs = 4
args = {{ gate = "{gate}" }}

[trials]
seeds = 2
'''


def rows(db: Path, sql: str, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_for(check, timeout: float = 90.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.parametrize("workers, executor", [(1, "local"), (2, "local"), (2, "ray")])
def test_epochs_reach_the_store_while_the_trial_runs(tmp_path, workers, executor, capsys):
    gate = tmp_path / "go"
    (tmp_path / "gated.py").write_text(GATED)
    study = tmp_path / "live.toml"
    study.write_text(STUDY.format(gate=gate))
    store = tmp_path / "runs"
    db = store / "nnstudy.sqlite"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy", "run", str(study), "--store", str(store),
                             "--workers", str(workers), "--executor", executor, "--quiet"], env=env,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # both epochs before the gate are stored, the trial still running (inline: one trial at a time)
        def stored():
            if not db.exists():
                return None
            try:
                got = rows(db, "SELECT t.trial_id, e.epoch, e.metric, e.value FROM epochs e JOIN trials t "
                               "ON t.id = e.trial_pk WHERE t.status = 'running' ORDER BY t.trial_id, e.epoch")
            except sqlite3.OperationalError:
                return None
            per_trial = {}
            for tid, epoch, _m, _v in got:
                per_trial.setdefault(tid, set()).add(epoch)
            return got if len(per_trial) == min(workers, 2) and all(e == {1, 2} for e in per_trial.values()) \
                else None

        got = wait_for(stored, 240 if executor == "ray" else 90)  # ray: a local cluster starts first
        tid = got[0][0]
        values = {(e, m): v for t, e, m, v in got if t == tid}
        seed = rows(db, "SELECT seed FROM trials WHERE trial_id = ?", tid)[0][0]
        assert values[(2, "train_loss")] == pytest.approx(0.5 + seed)
        assert values[(1, "val_accuracy")] == pytest.approx(0.6)
        assert proc.poll() is None  # still training

        capsys.readouterr()
        assert main(["show", tid[:10], "--store", str(store)]) == 0
        out = capsys.readouterr().out
        assert "status running" in out and "running: 2 of 4 epochs ended so far" in out
        assert "train_loss" in out and "val_accuracy" in out
        assert main(["ls", "--store", str(store)]) == 0
        out = capsys.readouterr().out
        assert f"{min(workers, 2)} (epoch 2/4" in out
    finally:
        gate.write_text("go")
        out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    # the final write: every epoch once, nothing left over from the live records
    assert rows(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'") == [(2,)]
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT trial_pk || '/' || epoch || '/' || metric) FROM epochs") \
        == [(2 * 4 * 3, 2 * 4 * 3)]  # train_loss, val_accuracy, time_s per epoch


def test_a_stack_stores_each_epoch_in_one_transaction_while_it_trains(tmp_path, monkeypatch):
    from nnstudy import api
    from nnstudy.store import Store

    study = {"study": {"name": "stacked"}, "data": {"name": "moons", "n_samples": 200, "noise": 0.2},
             "model": {"hidden": [8]}, "train": {"batch_size": 32, "epochs": 4, "dtype": "float64"},
             "sweep": {"train.lr": [0.1, 0.05]}, "trials": {"seeds": 2}}
    store = tmp_path / "runs"
    seen = []
    real = Store.add_epochs

    def watched(self, name, records):
        written = real(self, name, records)
        with sqlite3.connect(store / "nnstudy.sqlite") as con:  # what another reader sees now
            seen.append((sorted({(r[0], r[1]) for r in records}),
                         con.execute("SELECT t.status, MAX(e.epoch), COUNT(*) FROM trials t JOIN epochs e "
                                     "ON e.trial_pk = t.id GROUP BY t.id").fetchall()))
        return written

    monkeypatch.setattr(Store, "add_epochs", watched)
    result = api.run(study, store=store, stack="on", device="cpu", workers=1)
    trial_ids = sorted(result.trials().trial_id)
    assert len(trial_ids) == 4 and set(result.trials().status) == {"done"}
    # epochs 1..3 are flushed as they end (the 4th comes with the final write), one call for the whole stack
    assert [records for records, _ in seen] == [[(t, e) for t in trial_ids] for e in (1, 2, 3)]
    for epoch, (_, state) in enumerate(seen, 1):
        assert len(state) == 4 and all(status == "running" and last == epoch for status, last, _ in state)
    history = result.history()
    assert not history.duplicated(["trial_id", "epoch", "metric"]).any()
    assert sorted(history.epoch.unique()) == [1, 2, 3, 4]


def test_add_epochs_replaces_and_skips_trials_it_does_not_run(any_store):
    from nnstudy.spec import expand, read_study
    from nnstudy.store import Store

    spec, _, _ = read_study({"study": {"name": "s"}, "data": {"name": "moons"}, "trials": {"seeds": 2}})
    trials = expand(spec)
    db = Store(any_store)
    db.register("s", "", {}, "", "classification", ["val_accuracy"], [], trials, {})
    a, b = trials[0].trial_id, trials[1].trial_id
    assert db.claim("s", a)
    # b is not claimed: its records are dropped; a's later epochs of an earlier attempt go
    assert db.add_epochs("s", [(a, 1, {"train_loss": 1.0}), (a, 2, {"train_loss": 0.5}), (a, 3, {"x": 1.0}),
                               (b, 1, {"train_loss": 9.0})]) == 3
    assert db.add_epochs("s", [(a, 2, {"train_loss": 0.4, "val_loss": float("nan")})]) == 2
    hist = db.find_trials(a)[0]["history"]
    values = {(e, m): v for e, m, v in hist.itertuples(index=False)}
    assert sorted(values) == [(1, "train_loss"), (2, "train_loss"), (2, "val_loss")]
    assert values[(2, "train_loss")] == 0.4 and values[(1, "train_loss")] == 1.0
    assert values[(2, "val_loss")] is None or math.isnan(values[(2, "val_loss")])
    assert db.find_trials(b)[0]["history"].empty
    running = db.running("s")
    assert [(r["trial_id"], r["epoch"]) for r in running] == [(a, 2)]
    db.finish("s", a, "done", {"val_accuracy": 0.9}, [{"epoch": 1, "train_loss": 1.0}], {}, None)
    assert len(db.find_trials(a)[0]["history"]) == 1 and db.running("s") == []


@pytest.mark.parametrize("stack", ["off", "on"])
def test_a_pruned_search_stores_epochs_as_they_end(tmp_path, monkeypatch, stack):
    """The search's lockstep runner (seeds in turns, or as one stack) writes epochs as they end, too; the
    final write of a pruned trial leaves exactly the epochs it trained."""
    from nnstudy import api
    from nnstudy.store import Store

    spec = {"study": {"name": "search-live"}, "data": {"name": "moons", "n_samples": 300},
            "model": {"hidden": [8]}, "train": {"epochs": 6, "batch_size": 32, "dtype": "float64"},
            "trials": {"seeds": 2}, "report": {"metrics": ["val_accuracy", "test_accuracy"]},
            "search": {"method": "grid", "trials": 4, "pruner": "median",
                       "space": {"train.lr": {"choices": [0.3, 0.2, 0.1, 1e-6]}}}}
    store = tmp_path / "runs"
    seen = []
    real = Store.add_epochs

    def watched(self, name, records):
        written = real(self, name, records)
        with sqlite3.connect(store / "nnstudy.sqlite") as con:
            for tid, epoch, _ in records:
                seen.append((tid, epoch) + con.execute(
                    "SELECT t.status, MAX(e.epoch) FROM trials t JOIN epochs e ON e.trial_pk = t.id "
                    "WHERE t.trial_id = ?", (tid,)).fetchone())
        return written

    monkeypatch.setattr(Store, "add_epochs", watched)
    study = api.run(spec, store=store, workers=1, stack=stack)
    trials = study.trials()
    assert len(trials) == 8 and set(trials.status) == {"done"}
    assert seen and all(status == "running" and last == epoch for _, epoch, status, last in seen)
    assert {tid for tid, *_ in seen} == set(trials.trial_id)
    history = study.history()
    assert not history.duplicated(["trial_id", "epoch", "metric"]).any()
    last = history.groupby("trial_id").epoch.max()
    assert (last == trials.set_index("trial_id").epochs_run.loc[last.index]).all()
    assert trials.epochs_run.min() < 6  # a configuration was pruned, and its rows end where it stopped
