"""Process faults (issue 17): workers die with their driver; a reused pid does not keep a dead run's trial;
a trial's numbers do not depend on --workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from nnstudy.cli import main

STUDY = """
[study]
name = "procs"
[data]
name = "moons"
n_samples = {n}
[model]
hidden = [32, 32]
[train]
epochs = {epochs}
batch_size = 32
[trials]
seeds = {seeds}
"""


def _write(tmp_path, n=400, epochs=3, seeds=4):
    path = tmp_path / "procs.toml"
    path.write_text(STUDY.format(n=n, epochs=epochs, seeds=seeds))
    return path


def test_sigkill_of_a_two_worker_driver_leaves_no_worker_alive(tmp_path):
    study = _write(tmp_path, n=2000, epochs=100_000, seeds=4)
    driver = subprocess.Popen([sys.executable, "-m", "nnstudy", "run", str(study), "--store", str(tmp_path / "s"),
                               "--workers", "2", "--stack", "off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family: list[psutil.Process] = []
    try:
        deadline, workers = time.monotonic() + 90, []
        while time.monotonic() < deadline:  # both workers started and training
            workers = [p for p in psutil.Process(driver.pid).children(recursive=True)
                       if "resource_tracker" not in " ".join(p.cmdline())]
            with sqlite3.connect(tmp_path / "s" / "nnstudy.sqlite") if (tmp_path / "s" / "nnstudy.sqlite").exists() \
                    else sqlite3.connect(":memory:") as c:
                try:
                    running = c.execute("SELECT COUNT(*) FROM trials WHERE status = 'running'").fetchone()[0]
                except sqlite3.OperationalError:
                    running = 0
            if len(workers) >= 2 and running >= 2:
                break
            time.sleep(0.5)
        assert len(workers) >= 2, "the workers did not start"
        family = psutil.Process(driver.pid).children(recursive=True)  # workers and the resource tracker
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(10)
        gone, alive = psutil.wait_procs(family, timeout=10)
        assert not alive, [p.pid for p in alive]
    finally:
        _kill(driver, family)


def _kill(driver: subprocess.Popen, family: list) -> None:
    """Only what a test started: the driver and its family (orphans too), never this process's other children
    (the session's Ray cluster and PostgreSQL server are children of pytest too)."""
    if driver.poll() is None:
        driver.kill()
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def _running(store) -> int:
    if not (store / "nnstudy.sqlite").exists():
        return 0
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        try:
            return c.execute("SELECT COUNT(*) FROM trials WHERE status = 'running'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.mark.parametrize("sig,group,stack,workers", [
    (signal.SIGTERM, False, "off", 2), (signal.SIGTERM, True, "off", 2), (signal.SIGINT, True, "off", 2),
    (signal.SIGINT, True, "auto", 2), (signal.SIGINT, True, "auto", 1)],
    ids=["term-driver", "term-group", "ctrl-c-group", "ctrl-c-cpu-stacks-in-workers", "ctrl-c-cpu-stack-in-driver"])
def test_sigterm_and_ctrl_c_stop_a_run_with_one_line_and_hand_the_trials_back(tmp_path, sig, group, stack, workers):
    """SIGTERM (timeout, kill, a scheduler) ends a run as Ctrl-C does, and Ctrl-C reaching the workers too (the
    terminal's process group) prints no worker traceback; "auto" stacks the 4 trials, two in each of 2 workers or
    all 4 in the driver."""
    study, store = _write(tmp_path, n=2000, epochs=100_000, seeds=4), tmp_path / "s"
    driver = subprocess.Popen([sys.executable, "-m", "nnstudy", "run", str(study), "--store", str(store),
                               "--workers", str(workers), "--stack", stack], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    family: list[psutil.Process] = []
    training = 2 if stack == "off" else 4  # both workers' trials, or the stack's
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _running(store) < training:
            time.sleep(0.5)
        assert _running(store) == training, "the trials did not start"
        family = psutil.Process(driver.pid).children(recursive=True)
        os.killpg(driver.pid, sig) if group else driver.send_signal(sig)
        err = driver.communicate(timeout=60)[1]
        assert driver.returncode == 130, err
        assert err.strip().splitlines()[-1] == "nnstudy: interrupted; finished trials are stored, run again to continue", err
        assert "Traceback" not in err and "leaked" not in err, err
        with sqlite3.connect(store / "nnstudy.sqlite") as c:
            assert c.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall() == [("pending", 4)]
        assert not psutil.wait_procs(family, timeout=10)[1]
    finally:
        _kill(driver, family)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_child_forked_during_a_command_ends_on_sigterm_quietly():
    """The report forks its figure and test processes and ends them with SIGTERM: they must not inherit the
    command's SIGTERM-as-Ctrl-C (a KeyboardInterrupt traceback from the child, seen after `nnstudy report`)."""
    from nnstudy._sigterm import terminate_as_interrupt

    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        pid = os.fork()
        if pid == 0:
            os._exit(0 if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else 1)
        assert os.waitpid(pid, 0)[1] == 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # pytest's own, back


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A two-trial run in this process (--workers 1 --threads 1), noting the threads each trial trained with."""
    import torch
    from threadpoolctl import threadpool_info

    import nnstudy.api
    from nnstudy.executor import _local

    tmp = tmp_path_factory.mktemp("procs")
    study, seen = _write(tmp, seeds=2), []
    real = _local._worker.run_trial

    def noting(*args, **kw):
        seen.append((torch.get_num_threads(), {i["num_threads"] for i in threadpool_info()}))
        return real(*args, **kw)

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_local._worker, "run_trial", noting)
        mp.setattr(nnstudy.api.Study, "report", lambda self, out=None: [])  # the trials, not the figures
        assert main(["run", str(study), "--store", str(tmp / "s"), "--workers", "1", "--threads", "1"]) == 0
    return study, tmp / "s", seen, before


def test_a_trial_trains_with_one_thread_inline_as_in_a_worker(ran):
    """--workers 1 --threads 1 trains in the driver with one thread, as two workers on two cores do by default,
    so its numbers are theirs (more threads split reductions in another order)."""
    import torch

    _, _, seen, before = ran
    assert len(seen) == 2, seen
    assert all(torch_threads == 1 and blas <= {1} for torch_threads, blas in seen), seen
    assert torch.get_num_threads() == before  # the caller's setting is restored after the run


def test_ls_and_show_tell_a_killed_runs_trial_from_a_running_one(ran, capsys):
    """A trial left running by a killed run is shown stopped (the next run trains it again); a live one running."""
    from nnstudy.store._store import owner_tag

    _, store, _, _ = ran
    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid, *before = c.execute("SELECT trial_id, status, owner FROM trials WHERE seed = 1").fetchone()
    ended = c.execute("SELECT MAX(e.epoch) FROM epochs e JOIN trials t ON t.id = e.trial_pk WHERE t.trial_id = ?",
                      (tid,)).fetchone()[0]
    try:
        dead = f"{socket.gethostname()}:1:12345"  # pid 1 under another start time: a killed run's claim
        for owner, cell, line in ((dead, f"1 stopped (epoch {ended}/{ended})", "stopped: "),
                                  (owner_tag(), f"1 (epoch {ended}/{ended})", "running: ")):
            c.execute("UPDATE trials SET status = 'running', owner = ? WHERE trial_id = ?", (owner, tid))
            c.commit()
            capsys.readouterr()
            assert main(["ls", "--store", str(store)]) == 0
            out = capsys.readouterr().out
            assert cell in out and ("`nnstudy run` trains them again" in out) == (line == "stopped: "), out
            assert main(["show", tid, "--store", str(store)]) == 0
            assert f"\n{line}{ended} of {ended} epochs ended" in capsys.readouterr().out
    finally:
        c.execute("UPDATE trials SET status = ?, owner = ? WHERE trial_id = ?", (*before, tid))
        c.commit()
        c.close()


def test_a_reused_pid_does_not_keep_a_dead_runs_trial(ran, capsys):
    study, store, _, _ = ran
    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid = c.execute("SELECT trial_id FROM trials WHERE seed = 0").fetchone()[0]
    # left running by a killed run whose pid (1, alive) now belongs to another process: another start time
    c.execute("UPDATE trials SET status = 'running', owner = ?, final_json = NULL WHERE trial_id = ?",
              (f"{socket.gethostname()}:1:12345", tid))
    c.commit()
    capsys.readouterr()
    assert main(["run", str(study), "--store", str(store), "--workers", "1"]) == 0
    assert "ran 1, skipped 1" in capsys.readouterr().err
    status, attempts = c.execute("SELECT status, attempts FROM trials WHERE trial_id = ?", (tid,)).fetchone()
    c.close()
    assert (status, attempts) == ("done", 2)


def test_a_live_owner_with_its_start_time_keeps_its_trial():
    from nnstudy.store._store import _alive, owner_tag

    assert _alive(owner_tag())  # this process, as it tags its claims
    assert _alive(f"{socket.gethostname()}:1")  # an old tag without a start time: the pid alone
    assert not _alive(f"{socket.gethostname()}:1:12345")  # pid 1 started at another time: reused


def test_a_forked_child_tags_its_claims_as_itself():
    """The tag is read once per process: a child forked after the parent read it has its own pid in it."""
    import multiprocessing

    from nnstudy.store._store import owner_tag

    mine = owner_tag()
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=lambda: writer.send(owner_tag()))
    child.start()
    theirs = reader.recv()
    child.join()
    assert mine.split(":")[1] == str(os.getpid()) and theirs.split(":")[1] == str(child.pid)
    assert owner_tag() == mine


CNN = """
[study]
name = "threads"
[data]
name = "digits"
[model]
kind = "cnn"
blocks = [{ channels = 16, kernel = 3, padding = "same", pool = "max" }, { channels = 32, kernel = 3, padding = "same" }]
[train]
epochs = 1
batch_size = 256
optimizer = "adam"
lr = 0.001
[trials]
seeds = 2
"""


def test_a_trials_numbers_do_not_depend_on_workers(tmp_path, monkeypatch):
    """A small CNN's losses moved by ~1e-7 between 1 and 2 intra-op threads (measured on 2 cores): run inline
    (--workers 1) and in a pool (--workers 2) with the same --threads, every stored number is bit-identical.
    (By default --workers 1 takes every core: its trials record the threads they ran with.)"""
    import nnstudy.api

    monkeypatch.setattr(nnstudy.api.Study, "report", lambda self, out=None: [])  # the numbers, not the figures
    (tmp_path / "cnn.toml").write_text(CNN)
    stored = []
    for workers in ("1", "2"):
        store = tmp_path / f"w{workers}"
        assert main(["run", str(tmp_path / "cnn.toml"), "--store", str(store), "--workers", workers,
                     "--threads", "1"]) == 0
        with sqlite3.connect(store / "nnstudy.sqlite") as c:
            stored.append(c.execute("SELECT t.trial_id, e.epoch, e.metric, e.value FROM epochs e JOIN trials t "
                                    "ON t.id = e.trial_pk WHERE e.metric NOT LIKE '%time%' ORDER BY 1, 2, 3").fetchall())
    assert len(stored[0]) > 4 and stored[0] == stored[1]


def test_a_pool_worker_starts_without_the_drivers_modules():
    """A spawned worker unpickles its initializer and its trials' function from executor._worker: importing it
    (and the package around it) loads neither the store's pandas nor SQLAlchemy (half a second a worker)."""
    from nnstudy.executor import _local, _worker

    pool = _local.LocalExecutor.__new__(_local.LocalExecutor)
    pool.workers, pool.threads = 1, 1
    try:
        assert pool._open_pool()._initializer is _worker.init_pool_worker
    finally:
        pool.close()
    code = ("import sys, nnstudy.executor._worker; "
            "print(sorted(m for m in ('pandas', 'sqlalchemy', 'nnstudy.store') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_pool_worker_leaves_its_objects_to_the_exit():
    """gc.freeze at its exit: the final collection does not walk torch's objects (0.8 s -> 0.2 s to close a
    2-worker pool on two cores). Printed by a handler registered before, so run after it."""
    code = ("import atexit, gc, os, multiprocessing as mp\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, flush=True))\n"
            "from nnstudy.executor._worker import init_pool_worker\n"
            "init_pool_worker(mp.get_context('spawn').SimpleQueue(), 1, os.getppid())\n"
            "print('frozen before:', gc.get_freeze_count() > 0, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["frozen before: False", "frozen at exit: True"]


def test_a_killed_pool_has_closed_its_wakeup_pipe_before_the_exit():
    """After Ctrl-C the pool's manager thread closes its wake-up pipe while concurrent.futures' exit handler
    writes to it unlocked ("OSError: [Errno 9] Bad file descriptor" after the one line, seen once in CI):
    _kill_pool returns only once the manager thread has ended and the pipe is closed."""
    import time as clock

    from nnstudy.executor import _local

    pool = _local.LocalExecutor.__new__(_local.LocalExecutor)
    pool.workers, pool.threads = 2, 1
    executor = pool._open_pool()
    busy = [executor.submit(clock.sleep, 30) for _ in range(2)]
    deadline = clock.monotonic() + 60
    while clock.monotonic() < deadline and not all(f.running() for f in busy):
        clock.sleep(0.05)
    assert all(f.running() for f in busy), "the workers did not start"
    workers, manager = list(executor._processes.values()), executor._executor_manager_thread
    wakeup = executor._executor_manager_thread_wakeup
    pool._kill_pool()
    assert not manager.is_alive() and wakeup._closed
    assert not any(p.is_alive() for p in workers)
