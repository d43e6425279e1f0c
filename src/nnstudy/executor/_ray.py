"""Ray executor: each trial, or each stack of trials that share a program (``--stack``, executor/_stacked.py),
is a Ray task with its resources; outcomes stream back to this driver as they finish, each epoch's records as
it ends (through a Ray queue the driver drains between waits), and the driver alone writes the store. A task
whose worker dies is run again by Ray, at most MAX_RETRIES times, then stored as failed. Ctrl-C hands the
trials back and ends the tasks: by ending the Ray connection nnstudy made (a driver's tasks die with it), or,
on a connection the caller made, by cancelling them."""

from __future__ import annotations

import socket
from typing import Any

from .. import _prefetch, _userfiles
from .._sources import cache_weights, source_files
from ..spec import Trial
from . import _worker
from ._cluster import import_ray
from ._driver import Driver, RunSummary
from ._progress import StudyProgress
from ._ray_checkpoints import LatestCheckpoints, newest, send
from ._stacked import plan

MAX_RETRIES = 2
WAIT_S = 0.5  # how long one ray.wait blocks, so that Ctrl-C is seen between waits


def nnstudy_trial(trial: Trial, device: str, files: dict[str, bytes], user_files: dict[str, bytes],
                  epochs: Any = None, resume: dict[str, bytes] | None = None, threads: int = 1, latest: Any = None):
    """In a Ray worker process (named ray::nnstudy_trial): `threads` intra-op threads (the CPUs the task holds);
    data cached across its trials; returns (the worker's host, [(result, error)]). `files`:
    the source weights a linear probe reads; `user_files`: the code and data files the study names (by
    sha256); both put into this machine's cache, so a worker needs no copy of the study's folder. `epochs`:
    a Ray queue that takes each epoch's record (and checkpoint) as it ends, for the driver to store; `resume`:
    the trial's stored checkpoint; `latest`: the newest checkpoints of running tasks (_ray_checkpoints.py)."""
    _start(files, user_files, epochs, threads, latest)
    resume = newest(latest, trial.trial_id, resume)
    return socket.gethostname(), [_worker.run_trial(trial, device, resume=resume)]


def nnstudy_stack(trials: list[Trial], device: str, files: dict[str, bytes], user_files: dict[str, bytes],
                  epochs: Any = None, resume: dict[str, bytes] | None = None, threads: int = 1, latest: Any = None):
    """In a Ray worker process (ray::nnstudy_stack): the trials trained as one stacked program; each epoch's
    records go to `epochs` in one batch when the epoch ends. Returns (host, [(result, error)])."""
    _start(files, user_files, epochs, threads, latest)
    resume = newest(latest, trials[0].trial_id, resume)
    if epochs is None:
        return socket.gethostname(), _worker.run_stack(trials, device, resume=resume)
    ended: list[tuple] = []

    def flush(_epoch: int) -> None:
        _worker._queue.put_all(ended[:])
        ended.clear()

    return socket.gethostname(), _worker.run_stack(
        trials, device, lambda tid, epoch, metrics: ended.append((tid, epoch, dict(metrics))), None, flush, resume,
        ended.append)


class EpochQueue:
    """Epoch records on their way to the driver through a Ray queue. A queue that is gone (the driver ended)
    loses only these live records, never the trial: its whole history comes back with its result."""

    def __init__(self, queue: Any, latest: Any = None):
        self.queue, self.latest = queue, latest

    def put(self, record: tuple) -> None:
        self.put_all([record])

    def put_all(self, records: list[tuple]) -> None:
        if records:
            try:
                self.queue.put_nowait_batch(records)
            except Exception:
                pass
            send(self.latest, records)


def _start(files: dict[str, bytes], user_files: dict[str, bytes], epochs: Any = None, threads: int = 1,
           latest: Any = None) -> None:
    _worker.init_worker(None if epochs is None else EpochQueue(epochs, latest), threads)
    for data in files.values():
        cache_weights(data)
    _userfiles.install(user_files)


class RayExecutor(Driver):
    max_retries = MAX_RETRIES
    cancels = False  # ray.cancel can abort the driver when a task finishes at that moment (a race in Ray's core)
    kind = "ray"

    def __init__(self, *args, threads: int | None = None, **kw):
        super().__init__(*args, threads=threads or 1, **kw)  # a task holds one CPU unless --threads asks more

    def run(self, trials: list[Trial], first_data=None) -> RunSummary:
        ray = import_ray()
        todo, summary = self.pending(trials)
        if not todo:
            return summary
        gpu = self.device.startswith("cuda")
        slots = self.workers or max(1, int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)))
        options = dict(num_cpus=self.threads, num_gpus=1 if gpu else 0, max_retries=self.max_retries, retry_exceptions=False)
        tasks = {False: ray.remote(nnstudy_trial).options(**options),
                 True: ray.remote(nnstudy_stack).options(**options)}
        cpu = {} if gpu else {"workers": slots, "step_size": self.step_size, "fill": slots}  # as the local pool's
        stacks, singles = plan(todo, self.stack, self.device, parts=slots, **cpu)
        jobs = stacks + [[t] for t in singles]
        _prefetch.training()  # the trials train elsewhere
        stacked = f", {len(stacks)} of them stacks" if stacks else ""
        from ray.util.queue import Queue

        epochs = Queue(actor_options={"num_cpus": 0})  # epochs as they end, from every task to this driver
        self.latest = ray.remote(LatestCheckpoints).options(num_cpus=0).remote()
        try:
            with self.progress(todo, f"Ray, {slots} at a time{stacked}", summary) as progress:
                self._stream(ray, tasks, jobs, slots, progress, summary, epochs)
        finally:
            for actor in (epochs.actor, self.latest):
                try:
                    ray.kill(actor)
                except Exception:
                    pass
        return summary

    def _drain(self, epochs, progress: StudyProgress) -> None:
        """The epochs the tasks ended since the last look: shown, and stored in one transaction."""
        try:
            n = epochs.qsize()
            records = epochs.get_nowait_batch(n) if n else []
        except Exception:  # the queue is lost: the histories still come with the results
            return
        if records:
            self.epochs_ended(records, progress)

    def _stream(self, ray, tasks, jobs: list[list[Trial]], slots: int, progress: StudyProgress,
                summary: RunSummary, epochs: Any = None) -> None:
        pending, running, stop = list(jobs), {}, False
        todo = [t for job in jobs for t in job]
        shipped: dict[tuple, object] = {}  # the user files of a job, put into Ray's object store once per set

        def user_files(job: list[Trial]):
            key = tuple(sorted({s for t in job for s in _userfiles.named_shas(t.config)}))
            if key not in shipped:
                shipped[key] = ray.put(_userfiles.trial_files(t.config for t in job))
            return shipped[key]

        try:
            while pending or running:
                while pending and len(running) < slots and not stop:
                    job = [t for t in pending.pop(0) if self.claim(t, progress)]  # claimed right before submission
                    if job:
                        task, what = tasks[len(job) > 1], job if len(job) > 1 else job[0]
                        running[task.remote(what, self.device, source_files(job), user_files(job), epochs,
                                            self.checkpoint_of(job), self.threads, getattr(self, "latest", None))] = job
                if not running:
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
                if epochs is not None:
                    self._drain(epochs, progress)
                for ref in ready:
                    job = running.pop(ref)
                    host, outcomes = self._outcome(ray, ref, len(job))
                    ran = self.conditions(len(job) if len(job) > 1 else None, host or "unknown")
                    for trial, (result, error) in zip(job, outcomes):
                        stop = self.record(trial, result, error, progress, summary, ran) or stop
                    if getattr(self, "latest", None) is not None:
                        self.latest.drop.remote(job[0].trial_id)
                if stop:
                    pending.clear()
        except BaseException as e:  # Ctrl-C, a store lost or refusing a write: no trial is left running
            self.give_up(todo, e)
            if self.cancels:
                unfinished = ray.wait(list(running), num_returns=len(running), timeout=0)[1] if running else []
                for ref in unfinished:
                    ray.cancel(ref, force=True)
            raise

    def _outcome(self, ray, ref, n: int) -> tuple[str | None, list[tuple]]:
        """(the worker's host, [(TrialResult | None, error)]) for the n trials of a task: its own answer, or why
        its worker was lost for good (host None: unknown)."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as e:
            reason = " ".join(str(e).split())[:300]
            return None, [(None, f"worker lost ({self.max_retries} retries used): {type(e).__name__}: {reason}")] * n


class SharedRayExecutor(RayExecutor):
    """On a Ray connection the caller made (a notebook's): ending it is not nnstudy's to do, so Ctrl-C cancels
    the unfinished tasks instead."""
    cancels = True
