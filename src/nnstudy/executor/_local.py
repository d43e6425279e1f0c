"""Local executor: trials in this process or in a pool of worker processes; only it writes the store.

The pool starts with the first batch that needs it and lives until ``close`` (the executor as a context
manager): a search or a race, which hands the executor one batch of configurations after another, starts
its worker processes once, and they keep the data they loaded.
"""

from __future__ import annotations

import os
import queue as queue_mod
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from .. import _prefetch
from .._userfiles import message
from ..spec import Trial
from . import _worker
from ._driver import Driver, RunSummary
from ._progress import StudyProgress
from ._spawn import spawn_context
from ._stacked import plan, run_stacks
from ._threads import cores, limited


class LocalExecutor(Driver):
    _pool: ProcessPoolExecutor | None = None
    _messages = None

    def close(self) -> None:
        """Shut the worker pool down (it waits for nothing: every batch's trials ended with its ``run``)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _open_pool(self) -> ProcessPoolExecutor:
        """The executor's pool, started on first use with room for --workers (default: the cores) processes;
        ProcessPoolExecutor starts each process when a trial first needs it."""
        if self._pool is None:
            ctx = spawn_context()  # spawn, and the workers never re-run the caller's script
            self._messages = ctx.Queue()
            self._pool = ProcessPoolExecutor(max_workers=self.workers or cores(), mp_context=ctx,
                                             initializer=_worker.init_pool_worker,
                                             initargs=(self._messages, self.threads, os.getpid()))
        return self._pool

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # its manager thread closes the pool's wake-up pipe once it sees the workers gone, and the exit's own
            # handler (concurrent.futures' _python_exit) writes to that pipe unlocked: a close racing it printed
            # "OSError: [Errno 9] Bad file descriptor" after an interrupt (Python 3.11). It is closed first here
            manager = getattr(pool, "_executor_manager_thread", None)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            if manager is not None:
                manager.join(timeout=10)

    def run(self, trials: list[Trial], first_data=None) -> RunSummary:
        try:
            return self._run(trials, first_data)
        finally:
            if not self.kept:  # used without a with block: the pool ends with the run
                self.close()

    def _run(self, trials: list[Trial], first_data=None) -> RunSummary:
        todo, summary = self.pending(trials)
        if not todo:
            return summary
        try:
            return self._train(todo, summary, first_data)
        except BaseException as e:  # Ctrl-C, a store lost or refusing a write: no trial is left running
            self.give_up(todo, e)
            raise

    def _train(self, todo: list[Trial], summary: RunSummary, first_data=None) -> RunSummary:
        most = self.workers or cores()
        pooled = self.device == "cpu" and most > 1  # CPU stacks train in the pool's processes, one stack each
        stacks, singles = plan(todo, self.stack, self.device, workers=most, step_size=self.step_size,
                               fill=most if pooled else 0)
        pooled = pooled and bool(stacks) and len(stacks) + len(singles) > 1
        jobs = (stacks if pooled else []) + [[t] for t in singles]
        stacks = [] if pooled else stacks  # those the driver trains
        workers = 1 if len(jobs) <= 1 else min(most, len(jobs))
        if pooled:
            where = f"{len(jobs) - len(singles)} stack(s) of up to {max(map(len, jobs))} trials" + \
                (f" and {len(singles)} alone" if singles else "") + f" on {workers} worker(s)"
        elif stacks:
            where = f"{len(stacks)} stack(s) of up to {max(map(len, stacks))} trials" + \
                (f" + {workers} worker(s)" if singles else "")
        else:
            where = f"{workers} worker(s)"
        if not stacks:  # a stack says so at its first epoch, once its graphs are captured
            _prefetch.training()
        with self.progress(todo, where, summary) as progress:
            if stacks or workers == 1:  # this process trains (only the pool's workers train else)
                if first_data is not None:
                    _worker.preload(todo[0].config["data"], first_data)
                if stacks:
                    with limited(self.alone_threads):
                        if run_stacks(self, stacks, progress, summary):
                            return summary
                if workers == 1:
                    with limited(self.threads):
                        self._run_inline(singles, progress, summary)
                    return summary
            if jobs:
                self._run_pool(jobs, workers, progress, summary)
        return summary

    def _run_inline(self, todo: list[Trial], progress: StudyProgress, summary: RunSummary) -> None:
        for trial in todo:
            if not self.claim(trial, progress):
                continue
            result, error = _worker.run_trial(trial, self.device, report=lambda m: self.epochs_ended([m], progress),
                                              resume=self.checkpoint_of([trial]))
            if self.record(trial, result, error, progress, summary):
                return

    def _run_pool(self, jobs: list[list[Trial]], workers: int, progress: StudyProgress, summary: RunSummary) -> None:
        """Each job, one trial or a stack of them (the CPU's), in the pool's processes, `workers` at a time."""
        pending = list(jobs)
        running: dict[Future, tuple[list[Trial], str | None]] = {}  # a job and its stack's progress row
        pool, messages = self._open_pool(), self._messages
        try:
            stop = False
            while pending or running:
                while pending and len(running) < workers and not stop:
                    job, row = pending.pop(0), None
                    if len(job) == 1:
                        job = job if self.claim(job[0], progress) else []
                    else:
                        job = [t for t in job if self.claim_quietly(t, progress)]
                        row = f"stack-{job[0].trial_id}" if job else None
                    if row:
                        progress.start_stack(row, {t.trial_id: self.planned(t) for t in job})
                        running[pool.submit(_worker.run_stack_in_pool, job, self.device,
                                            self.checkpoint_of(job))] = job, row
                    elif job:
                        running[pool.submit(_worker.run_trial, job[0], self.device, None,
                                            self.checkpoint_of(job))] = job, None
                if not running:
                    break
                finished, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                self._drain(messages, progress)
                for fut in finished:
                    job, row = running.pop(fut)
                    exc = fut.exception()
                    outcomes = [(None, _died(exc))] * len(job) if exc else fut.result() if row else [fut.result()]
                    if row:
                        progress.end_stack(row)
                    ran = self.conditions(len(job)) if row else None  # all of a trained stack is kept
                    for trial, (result, error) in zip(job, outcomes):
                        stop = self.record(trial, result, error, progress, summary, ran) or stop
                if stop:
                    pending.clear()
        except BaseException:  # Ctrl-C, a lost store: the workers stop (_run hands their trials back)
            self._kill_pool()
            raise
        if getattr(pool, "_broken", False):  # a worker died (its trial is stored failed): the next batch starts anew
            self._kill_pool()

    def _drain(self, messages, progress: StudyProgress) -> None:
        """The epochs the workers ended since the last look: shown, and stored in one transaction."""
        records = []
        while True:
            try:
                records.append(messages.get_nowait())
            except (queue_mod.Empty, OSError, EOFError):
                break
        if records:
            self.epochs_ended(records, progress)


def _died(exc: BaseException) -> str:
    """A trial whose worker process ended under it: what ended it (a KeyboardInterrupt of its own says no more)."""
    return f"worker died: {message(exc) or type(exc).__name__}"
