"""Edges of the store and around it: a write that fails while a study runs leaves no trial running, an orphan
trial is the damaged-store line, a checkpoint whose tensors have other shapes is a damaged checkpoint; gradcheck
takes --set as summary does."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest
from sqlalchemy.exc import DataError, OperationalError

import nnstudy
from nnstudy.cli import main
from nnstudy.errors import StudyError
from nnstudy.store import _retry, _store
from nnstudy.store._retry import resilient
from test_store_damage import EDITS, _damaged_line, _edited, _sha, stored  # noqa: F401  (stored: a fixture)

STUDY = """
[study]
name = "edges"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 2
[trials]
seeds = 3
"""


def statuses(store) -> dict[str, str]:
    c = sqlite3.connect(store / "nnstudy.sqlite")
    try:
        return dict(c.execute("SELECT trial_id, status FROM trials").fetchall())
    finally:
        c.close()


def failing_finish(monkeypatch, sqlite_error: Exception, error=OperationalError, after: int = 0,
                   status: str | None = None):
    """Store.finish raises `sqlite_error` (as SQLAlchemy wraps it) after `after` good writes, for outcomes of
    `status` (None: every outcome); the store's retries and their one line stay as they are."""
    write, calls = _store.Store.finish.__wrapped__, []

    def finish(self, name, trial_id, outcome, *args):
        calls.append(trial_id)
        if len(calls) > after and status in (None, outcome):
            raise error("UPDATE trials", {}, sqlite_error)
        return write(self, name, trial_id, outcome, *args)

    monkeypatch.setattr(_store.Store, "finish", resilient(finish))


@pytest.mark.parametrize("workers,stack", [(1, "off"), (2, "off"), (1, "on")])
def test_a_store_write_that_fails_hands_every_trial_back(tmp_path, monkeypatch, workers, stack):
    (tmp_path / "edges.toml").write_text(STUDY)
    failing_finish(monkeypatch, sqlite3.OperationalError("disk I/O error"), after=1)
    with pytest.raises(StudyError, match=r"cannot write \(disk I/O error\): the disk is full or failing"):
        nnstudy.run(tmp_path / "edges.toml", store=tmp_path / "store", workers=workers, stack=stack)
    left = statuses(tmp_path / "store")
    assert "running" not in left.values(), left
    assert sorted(left.values()) == ["done", "pending", "pending"], left


def test_a_store_locked_past_its_retries_is_one_line_and_no_trial_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "edges.toml").write_text(STUDY)
    failing_finish(monkeypatch, sqlite3.OperationalError("database is locked"))
    monkeypatch.setattr(_retry.retrying, "__defaults__", (0.5, False, None))  # retried for 0.5 s, not a minute
    code = main(["run", str(tmp_path / "edges.toml"), "--store", str(tmp_path / "store"), "--workers", "1",
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("nnstudy: error: store ") and "database is locked (still failing after 0 s; finish)" in err
    assert set(statuses(tmp_path / "store").values()) == {"pending"}



HANDED_BACK_NOT = "the store did not take back the trials this run was training (locked or lost); they stay " \
                 "running, and the next run trains them"


@pytest.mark.parametrize("lost", ["unable to open database file", "database is locked"])
def test_ctrl_c_while_the_store_is_lost_is_the_interrupt(tmp_path, monkeypatch, capsys, lost):
    """Ctrl-C in the driver, then handing its trials back meets the lost store: exit 130 and the interrupted
    line, not the store's line (the store error is raised while the interrupt is handled: _retry.interrupted).
    A store locked by another process (a real lock, held to the end) answers the interrupt at once, not after
    SQLite's waits of a minute each for the pending write and the hand-back."""
    from nnstudy.executor._driver import Driver

    (tmp_path / "edges.toml").write_text(STUDY)
    store, held = tmp_path / "store", []
    if lost == "database is locked":
        write = Driver.epochs_ended

        def ctrl_c(self, records, progress):  # another process locks the store; SIGINT comes while this one waits
            if not held:
                lock = sqlite3.connect(store / "nnstudy.sqlite", isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")
                timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
                held.extend([lock, timer, time.monotonic()])
                timer.start()
            write(self, records, progress)
    else:
        def ctrl_c(self, records, progress):  # as SIGINT landing while the driver stores an epoch
            raise KeyboardInterrupt

        def release_lost(self, name, trial_ids):
            raise OperationalError("UPDATE trials", {}, sqlite3.OperationalError(lost))

        monkeypatch.setattr(_store.Store, "_release", release_lost)
    monkeypatch.setattr(Driver, "epochs_ended", ctrl_c)
    run = ["run", str(tmp_path / "edges.toml"), "--store", str(store), "--workers", "1", "--stack", "off"]
    code = main(run)
    if held:
        lock, timer, locked_at = held
        answered_s = time.monotonic() - locked_at
        timer.cancel()
        lock.rollback()
        lock.close()
        assert answered_s < 20, answered_s  # was about 120 s: SQLite's busy wait held the signal off, twice
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-2:] == [HANDED_BACK_NOT, "nnstudy: interrupted; finished trials are stored, "
                                                              "run again to continue"], err
    assert lost not in err and "nnstudy: error" not in err, err
    assert sorted(statuses(store).values()) == ["pending", "pending", "running"]  # a re-run takes it
    monkeypatch.undo()
    assert main([*run, "--quiet"]) == 0
    assert set(statuses(store).values()) == {"done"}


@pytest.mark.parametrize("stack, running", [("off", 1), ("auto", 3)])  # one trial, or the CPU's stack of three
def test_ctrl_c_while_the_store_is_lost_says_so_under_quiet_too(tmp_path, monkeypatch, capsys, stack, running):
    """--quiet keeps the problems: trials left running in the store are one (as failed trials are)."""
    from nnstudy.executor._driver import Driver

    def ctrl_c(self, records, progress):
        raise KeyboardInterrupt

    def release_lost(self, name, trial_ids):
        raise OperationalError("UPDATE trials", {}, sqlite3.OperationalError("unable to open database file"))

    (tmp_path / "edges.toml").write_text(STUDY)
    monkeypatch.setattr(_store.Store, "_release", release_lost)
    monkeypatch.setattr(Driver, "epochs_ended", ctrl_c)
    store = tmp_path / "store"
    assert main(["run", str(tmp_path / "edges.toml"), "--store", str(store), "--workers", "1", "--stack", stack,
                 "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [HANDED_BACK_NOT, "nnstudy: interrupted; finished trials are stored, "
                                                         "run again to continue"], err
    assert sorted(statuses(store).values()) == ["pending"] * (3 - running) + ["running"] * running


def test_an_outcome_the_store_refuses_fails_its_trial_with_the_reason(tmp_path, monkeypatch, capsys):
    (tmp_path / "edges.toml").write_text(STUDY)
    failing_finish(monkeypatch, sqlite3.DataError("string or blob too big"), DataError, status="done")
    code = main(["run", str(tmp_path / "edges.toml"), "--store", str(tmp_path / "store"), "--workers", "1",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    assert err.count("the store refused its outcome: string or blob too big") == 3, err
    assert set(statuses(tmp_path / "store").values()) == {"failed"}


def test_show_of_an_orphan_trial_is_the_damaged_store_line(stored, tmp_path, capsys):
    sql, _ = EDITS["orphan"]  # the trial of row 1 names study 99, which the store does not hold
    store = _edited(stored, tmp_path / "store", sql)
    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid = c.execute("SELECT trial_id FROM trials WHERE id = 1").fetchone()[0]
    c.close()
    before = _sha(store / "nnstudy.sqlite")
    line = _damaged_line(capsys, main(["show", tid[:6], "--store", str(store)]))
    assert f"trials.study_id of trial {tid} is 99, the id of no stored study" in line
    assert _sha(store / "nnstudy.sqlite") == before


WEIGHTS = {  # the engine: (study file, options, where its checkpoint keeps the weights)
    "torch": ("", (), "model"),
    "stack": ("", ("--stack", "on"), "params"),
    "numpy": ('engine = "numpy"\n', (), "net"),
}


def reshaped_weight(store) -> str:
    """The stored checkpoint with its first weight's tensor of another shape, its sha256 forged as pack()
    writes it; returns the trial holding it."""
    import hashlib
    import json

    import torch
    from safetensors.torch import load, save

    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid, head = c.execute("SELECT t.trial_id, a.data FROM artifacts a JOIN trials t ON t.id = a.trial_pk "
                          "WHERE a.name = 'checkpoint.json'").fetchone()
    (blob,) = c.execute("SELECT data FROM artifacts WHERE name = 'checkpoint.safetensors'").fetchone()
    head, tensors = json.loads(head), load(bytes(blob))
    name = first_tensor([v for k, v in head["state"].items() if k in {w for _, _, w in WEIGHTS.values()}])
    tensors[name] = torch.zeros(3, 5, dtype=tensors[name].dtype)
    blob = save(tensors)
    head["tensors_sha256"] = hashlib.sha256(blob).hexdigest()
    with c:
        c.execute("UPDATE artifacts SET data = ? WHERE name = 'checkpoint.json'", (json.dumps(head).encode(),))
        c.execute("UPDATE artifacts SET data = ? WHERE name = 'checkpoint.safetensors'", (blob,))
    c.close()
    return tid


def first_tensor(encoded) -> str | None:
    """The name, in the tensors file, of the first tensor or array of a checkpoint's encoded state."""
    if isinstance(encoded, dict):
        if "__tensor__" in encoded or "__array__" in encoded:
            return encoded.get("__tensor__") or encoded["__array__"]
        encoded = list(encoded.values())
    for value in encoded if isinstance(encoded, list) else []:
        if (found := first_tensor(value)) is not None:
            return found
    return None


@pytest.mark.parametrize("engine", sorted(WEIGHTS))
def test_a_checkpoint_whose_weight_has_another_shape_is_one_line_and_the_trial_restarts(
        tmp_path, tmp_path_factory, monkeypatch, capsys, engine):
    from test_checkpoints import MLP, counting_epochs, interrupted_at, reference, run, stored

    monkeypatch.setattr(nnstudy.api.Study, "report", lambda self, out=None: [])  # the stored numbers are compared
    train, options, _ = WEIGHTS[engine]
    text = MLP.replace("[train]\n", "[train]\n" + train)
    study = tmp_path / "ck.toml"
    study.write_text(text)
    with monkeypatch.context() as m:
        interrupted_at(m, 2)
        assert run(study, tmp_path / "store", *options) != 0
    held = reshaped_weight(tmp_path / "store")
    capsys.readouterr()
    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, tmp_path / "store", *options) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    lines = [line for line in (out.out + out.err).splitlines() if "checkpoint of" in line]
    assert len(lines) == 1, lines
    what = f"the stack of trial {held}" if engine == "stack" else f"trial {held}"
    assert lines[0].startswith(f"checkpoint of {what} unreadable: its tensors do not fit the trial (")
    assert "has shape [3, 5], not [" in lines[0] and lines[0].endswith("]); restarting from epoch 1"), lines[0]
    assert sorted(e for t, e in seen if t == held) == [1, 2, 3, 4, 5, 6]
    assert stored(tmp_path / "store")[:3] == reference(tmp_path_factory, text, *options)[:3]  # as undisturbed


GRADCHECK = """
[study]
name = "grads"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
engine = "numpy"
epochs = 1
"""


def test_gradcheck_set_changes_the_network_checked(tmp_path, capsys):
    (tmp_path / "grads.toml").write_text(GRADCHECK)
    assert main(["gradcheck", str(tmp_path / "grads.toml"), "--set", "model.hidden=[7, 3]",
                 "--set", "train.l2=0.01"]) == 0
    rows = [line.split("│")[1:3] for line in capsys.readouterr().out.splitlines() if "weight" in line]
    assert [(name.strip(), shape.strip()) for name, shape in rows] == [
        ("hidden1.weight", "2×7"), ("hidden2.weight", "7×3"), ("output.weight", "3×2")]


@pytest.mark.parametrize("given,named", [
    ("model.hidden", "--set model.hidden: expected KEY=VALUE"),
    ("model.hidden=oops", "model.hidden: input should be a valid list"),
    ("model.nope=3", "model.nope: unknown key"),
])
def test_a_bad_gradcheck_set_is_one_line(tmp_path, capsys, given, named):
    (tmp_path / "grads.toml").write_text(GRADCHECK)
    code = main(["gradcheck", str(tmp_path / "grads.toml"), "--set", given])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and named in err, err
    assert captured.out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["grads.toml"]


def test_fail_fast_in_a_pruned_search_keeps_every_seed_it_trained(tmp_path):
    from test_search import BASE

    spec = {**BASE, "search": {"method": "grid", "trials": 2, "pruner": "median",  # seeds trained in lockstep
                               "space": {"train.lr": {"choices": [1e9, 0.1]}}},
            "report": {"metrics": ["test_accuracy", "val_accuracy"]}}
    nnstudy.run(spec, store=tmp_path / "store", workers=1, fail_fast=True)
    left = statuses(tmp_path / "store")
    assert sorted(left.values()) == ["diverged", "diverged"], left  # both seeds kept, none left running; the search
    # stops at the first diverged configuration (--fail-fast), so lr = 0.1 is never trained
