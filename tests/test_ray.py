"""The Ray executor: the local executor's results on a two-node cluster, a local Ray by default, a bad
address in one line, Ctrl-C that cancels the tasks and hands their trials back."""

import importlib.util
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from cluster_fixtures import unavailable
from fault_study import NAME, TRIALS, finished, reference, tables, trial_rows, write_study
from nnstudy.cli import main
from ray_cluster import trial_workers
from test_faults import nnstudy_proc

TINY = """
[study]
name = "tiny"
[data]
name = "moons"
n_samples = 200
[model]
hidden = [4]
[train]
epochs = 2
[trials]
seeds = 2
"""


def driver(*args, cwd) -> tuple[int, str]:
    """A driver in its own process: Ray reads its settings (the cluster's token) once per process."""
    proc = nnstudy_proc(*args, cwd=cwd)
    out = proc.communicate(timeout=300)[0]
    return proc.returncode, out


def test_ray_on_a_two_node_cluster_gives_the_local_executors_results(ray_address, pg_url, tmp_path):
    study = write_study(tmp_path)
    code, out = driver("run", study, "--executor", "ray", "--address", ray_address, "--store", pg_url, cwd=tmp_path)
    assert code == 0 and "on Ray, 2 at a time, 2 of them stacks" in out, out  # auto on the CPU, as the local pool
    assert main(["report", NAME, "--store", pg_url, "--out", str(tmp_path / "ray")]) == 0
    for got, want in zip(tables(tmp_path / "ray"), reference()):  # every metric but time, to the last bit
        pd.testing.assert_frame_equal(got, want)
    assert {v[:2] for v in trial_rows(pg_url).values()} == {("done", 1)}


def test_without_an_address_ray_starts_locally(tmp_path):
    if importlib.util.find_spec("ray") is None:
        unavailable("Ray", ImportError("ray is not installed (pip install -e '.[cluster]')"))
    study = tmp_path / "tiny.toml"
    study.write_text(TINY)
    code, out = driver("run", study, "--executor", "ray", "--workers", "2", "--store", tmp_path / "runs", cwd=tmp_path)
    assert code == 0 and "on Ray, 2 at a time" in out and out.count("done ") == 2, out
    assert set(pd.read_csv(tmp_path / "runs" / "tiny" / "trials.csv").status) == {"done"}


def test_ray_trains_stacks_as_tasks_with_the_local_results(tmp_path):
    """--stack on: the 4 trials of two learning rates go to Ray as 2 stacks (one per slot), and every
    trial is stored as the local executor's stacks store it."""
    if importlib.util.find_spec("ray") is None:
        unavailable("Ray", ImportError("ray is not installed (pip install -e '.[cluster]')"))
    study = tmp_path / "tiny.toml"
    study.write_text(TINY + '[sweep]\n"train.lr" = [0.1, 0.05]\n')
    code, out = driver("run", study, "--executor", "ray", "--workers", "2", "--stack", "on", "--store",
                       tmp_path / "ray", cwd=tmp_path)
    assert code == 0 and "on Ray, 2 at a time, 2 of them stacks" in out and out.count("done ") == 4, out
    assert main(["run", str(study), "--stack", "on", "--workers", "1", "--store", str(tmp_path / "local")]) == 0
    ray_rows, local_rows = (pd.read_csv(tmp_path / d / "tiny" / "trials.csv").set_index("trial_id").sort_index()
                            for d in ("ray", "local"))
    assert set(ray_rows.status) == {"done"} and list(ray_rows.index) == list(local_rows.index)
    for col in ("val_loss", "test_accuracy", "train_loss"):
        pd.testing.assert_series_equal(ray_rows[col], local_rows[col], rtol=1e-6)


@pytest.mark.parametrize("args, expected", [
    (["--executor", "ray", "--address", "127.0.0.9:1"], "cannot reach a Ray cluster at 127.0.0.9:1"),
    (["--executor", "ray", "--address", "no-port-here"], "cannot reach a Ray cluster"),
    (["--address", "auto"], "only for --executor ray"),
])
def test_a_bad_ray_address_is_one_line_exit_2_and_nothing_written(args, expected, tmp_path, capsys):
    if "--executor" in args and importlib.util.find_spec("ray") is None:
        unavailable("Ray", ImportError("ray is not installed (pip install -e '.[cluster]')"))
    study = tmp_path / "tiny.toml"
    study.write_text(TINY)
    start = time.monotonic()
    assert main(["run", str(study), "--store", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert time.monotonic() - start < 20
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_cancels_ray_tasks_and_hands_their_trials_back(ray_address, pg_url, tmp_path):
    study = write_study(tmp_path)
    proc = nnstudy_proc("run", study, "--executor", "ray", "--address", ray_address, "--store", pg_url,
                        cwd=tmp_path)
    deadline = time.time() + 120
    while not finished(pg_url) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    statuses = [v[0] for v in trial_rows(pg_url).values()]
    time.sleep(2)
    left = trial_workers()
    print(f"\nbroke: SIGINT to a Ray driver after {statuses.count('done')} finished trial(s)\nfound: exit "
          f"{proc.returncode}, statuses {sorted(statuses)}, {len(left)} trial task(s) still running on the cluster")
    assert proc.returncode == 130 and "interrupted" in out and "Traceback" not in out, out
    assert "running" not in statuses and 1 <= statuses.count("done") < TRIALS
    assert left == []
    code, out = driver("run", study, "--executor", "ray", "--address", ray_address, "--store", pg_url, cwd=tmp_path)
    assert code == 0 and len(finished(pg_url)) == TRIALS, out


LONG = TINY.replace('name = "tiny"', 'name = "long"').replace("epochs = 2", "epochs = 100000").replace("seeds = 2",
                                                                                                          "seeds = 1")
SHARED_DRIVER = """
import sys, time, ray, nnstudy
ray.init(address=sys.argv[1], log_to_driver=False)
try:
    nnstudy.run(sys.argv[2], store=sys.argv[3], executor="ray")
except KeyboardInterrupt:
    print("caught", flush=True)
    time.sleep(30)  # the connection stays open: only a cancel can end the task
"""


def until_training(proc, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not trial_workers():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()  # before reading its output: a driver that still runs would never close it
            raise AssertionError(f"no trial started training: {proc.communicate()[0]}")
        time.sleep(0.1)


def gone_within(seconds: float) -> bool:
    deadline = time.time() + seconds
    while trial_workers():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("shared", [False, True], ids=["own connection", "caller's connection"])
def test_ctrl_c_ends_a_long_ray_task_at_once(shared, ray_address, tmp_path):
    """A trial of 100,000 epochs (hours) is training when Ctrl-C comes: its worker is gone within seconds, by the
    end of nnstudy's own Ray connection, or by a cancel on a connection a notebook made (still open)."""
    study = tmp_path / "long.toml"
    study.write_text(LONG)
    store = tmp_path / "runs"
    if shared:
        proc = subprocess.Popen([sys.executable, "-c", SHARED_DRIVER, ray_address, str(study), str(store)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    else:
        proc = nnstudy_proc("run", study, "--executor", "ray", "--address", ray_address, "--store", store,
                            cwd=tmp_path)
    try:
        until_training(proc)
        proc.send_signal(signal.SIGINT)
        if not shared:
            out = proc.communicate(timeout=60)[0]
            assert proc.returncode == 130 and "interrupted" in out, out
        assert gone_within(10), "the trial's Ray worker still trains 10 s after Ctrl-C"
        assert shared == (proc.poll() is None)  # a notebook's driver is still connected
        assert [v[0] for v in trial_rows(str(store)).values()] == ["pending"]
    finally:
        proc.kill()
        proc.wait()


def test_a_linear_probe_on_ray_gets_its_source_weights_from_the_driver(ray_address, tmp_path, monkeypatch):
    """The source network's weights are in the driver's store and cache only (each test node has a cache of
    its own): the probe trials are sent them, and store what the local executor stores."""
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "driver-cache"))
    source = tmp_path / "src.toml"
    source.write_text(TINY.replace('name = "tiny"', 'name = "src"').replace("epochs = 2", "epochs = 20\nsave_weights = true"))
    probe = tmp_path / "probe.toml"
    probe.write_text('[study]\nname = "probe"\n[data]\nname = "moons"\nn_samples = 200\n[model]\nkind = "linear_probe"\n'
                     'source = "src"\n[train]\nengine = "classical"\n[sweep]\n"model.layer" = [1, -1]\n')
    for store in ("ray", "local"):
        assert main(["run", str(source), "--store", str(tmp_path / store), "--workers", "1"]) == 0
    code, out = driver("run", probe, "--executor", "ray", "--address", ray_address, "--store", tmp_path / "ray",
                       cwd=tmp_path)
    assert code == 0 and out.count("done ") == 2, out
    assert main(["run", str(probe), "--store", str(tmp_path / "local"), "--workers", "1"]) == 0
    ray_rows, local_rows = (pd.read_csv(tmp_path / d / "probe" / "trials.csv").set_index("trial_id").sort_index()
                            for d in ("ray", "local"))
    assert set(ray_rows.status) == {"done"} and list(ray_rows.index) == list(local_rows.index)
    pd.testing.assert_series_equal(ray_rows.test_accuracy, local_rows.test_accuracy)
