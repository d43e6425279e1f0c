"""Faults on a Ray cluster: a worker killed mid-trial is retried; one that keeps dying is stored as failed.
Each test prints what it broke and what it found after."""

import os
import signal
import time

from fault_study import STUDY, TRIALS, check_intact, finished, trial_rows, write_study
from nnstudy.cli import main
from nnstudy.executor._ray import MAX_RETRIES
from ray_cluster import trial_workers
from test_faults import nnstudy_proc


def kill_a_training_worker(proc, spare: set[int], busy_for: float = 0.5, timeout: float = 120) -> int:
    """SIGKILL to a Ray worker that has been training a trial for `busy_for` seconds (not one in `spare`)."""
    seen: dict[int, float] = {}
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        now = time.time()
        for pid in set(trial_workers()) - spare:
            if now - seen.setdefault(pid, now) >= busy_for:
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    raise AssertionError(f"no Ray worker trained a trial within {timeout} s: {proc.communicate()[0]}")


def test_a_ray_worker_killed_mid_trial_is_retried(ray_address, pg_url, tmp_path):
    study = write_study(tmp_path)
    proc = nnstudy_proc("run", study, "--executor", "ray", "--address", ray_address, "--store", pg_url,
                        "--stack", "off", cwd=tmp_path)  # one task per trial (auto: two stacks of three)
    victims = [kill_a_training_worker(proc, set())]
    deadline = time.time() + 120
    while not finished(pg_url) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    victims.append(kill_a_training_worker(proc, set(victims), busy_for=0.1))  # e.g. the retry of the first
    before = finished(pg_url)
    running = [t for t, v in trial_rows(pg_url).items() if v[0] == "running"]
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    check_intact(pg_url, before, tmp_path / "report",
                 f"SIGKILL to Ray workers {victims} mid-trial, the second with {len(before)} trial(s) finished and "
                 f"{running} running; the driver exited {proc.returncode}, no re-run")


def test_a_trial_whose_worker_keeps_dying_is_stored_failed_then_runs_again(ray_address, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = str(tmp_path / "runs")
    study = write_study(tmp_path, STUDY.replace("seeds = 3", "seeds = 1").replace('"train.lr" = [0.1, 0.03]', ""))
    proc = nnstudy_proc("run", study, "--executor", "ray", "--address", ray_address, "--store", store, cwd=tmp_path)
    killed: set[int] = set()
    for _ in range(1 + MAX_RETRIES):  # the first run and every retry
        killed.add(kill_a_training_worker(proc, killed, busy_for=0.2))
    out = proc.communicate(timeout=300)[0]
    (status, attempts, _, _), = trial_rows(store).values()
    print(f"\nbroke: SIGKILL to the trial's Ray worker {len(killed)} times ({MAX_RETRIES} retries allowed)\n"
          f"found: exit {proc.returncode}, status {status}, {[ln for ln in out.splitlines() if 'worker lost' in ln]}")
    assert proc.returncode == 1 and status == "failed" and attempts == 1, out
    assert "worker lost" in out
    assert main(["run", str(study), "--store", store, "--workers", "1"]) == 0  # a re-run trains it
    assert [v[:2] for v in trial_rows(store).values()] == [("done", 2)]
    assert len(finished(store)) == 1 and TRIALS == 6
