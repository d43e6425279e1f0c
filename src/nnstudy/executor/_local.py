"""Local executor: trials in this process or in a pool of worker processes; only it writes the store."""

from __future__ import annotations

import json
import multiprocessing as mp
import queue as queue_mod
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from ..spec import Trial
from ..store import Store
from . import _worker
from ._progress import StudyProgress


@dataclass
class RunSummary:
    ran: int = 0
    skipped: int = 0
    busy: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # trial id -> done | failed | diverged

    @property
    def ok(self) -> bool:
        return all(v == "done" for v in self.outcomes.values())


class LocalExecutor:
    def __init__(self, store: Store, study: str, workers: int, device: str, fail_fast: bool, console: Console):
        self.store, self.study, self.workers, self.device = store, study, workers, device
        self.fail_fast, self.console = fail_fast, console

    def run(self, trials: list[Trial], first_data=None) -> RunSummary:
        todo_ids, busy = self.store.todo(self.study)
        by_id = {t.trial_id: t for t in trials}
        todo = [by_id[i] for i in todo_ids]
        summary = RunSummary(skipped=len(trials) - len(todo) - len(busy), busy=len(busy))
        if busy:
            self.console.print(f"{len(busy)} trial(s) are running in another nnstudy process; skipped here")
        if not todo:
            return summary
        total_epochs = sum(t.config["train"]["epochs"] for t in todo)
        workers = 1 if len(todo) == 1 else min(self.workers, len(todo))
        self.console.print(f"{self.study}: training {len(todo)} trial(s) on {workers} worker(s), device "
                           f"{self.device}; {summary.skipped} already stored", highlight=False)
        with StudyProgress(self.console, self.study, len(todo), total_epochs) as progress:
            if workers == 1:
                if first_data is not None:
                    _worker.preload(todo[0].config["data"], first_data)
                self._run_inline(todo, progress, summary)
            else:
                self._run_pool(todo, progress, summary)
        return summary

    def _run_inline(self, todo: list[Trial], progress: StudyProgress, summary: RunSummary) -> None:
        for trial in todo:
            if not self._claim(trial, progress):
                continue
            try:
                result, error = _worker.run_trial(trial, self.device,
                                                  report=lambda m: progress.epoch(m[0], m[1]))
            except KeyboardInterrupt:
                self.store.release(self.study, [trial.trial_id])
                raise
            if self._record(trial, result, error, progress, summary):
                return

    def _run_pool(self, todo: list[Trial], progress: StudyProgress, summary: RunSummary) -> None:
        ctx = mp.get_context("spawn")
        messages = ctx.Queue()
        pending = list(todo)
        running: dict[Future, Trial] = {}
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(todo)), mp_context=ctx,
                                   initializer=_worker.init_worker, initargs=(messages, 1))
        try:
            stop = False
            while pending or running:
                while pending and len(running) < self.workers and not stop:
                    trial = pending.pop(0)
                    if self._claim(trial, progress):
                        running[pool.submit(_worker.run_trial, trial, self.device)] = trial
                if not running:
                    break
                finished, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                self._drain(messages, progress)
                for fut in finished:
                    trial = running.pop(fut)
                    exc = fut.exception()
                    result, error = (None, f"worker died: {exc}") if exc else fut.result()
                    stop = self._record(trial, result, error, progress, summary) or stop
                if stop:
                    pending.clear()
        except KeyboardInterrupt:
            self.store.release(self.study, [t.trial_id for t in running.values()])
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _claim(self, trial: Trial, progress: StudyProgress) -> bool:
        if not self.store.claim(self.study, trial.trial_id):
            progress.finish(trial.trial_id, trial.config["train"]["epochs"],
                            f"[dim]{trial.trial_id} taken by another process, skipped[/]")
            return False
        progress.start(trial.trial_id, _label(trial), trial.config["train"]["epochs"])
        return True

    def _drain(self, messages, progress: StudyProgress) -> None:
        while True:
            try:
                trial_id, epoch, _loss = messages.get_nowait()
            except (queue_mod.Empty, OSError, EOFError):
                return
            progress.epoch(trial_id, epoch)

    def _record(self, trial: Trial, result, error: str | None, progress: StudyProgress,
                summary: RunSummary) -> bool:
        """Stores the outcome; returns True when the study must stop (fail-fast)."""
        epochs = trial.config["train"]["epochs"]
        summary.ran += 1
        if result is None:
            self.store.finish(self.study, trial.trial_id, "failed", {}, [], {}, error)
            summary.outcomes[trial.trial_id] = "failed"
            config = json.dumps(trial.config, sort_keys=True)
            progress.finish(trial.trial_id, epochs, f"[red]failed[/] {trial.trial_id} {escape(_label(trial))}: "
                            f"{escape(error or '')}\n  config: {escape(config)}")
            return self.fail_fast
        self.store.finish(self.study, trial.trial_id, result.status, result.final, result.history,
                          result.artifacts, result.error)
        summary.outcomes[trial.trial_id] = result.status
        shown = ", ".join(f"{k}={v:.4g}" for k, v in result.final.items()
                          if k in ("val_accuracy", "test_accuracy", "val_mse", "test_mse", "train_time_s"))
        color = "green" if result.status == "done" else "yellow"
        progress.finish(trial.trial_id, epochs, f"[{color}]{result.status}[/] {trial.trial_id} "
                        f"{escape(_label(trial))} {escape(shown or result.error or '')}")
        return self.fail_fast and result.status != "done"


def _label(trial: Trial) -> str:
    parts = [f"{k.split('.')[-1]}={json.dumps(v)}" for k, v in trial.point.items()]
    return " ".join(parts + [f"seed={trial.seed}"])
