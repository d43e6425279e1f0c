"""Checkpoints and resume inside a trial: a study interrupted after epoch k and run again trains only the
epochs after its last checkpoint, and stores exactly the numbers of an undisturbed run (CPU), for the MLP
alone and stacked, a CNN, an autoencoder and the NumPy engine; a damaged checkpoint restarts from epoch 1."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from nnstudy.cli import main
from nnstudy.engines import _checkpoint
from nnstudy.executor._driver import Driver
from nnstudy.store import resolve_url

MLP = """
[study]
name = "ck"
[data]
name = "moons"
n_samples = 300
[model]
hidden = [8, 8]
dropout = 0.2
norm = "batch"
[train]
epochs = 6
batch_size = 32
optimizer = "adam"
lr = 0.01
grad_noise = 0.01
dtype = "float64"
log_every_steps = 5
checkpoint_every = 2
schedule = { kind = "step", step_size = 2, gamma = 0.5 }
early_stopping = { patience = 5 }
[trials]
seeds = 2
"""

TIME_METRICS = ("time_s", "train_time_s")


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """The stored numbers are compared, not the reports: writing them would only cost time."""
    from nnstudy import api

    monkeypatch.setattr(api.Study, "report", lambda self, out=None: [])


def query(store, sql: str, *args) -> list:
    """Rows of ``sql`` in a store (a SQLite folder or a database URL); [] before its tables exist."""
    engine = create_engine(resolve_url(str(store)))
    try:
        with engine.connect() as c:
            return c.execute(text(sql), {"a": args[0]} if args else {}).all()
    except DBAPIError:
        return []
    finally:
        engine.dispose()


def stored(store) -> tuple[dict, dict, dict, list]:
    """(trial id -> final metrics, trial id -> {(epoch, metric): value}, trial id -> status, the artifacts'
    (trial id, name)), times left out."""
    trials = query(store, "SELECT id, trial_id, status, final_json FROM trials")
    epochs = query(store, "SELECT trial_pk, epoch, metric, value FROM epochs")
    names = query(store, "SELECT t.trial_id, a.name FROM artifacts a JOIN trials t ON t.id = a.trial_pk")
    ids = {pk: tid for pk, tid, _, _ in trials}
    finals = {tid: {k: v for k, v in json.loads(f or "{}").items() if k not in TIME_METRICS}
              for _, tid, _, f in trials}
    history: dict[str, dict] = {tid: {} for tid in finals}
    for pk, epoch, metric, value in epochs:
        if metric not in TIME_METRICS:
            history[ids[pk]][(epoch, metric)] = value
    return finals, history, {tid: s for _, tid, s, _ in trials}, sorted(map(tuple, names))


def run(study: Path, store: Path, *extra: str) -> int:
    return main(["run", str(study), "--store", str(store), "--workers", "1", *extra])


_references: dict[tuple, tuple] = {}


def reference(tmp_path_factory, text: str, *extra: str) -> tuple:
    """``stored`` of an undisturbed run of the study ``text`` (each one run once per session)."""
    key = (text, *extra)
    if key not in _references:
        folder = tmp_path_factory.mktemp("reference")
        (folder / "ck.toml").write_text(text)
        assert run(folder / "ck.toml", folder / "runs", *extra) == 0
        _references[key] = stored(folder / "runs")
    return _references[key]


def interrupted_at(monkeypatch, epoch: int):
    """Ctrl-C right after the first checkpoint of epoch ``epoch`` or later is stored."""
    write = Driver.write_checkpoint

    def then_stop(self, saved):
        write(self, saved)
        if json.loads(saved.blobs[_checkpoint.STATE])["epoch"] >= epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(Driver, "write_checkpoint", then_stop)


def counting_epochs(monkeypatch) -> list:
    """The (trial id, epoch) records the driver receives from now on."""
    seen: list = []
    from_outcome: set = set()  # epochs counted from an outcome whose epoch message may still be on its way
    ended = Driver.epochs_ended

    def count(self, records, progress):
        for r in records:
            if isinstance(r, _checkpoint.Saved):
                continue
            if (r[0], r[1]) in from_outcome:
                from_outcome.discard((r[0], r[1]))
            else:
                seen.append((r[0], r[1]))
        return ended(self, records, progress)

    record = Driver.record

    def with_last(self, trial, result, *args):  # a stack's last epoch reaches the store with its outcome; a pool
        before = [e for t, e in seen if t == trial.trial_id]  # worker's outcome can overtake its last epoch's message
        if result is not None and before:
            late = [(trial.trial_id, h["epoch"]) for h in result.history if h["epoch"] > max(before)]
            seen.extend(late)
            from_outcome.update(late)
        return record(self, trial, result, *args)

    monkeypatch.setattr(Driver, "epochs_ended", count)
    monkeypatch.setattr(Driver, "record", with_last)
    return seen


def resume_equals_undisturbed(tmp_path, monkeypatch, undisturbed: tuple, text: str, *extra: str, at: int = 2):
    """Interrupt after the checkpoint of epoch ``at``, run again, compare with ``undisturbed`` (``reference``);
    returns the epochs the re-run trained."""
    study = tmp_path / "ck.toml"
    study.write_text(text)
    with monkeypatch.context() as m:
        interrupted_at(m, at)
        assert run(study, tmp_path / "resumed", *extra) != 0
    held = [name for _, name in stored(tmp_path / "resumed")[3]]
    assert _checkpoint.STATE in held and _checkpoint.TENSORS in held  # kept while the trial is unfinished
    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, tmp_path / "resumed", *extra) == 0
    reference, resumed = undisturbed, stored(tmp_path / "resumed")
    assert resumed[0] == reference[0]  # final metrics, exactly
    assert resumed[1] == reference[1]  # every epoch's metrics, exactly
    assert set(resumed[2].values()) == {"done"}
    assert not any(name.startswith("checkpoint.") for _, name in resumed[3])  # gone when the trial ends
    assert resumed[3] == reference[3]
    return seen


def test_mlp_resumes_from_its_checkpoint_and_matches_an_undisturbed_run(tmp_path, tmp_path_factory,
                                                                        monkeypatch):
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, reference(tmp_path_factory, MLP), MLP)
    first, second = sorted({tid for tid, _ in seen})
    # the interrupted trial goes on from epoch 3 (its checkpoint: epoch 2); the other one starts
    trained = {tid: sorted(e for t, e in seen if t == tid) for tid in (first, second)}
    assert sorted(trained.values()) == [[1, 2, 3, 4, 5, 6], [3, 4, 5, 6]]


LONG = """
[study]
name = "ck-kill"
[data]
name = "moons"
n_samples = 1200
[model]
hidden = [16, 16]
dropout = 0.1
[train]
epochs = 5
batch_size = 16
optimizer = "momentum"
checkpoint_every = 1
[trials]
seeds = 2
"""


def checkpoint_epochs(store) -> dict[str, int]:
    """trial id -> the epoch of its stored checkpoint."""
    rows = query(store, "SELECT t.trial_id, a.data FROM artifacts a JOIN trials t ON t.id = a.trial_pk "
                        "WHERE a.name = :a", _checkpoint.STATE)
    return {tid: json.loads(bytes(data))["epoch"] for tid, data in rows}


def test_sigkill_in_an_epoch_then_rerun_trains_only_the_epochs_after_each_checkpoint(tmp_path, tmp_path_factory,
                                                                                     monkeypatch, any_store):
    """On SQLite and on PostgreSQL."""
    import random
    import time

    from test_faults import nnstudy_proc

    monkeypatch.chdir(tmp_path)  # reports of a database store go to ./runs
    study = tmp_path / "ck-kill.toml"
    study.write_text(LONG)
    store = any_store
    proc = nnstudy_proc("run", study, "--store", store, "--workers", "1", cwd=tmp_path)
    deadline = time.time() + 600  # a loaded machine: minutes
    seen_at = {}  # checkpoint epoch -> when the poll first saw it
    while max(seen_at, default=0) < 2 and time.time() < deadline and proc.poll() is None:
        seen_at.setdefault(max(checkpoint_epochs(store).values(), default=0), time.monotonic())
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[0]
    # somewhere in the next epoch: a fast host ends several epochs within a fixed 0.1 s and finishes the trial
    epoch_s = seen_at[max(seen_at)] - seen_at.get(1, seen_at[max(seen_at)])
    time.sleep(random.random() * min(0.1, 0.5 * epoch_s))
    proc.kill()
    proc.wait()
    at_kill = checkpoint_epochs(store)
    done = {tid for tid, status in stored(store)[2].items() if status == "done"}
    print(f"killed with checkpoints at {at_kill}, {len(done)} trial(s) done")
    assert at_kill and max(at_kill.values()) >= 2

    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, store) == 0
    for tid in stored(store)[2]:
        again = sorted(e for t, e in seen if t == tid)
        first = 0 if tid in done else at_kill.get(tid, 0) + 1
        assert again == ([] if tid in done else list(range(first, 6))), (tid, again, at_kill)
    assert stored(store)[:3] == reference(tmp_path_factory, LONG)[:3]


def test_a_stack_checkpoints_as_one_and_resumes_as_one(tmp_path, tmp_path_factory, monkeypatch):
    stacked = reference(tmp_path_factory, MLP, "--stack", "on")  # a stack adds in another order than one trial
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, stacked, MLP, "--stack", "on")
    trained = {tid: sorted(e for t, e in seen if t == tid) for tid, _ in seen}
    assert list(trained.values()) == [[3, 4, 5, 6]] * 2  # both trials of the stack go on from epoch 3


def test_stacks_in_the_pools_processes_checkpoint_and_resume_each_as_one(tmp_path, tmp_path_factory, monkeypatch):
    """Two processes, four trials: two stacks of two, one in each process (executor/_stacked.plan's fill)."""
    text = MLP.replace("seeds = 2", "seeds = 4")
    pooled = ("--stack", "on", "--workers", "2")
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, reference(tmp_path_factory, text, *pooled), text, *pooled)
    trained = sorted(sorted(e for t, e in seen if t == tid) for tid in {t for t, _ in seen})
    assert len(trained) == 4 and trained.count([3, 4, 5, 6]) in (2, 4), trained  # a stack resumes as one
    assert all(t in ([1, 2, 3, 4, 5, 6], [3, 4, 5, 6]) for t in trained), trained
    ran = [json.loads(c) for (c,) in query(tmp_path / "resumed", "SELECT conditions_json FROM trials")]
    assert [(c["stacked"], c["threads"]) for c in ran] == [(2, 1)] * 4


def test_the_numpy_engine_resumes_exactly(tmp_path, tmp_path_factory, monkeypatch):
    text = MLP.replace('[train]\n', '[train]\nengine = "numpy"\n')
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, reference(tmp_path_factory, text), text)
    trained = {tid: sorted(e for t, e in seen if t == tid) for tid, _ in seen}
    assert sorted(trained.values()) == [[1, 2, 3, 4, 5, 6], [3, 4, 5, 6]]


GENERATIVE = """
[study]
name = "ck"
[data]
name = "digits"
normalize = "minmax"
train_size = 200
[model]
{model}
[train]
optimizer = "adam"
lr = 0.003
batch_size = 32
epochs = 5
checkpoint_every = 2
[trials]
seeds = 1
"""


@pytest.mark.parametrize("model, again", [
    ('kind = "vae"\nhidden = [16]\nlatent_dim = 4', [3, 4, 5]),
    # 2 pairs x 2 pre-training epochs, then fine-tuning: its checkpoint of epoch 6 (fine-tuning epoch 2)
    ('kind = "stacked_ae"\nhidden = [12]\nencoding_dim = 4\npretrain_epochs = 2', [7, 8, 9]),
], ids=["vae", "stacked_ae"])
def test_autoencoders_resume_exactly(tmp_path, tmp_path_factory, monkeypatch, model, again):
    text = GENERATIVE.format(model=model)
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, reference(tmp_path_factory, text), text,
                                     at=2 if again[0] == 3 else 4)
    assert [e for _, e in seen] == again


CNN = """
[study]
name = "ck"
[data]
name = "digits"
train_size = 200
augment = ["flip"]
[model]
kind = "cnn"
blocks = [{ channels = 4, padding = "same", pool = "max", batch_norm = true }]
hidden = [8]
dropout = 0.3
[train]
epochs = 4
batch_size = 32
optimizer = "nesterov"
lr = 0.05
dtype = "float64"
checkpoint_every = 2
schedule = { kind = "cosine" }
[trials]
seeds = 1
"""


def test_a_cnn_resumes_exactly(tmp_path, tmp_path_factory, monkeypatch):
    seen = resume_equals_undisturbed(tmp_path, monkeypatch, reference(tmp_path_factory, CNN), CNN)
    assert [e for _, e in seen] == [3, 4]


def interrupted_study(tmp_path, monkeypatch) -> tuple[Path, Path, str]:
    """The MLP study, a reference run, and a run interrupted after epoch 2: (study, store, the trial id
    holding a checkpoint)."""
    study = tmp_path / "ck.toml"
    study.write_text(MLP)
    with monkeypatch.context() as m:
        interrupted_at(m, 2)
        assert run(study, tmp_path / "resumed") != 0
    (held,) = checkpoint_epochs(tmp_path / "resumed")
    return study, tmp_path / "resumed", held


def test_a_truncated_checkpoint_is_one_line_and_the_trial_restarts_from_epoch_1(tmp_path, tmp_path_factory,
                                                                                monkeypatch, capsys):
    study, store, held = interrupted_study(tmp_path, monkeypatch)
    con = sqlite3.connect(store / "nnstudy.sqlite")
    with con:  # cut by hand
        con.execute("UPDATE artifacts SET data = substr(data, 1, length(data) / 2) "
                    "WHERE name = 'checkpoint.safetensors'")
    con.close()
    why = "checkpoint.safetensors does not match checkpoint.json (truncated or replaced)"
    capsys.readouterr()
    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, store) == 0
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "checkpoint of" in line]
    assert len(lines) == 1 and lines[0].startswith(f"checkpoint of trial {held} unreadable: {why}")
    assert lines[0].endswith("; restarting from epoch 1")
    assert sorted(e for t, e in seen if t == held) == [1, 2, 3, 4, 5, 6]
    assert stored(store)[:3] == reference(tmp_path_factory, MLP)[:3]  # nothing lost


def test_pack_and_unpack_keep_every_value_and_refuse_other_trials_other_code_and_damage(monkeypatch):
    import numpy as np
    import torch

    state = {"w": torch.arange(6, dtype=torch.float64).view(2, 3), "a": np.array([1.5, -2.0], np.float32),
             "best": float("inf"), "nan": float("nan"), "ints": {0: (1, 2), 3: None}, "__odd": [True, "x"],
             "big": 2 ** 100, "empty": torch.zeros(0), "rng": torch.Generator().manual_seed(3).get_state()}
    blobs = _checkpoint.pack(["t1"], 7, state)
    assert set(blobs) == {_checkpoint.STATE, _checkpoint.TENSORS} and b"pickle" not in blobs[_checkpoint.STATE]
    epoch, back = _checkpoint.unpack(blobs, ["t1"])
    assert epoch == 7 and back["ints"] == {0: (1, 2), 3: None} and back["__odd"] == [True, "x"]
    assert torch.equal(back["w"], state["w"]) and back["w"].dtype == torch.float64
    assert back["a"].dtype == np.float32 and back["a"].tolist() == [1.5, -2.0]
    assert back["best"] == float("inf") and back["nan"] != back["nan"] and back["big"] == 2 ** 100
    assert torch.equal(back["rng"], state["rng"]) and back["empty"].shape == (0,)
    with pytest.raises(_checkpoint.CheckpointError, match="made for other trials"):
        _checkpoint.unpack(blobs, ["t2"])
    with pytest.raises(_checkpoint.CheckpointError, match="checkpoint.json is not JSON"):
        _checkpoint.unpack({**blobs, _checkpoint.STATE: blobs[_checkpoint.STATE][:100]}, ["t1"])
    made_by = _checkpoint.code_identity()
    monkeypatch.setattr(_checkpoint, "code_identity", lambda: "9.9.9+other")
    with pytest.raises(_checkpoint.CheckpointError, match=re.escape(f"made by other code ({made_by}; this is 9.9.9")):
        _checkpoint.unpack(blobs, ["t1"])


def test_save_weights_keeps_the_last_checkpoint_beside_the_weights(tmp_path):
    study = tmp_path / "ck.toml"
    study.write_text(MLP.replace("seeds = 2", "seeds = 1").replace("[train]\n", "[train]\nsave_weights = true\n"))
    assert run(study, tmp_path / "runs") == 0
    (tid,) = stored(tmp_path / "runs")[2]
    names = {name for _, name in stored(tmp_path / "runs")[3]}
    assert {"weights.safetensors", _checkpoint.STATE, _checkpoint.TENSORS} <= names
    assert checkpoint_epochs(tmp_path / "runs") == {tid: 4}  # every 2 epochs; the last (6) takes none


def test_pool_workers_send_their_checkpoints_to_the_driver(tmp_path, tmp_path_factory, monkeypatch):
    study = tmp_path / "ck.toml"
    study.write_text(MLP)
    store = tmp_path / "runs"
    with monkeypatch.context() as m:
        interrupted_at(m, 2)
        assert run(study, store, "--workers", "2") != 0
    at_stop = checkpoint_epochs(store)
    assert max(at_stop.values()) >= 2
    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, store, "--workers", "2") == 0
    for tid in stored(store)[2]:
        assert sorted(e for t, e in seen if t == tid) == list(range(at_stop.get(tid, 0) + 1, 7)), (tid, at_stop)
    assert stored(store)[:3] == reference(tmp_path_factory, MLP, "--workers", "2")[:3]


def test_a_ray_task_retried_after_its_worker_died_goes_on_from_its_newest_checkpoint(tmp_path, tmp_path_factory,
                                                                                     monkeypatch, ray_address):
    """SIGKILL to the Ray worker training a trial after its checkpoint of epoch 2 is stored: Ray runs the task
    again, which starts from the newest checkpoint the task sent (not from epoch 1: the store would then hold
    fewer epochs of the trial for a while), and the study ends with an undisturbed run's numbers."""
    import os
    import signal
    import time

    from ray_cluster import trial_workers
    from test_faults import nnstudy_proc

    monkeypatch.chdir(tmp_path)
    study = tmp_path / "ck-kill.toml"
    # epochs long enough to kill in after the checkpoint of epoch 2: at 6,000 samples a faster host (0.14 s an
    # epoch) ended both trials before the poll had found the worker
    longer = LONG.replace("n_samples = 1200", "n_samples = 24000")
    study.write_text(longer)
    store = str(tmp_path / "runs")
    proc = nnstudy_proc("run", study, "--executor", "ray", "--address", ray_address, "--store", store,
                        "--workers", "1", cwd=tmp_path)
    deadline = time.time() + 600
    while not any(e >= 2 for e in checkpoint_epochs(store).values()) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.02)
    killable = [(t, e) for t, e in checkpoint_epochs(store).items() if e >= 2]
    assert killable, proc.communicate()[0]
    (tid, at_kill), = killable
    workers = trial_workers()
    assert workers, proc.communicate()[0]
    os.kill(workers[0], signal.SIGKILL)

    def last_epoch() -> int:
        rows = query(store, "SELECT max(e.epoch) FROM epochs e JOIN trials t ON t.id = e.trial_pk "
                            "WHERE t.trial_id = :a", tid)
        return int(rows[0][0] or 0) if rows else 0

    lowest = last_epoch()
    while proc.poll() is None:
        lowest = min(lowest, last_epoch())
        time.sleep(0.02)
    out = proc.communicate()[0]
    print(f"killed Ray worker {workers[0]} of trial {tid} after its checkpoint of epoch {at_kill}; the trial's "
          f"stored epochs never fell below {lowest}")
    assert proc.returncode == 0, out
    assert lowest >= at_kill  # the retry did not start over
    assert stored(store)[:3] == reference(tmp_path_factory, longer)[:3]
