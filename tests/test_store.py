"""The store, against SQLite and PostgreSQL alike: register, claim, finish, release, read back."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest

from nnstudy.spec import Trial
from nnstudy.store import Store

SPEC = {"study": {"name": "s"}, "sweep": {"train.lr": [0.1, 0.01]}}


def trials(n: int) -> list[Trial]:
    return [Trial(f"t{i:03d}", i, {"data": {}, "model": {}, "train": {"epochs": 2, "lr": 0.1}}, {"train.lr": 0.1})
            for i in range(n)]


def register(store: Store, n: int, name: str = "s") -> list[Trial]:
    ts = trials(n)
    store.register(name, "a study", SPEC, "source", "classification", ["test_accuracy"], ["train.lr"], ts,
                   {"device": "cpu"})
    return ts


def statuses(store: Store, name: str = "s") -> dict[str, str]:
    snap = store.snapshot(name)
    return dict(zip(snap.trials.trial_id, snap.trials.status))


def test_register_is_idempotent_and_adds_only_new_trials(any_store):
    store = Store(any_store)
    register(store, 3)
    assert store.claim("s", "t000")
    register(store, 5)  # the study grew: two new trials, the claimed one untouched
    assert statuses(store) == {"t000": "running", "t001": "pending", "t002": "pending", "t003": "pending",
                               "t004": "pending"}
    register(store, 2, name="other")  # another study in the same database
    assert {s["name"]: s["total"] for s in store.studies()} == {"s": 5, "other": 2}


def test_updated_is_when_the_study_or_a_trial_last_changed_not_the_last_rerun(any_store, monkeypatch):
    from nnstudy.store import _store

    clock = iter(f"2026-01-0{d}T00:00:00+00:00" for d in range(1, 10))
    monkeypatch.setattr(_store, "now", lambda: next(clock))
    store = Store(any_store)

    def updated() -> str:
        return {r["name"]: r["updated_at"] for r in store.studies()}["s"]

    register(store, 2)
    assert updated() == "2026-01-01T00:00:00+00:00"
    register(store, 2)  # a re-run that trains nothing changes nothing
    assert updated() == "2026-01-01T00:00:00+00:00"
    store.claim("s", "t000")
    store.finish("s", "t000", "done", {"test_accuracy": 0.75}, [], {}, None)
    finished = updated()
    assert finished > "2026-01-01T00:00:00+00:00"
    assert store.snapshot("s").trials.set_index("trial_id").loc["t000", "finished_at"] == finished
    register(store, 3)  # a new trial
    assert updated() > finished


def test_a_trial_kept_under_a_new_sweep_takes_its_swept_values(any_store):
    """Sweeping a key at the value the trials already had: same trial ids, results kept, new columns filled."""
    store = Store(any_store)
    ts = register(store, 2)
    store.claim("s", "t000")
    store.finish("s", "t000", "done", {"test_accuracy": 0.75}, [], {}, None)
    for t in ts:
        t.point["train.epochs"] = 2
    store.register("s", "a study", SPEC, "source", "classification", ["test_accuracy"], ["train.lr", "train.epochs"],
                   ts, {"device": "cpu"})
    snap = store.snapshot("s")
    assert list(snap.trials["train.epochs"]) == [2, 2] and list(snap.trials.status) == ["done", "pending"]
    assert snap.trials.loc[snap.trials.trial_id == "t000", "test_accuracy"].item() == 0.75


def test_a_search_counts_the_configurations_not_yet_proposed_as_pending(tmp_path):
    store = Store(tmp_path)
    spec = {"study": {"name": "s"}, "trials": {"seeds": 2},
            "search": {"trials": 5, "space": {"train.lr": {"low": 0.01, "high": 0.1}}}}
    ts = trials(4)  # two configurations x two seeds proposed so far
    store.register("s", "a search", spec, "source", "classification", ["val_accuracy"], ["train.lr"], ts, {})
    store.claim("s", "t000")
    store.finish("s", "t000", "done", {"val_accuracy": 0.9}, [], {}, None)
    (row,) = store.studies()
    assert (row["total"], row["done"], row["pending"]) == (10, 1, 9)  # 5 configurations x 2 seeds


def test_claim_finish_and_release_round_trip(any_store):
    store = Store(any_store)
    register(store, 3)
    assert store.todo("s") == (["t000", "t001", "t002"], [])
    assert store.claim("s", "t000") and store.claim("s", "t000")  # the owner may claim again (a retried write)
    history = [{"epoch": 1, "train_loss": 0.9, "val_loss": math.inf}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6}]
    store.finish("s", "t000", "done", {"test_accuracy": 0.75, "val_loss": math.nan}, history,
                 {"weights.npz": b"\x00\x01binary"}, None)
    assert not store.claim("s", "t000")  # final: never trained twice
    assert store.claim("s", "t001") and store.claim("s", "t002")
    store.finish("s", "t001", "failed", {}, [], {}, "ValueError: boom")
    store.release("s", ["t002"])  # Ctrl-C hands it back
    assert statuses(store) == {"t000": "done", "t001": "failed", "t002": "pending"}
    assert store.todo("s") == (["t001", "t002"], [])  # failed trials run again

    snap = Store(any_store, create=False).snapshot("s")
    row = snap.trials.set_index("trial_id").loc["t000"]
    assert row.test_accuracy == 0.75 and math.isnan(row.val_loss)  # non-finite values come back as NaN
    assert snap.trials.set_index("trial_id").loc["t001", "error"] == "ValueError: boom"
    h = snap.history[snap.history.trial_id == "t000"].sort_values(["epoch", "metric"])
    assert h.value.tolist()[:2] == [0.9, pytest.approx(math.nan, nan_ok=True)]
    assert [(a.trial_id, a.name, a.data) for a in snap.artifacts] == [("t000", "weights.npz", b"\x00\x01binary")]
    found = store.find_trials("t00")
    assert sorted(f["trial_id"] for f in found) == ["t000", "t001", "t002"]
    assert {f["trial_id"]: f["attempts"] for f in found} == {"t000": 1, "t001": 1, "t002": 1}


def test_a_trial_held_by_a_dead_process_is_claimed_again(any_store):
    store = Store(any_store)
    register(store, 2)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    alive = str(os.getppid())  # pytest's parent: a live process that is not this one
    with store.engine.begin() as c:
        for tid, pid in (("t000", dead), ("t001", alive)):
            c.exec_driver_sql(f"UPDATE trials SET status = 'running', owner = '{socket.gethostname()}:{pid}' "
                              f"WHERE trial_id = '{tid}'")
    assert store.todo("s") == (["t000"], ["t001"])
    assert store.claim("s", "t000")
    assert not store.claim("s", "t001")


CLAIMER = """
import json, random, sys
from nnstudy.store import Store
store = Store(sys.argv[1])
ids = json.loads(sys.argv[2])
random.Random(sys.argv[3]).shuffle(ids)  # each process in its own order: they collide all along
print("ready", flush=True)
sys.stdin.readline()  # go: the four claim at once
print(json.dumps([t for t in ids if store.claim("s", t)]), flush=True)
sys.stdin.readline()  # alive, holding its claims, until every process has claimed (a dead owner's are free)
"""


def test_four_processes_claiming_at_once_get_each_trial_exactly_once(any_store):
    store = Store(any_store)
    ids = [t.trial_id for t in register(store, 30)]
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, any_store, json.dumps(ids), str(i)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for i in range(4)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4  # all four connected
        for say in ("go", "exit"):
            for p in procs:
                p.stdin.write(say + "\n")
                p.stdin.flush()
            if say == "go":
                got = [json.loads(p.stdout.readline()) for p in procs]
        for p in procs:
            p.communicate(timeout=60)
    finally:
        for p in procs:
            p.kill()
    claimed = [t for g in got for t in g]
    print(f"4 processes claimed {[len(g) for g in got]} of 30 trials")
    assert sorted(claimed) == ids  # every trial once, none twice
    assert {f["attempts"] for f in store.find_trials("t")} == {1}


def test_an_interrupt_turned_into_a_database_error_is_still_an_interrupt():
    """Ctrl-C while the pool pings a PostgreSQL connection reaches the store as a ProgrammingError."""
    from sqlalchemy.exc import ProgrammingError

    from nnstudy.store._retry import retrying

    def interrupted_ping():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ProgrammingError("SELECT 1", {}, Exception("can't change 'autocommit' now")) from None

    with pytest.raises(KeyboardInterrupt):
        retrying(interrupted_ping, "sqlite://", "claim")
    with pytest.raises(ProgrammingError):  # a real programming error is not swallowed
        retrying(lambda: (_ for _ in ()).throw(ProgrammingError("SELECT 1", {}, Exception("bad"))), "sqlite://", "x")
