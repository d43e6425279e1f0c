"""kill -9 in the middle of a study, two drivers on one store, missing data: nothing lost or doubled."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from nnstudy.cli import main

STUDY = """
[study]
name = "faults"
[data]
name = "moons"
n_samples = 2000
[model]
hidden = [16, 16]
[train]
epochs = 25
batch_size = 16
[sweep]
"train.lr" = [0.1, 0.03]
[trials]
seeds = 4
[report]
metrics = ["test_accuracy", "val_loss"]
"""


def nnstudy_proc(*args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "nnstudy", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def done_rows(store):
    path = store / "nnstudy.sqlite"
    if not path.exists():
        return []
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute("select trial_id, finished_at, final_json from trials where status = 'done' "
                           "order by trial_id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def comparable(path):
    from nnstudy.report._conditions import COLUMNS  # how each trial ran (threads, executor): not its numbers

    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if c.startswith("train_time_s") or c in COLUMNS])


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text(STUDY)
    return path


def test_kill_9_then_rerun_keeps_finished_trials_and_matches_an_undisturbed_run(study, tmp_path):
    """Trials one at a time (--stack off: on the CPU these eight would train as one stack, finished together)."""
    reference = tmp_path / "reference"
    assert main(["run", str(study), "--store", str(reference), "--workers", "1", "--stack", "off"]) == 0

    store = tmp_path / "killed"
    rng = random.Random(os.getpid())
    target = rng.randint(1, 5)
    proc = nnstudy_proc("run", study, "--store", store, "--workers", "1", "--stack", "off")
    deadline = time.time() + 120
    while len(done_rows(store)) < target and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(rng.random() * 0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = done_rows(store)
    print(f"killed the driver with SIGKILL after {len(before)} finished trial(s)")
    assert 1 <= len(before) < 8

    assert main(["run", str(study), "--store", str(store), "--workers", "1", "--stack", "off"]) == 0
    after = done_rows(store)
    print(f"after the re-run: {len(after)} done; the {len(before)} finished before the kill are untouched")
    assert len(after) == 8
    assert set(before) <= set(after)  # same finish time and metrics: not trained twice
    pd.testing.assert_frame_equal(comparable(store / "faults" / "results.csv"),
                                  comparable(reference / "faults" / "results.csv"))
    pd.testing.assert_frame_equal(comparable(store / "faults" / "trials.csv"),
                                  comparable(reference / "faults" / "trials.csv"))


def test_two_drivers_on_one_store_train_each_trial_once(study, tmp_path):
    store = tmp_path / "shared"
    procs = [nnstudy_proc("run", study, "--store", store, "--workers", "1") for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    codes = [p.returncode for p in procs]
    trained = [line.split()[1] for out in outputs for line in out.splitlines() if line.startswith("done ")]
    print(f"exit codes {codes}; trials trained per driver: {[o.count(chr(10) + 'done ') for o in outputs]}")
    assert len(trained) == len(set(trained)) == 8, outputs
    assert len(done_rows(store)) == 8
    con = sqlite3.connect(store / "nnstudy.sqlite")
    assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    assert con.execute("select count(*) from trials").fetchone() == (8,)
    con.close()


def test_missing_dataset_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from nnstudy.data import _fashion_mnist

    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(_fashion_mnist, "debian_dirs", lambda: [tmp_path / "no-debian"])
    path = tmp_path / "fm.toml"
    path.write_text('[study]\nname = "fm"\n[data]\nname = "fashion-mnist"\n')
    store = tmp_path / "runs"
    assert main(["run", str(path), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nnstudy data fetch fashion-mnist" in err
    assert not store.exists()


def test_corrupt_dataset_exits_2(tmp_path, monkeypatch, capsys):
    from nnstudy.data import _fashion_mnist

    cache = tmp_path / "cache"
    (cache / "fashion-mnist").mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (cache / "fashion-mnist" / name).write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    monkeypatch.setenv("NNSTUDY_DATA", str(cache))
    monkeypatch.setattr(_fashion_mnist, "debian_dirs", lambda: [tmp_path / "no-debian"])
    path = tmp_path / "fm.toml"
    path.write_text('[study]\nname = "fm"\n[data]\nname = "fashion-mnist"\n')
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fashion-mnist" in err
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_stops_cleanly_and_releases_running_trials(study, tmp_path):
    store = tmp_path / "interrupted"
    proc = nnstudy_proc("run", study, "--store", store, "--workers", "2")
    deadline = time.time() + 120
    while len(done_rows(store)) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    con = sqlite3.connect(store / "nnstudy.sqlite")
    statuses = [s for (s,) in con.execute("select status from trials")]
    con.close()
    print(f"SIGINT after {statuses.count('done')} finished trial(s): statuses {sorted(set(statuses))}")
    assert "running" not in statuses and statuses.count("done") >= 1
    assert main(["run", str(study), "--store", str(store), "--workers", "1"]) == 0
    assert len(done_rows(store)) == 8


def test_data_ls_lists_every_dataset(capsys):
    assert main(["data", "ls"]) == 0
    out = capsys.readouterr().out
    for name in ("fashion-mnist", "digits", "iris", "moons", "circles", "sine"):
        assert name in out
    assert main(["data", "fetch", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
