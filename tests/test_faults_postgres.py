"""Faults on a PostgreSQL store: the driver killed with SIGKILL, the database stopped for seconds, four
drivers on one study. Each test prints what it broke and what it found after. Trials train one at a time
(--stack off: on the CPU these MLP seeds would stack, and finish together)."""

import random
import signal
import time

import pytest

from fault_study import TRIALS, check_intact, finished, outputs_trained, trial_rows, write_study
from nnstudy.cli import main
from test_faults import nnstudy_proc


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Each driver trains on one thread: four of them share two cores, and the report is the same."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def wait_for(condition, proc, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)


def test_kill_9_driver_then_restart(pg_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # reports of a database store go to ./runs
    study = write_study(tmp_path)
    rng = random.Random()
    target = rng.randint(1, TRIALS - 2)
    proc = nnstudy_proc("run", study, "--store", pg_url, "--workers", "1", "--stack", "off", cwd=tmp_path)
    # mid-trial: `target` trials finished and the next one claimed
    wait_for(lambda: len(finished(pg_url)) >= target and "running" in {v[0] for v in trial_rows(pg_url).values()},
             proc)
    time.sleep(rng.random() * 0.05)
    proc.kill()
    proc.wait()
    before = finished(pg_url)
    left = [t for t, v in trial_rows(pg_url).items() if v[0] == "running"]
    assert 1 <= len(before) < TRIALS
    assert main(["run", str(study), "--store", pg_url, "--workers", "1", "--stack", "off"]) == 0
    check_intact(pg_url, before, tmp_path / "report",
                 f"SIGKILL to the driver after {len(before)} finished trial(s), {len(left)} left 'running'")


def test_database_stopped_for_seconds_during_a_study(pg_server, pg_url, tmp_path):
    study = write_study(tmp_path)
    proc = nnstudy_proc("run", study, "--store", pg_url, "--workers", "1", "--stack", "off", cwd=tmp_path)
    wait_for(lambda: len(finished(pg_url)) >= 1, proc)
    proc.send_signal(signal.SIGSTOP)  # so that the driver's next store write meets the outage, wherever it is
    before = finished(pg_url)
    down = time.monotonic()
    try:
        pg_server.stop()
        proc.send_signal(signal.SIGCONT)
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGCONT)
        pg_server.start()
    downtime = time.monotonic() - down
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    assert "unreachable" in out and "reachable again" in out, out  # the driver met the outage and waited
    check_intact(pg_url, before, tmp_path / "report",
                 f"stopped PostgreSQL for {downtime:.1f} s after {len(before)} finished trial(s); the driver "
                 f"said: {[line for line in out.splitlines() if 'reachable' in line]}")


def test_four_drivers_on_one_study_train_each_trial_once(pg_url, tmp_path):
    study = write_study(tmp_path)
    folders = [tmp_path / f"driver{i}" for i in range(4)]
    procs = []
    for folder in folders:  # each its own working folder, so their reports do not collide
        folder.mkdir()
        procs.append(nnstudy_proc("run", study, "--store", pg_url, "--workers", "1", "--stack", "off", cwd=folder))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    trained = [outputs_trained(o) for o in outputs]
    flat = [t for ts in trained for t in ts]
    assert sorted(flat) == sorted(set(flat)) and len(flat) == TRIALS, trained
    assert {v[1] for v in trial_rows(pg_url).values()} == {1}  # each trial started once in all
    check_intact(pg_url, {}, tmp_path / "report",
                 f"4 drivers at once on one study in a new database; trials trained per driver "
                 f"{[len(t) for t in trained]}")
