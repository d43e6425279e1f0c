"""What every executor does around training: pick the trials to run, claim each, store each outcome."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from .._output import always, emit, finite, is_events
from .._text import one_error_line, terminal

from ..engines._checkpoint import NAMES as CHECKPOINT_NAMES
from ..engines._checkpoint import CheckpointError, Saved, unusable_line
from ..engines._checkpoint import header as checkpoint_header
from ..errors import StudyError
from ..kinds import dense_parameters, planned_epochs
from ..spec import Trial
from ..store import Store
from ..store._store import HAND_BACK_S
from ..store._retry import one_line
from ._progress import StudyProgress
from ._threads import alone_threads, conditions, trial_threads


@dataclass
class RunSummary:
    ran: int = 0
    skipped: int = 0
    busy: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # trial id -> done | failed | diverged
    stopped: bool = False  # --fail-fast ended a search or race with configurations or seeds it never registered

    @property
    def ok(self) -> bool:
        return all(v == "done" for v in self.outcomes.values())


class Driver:
    """The one process that writes the store while a study runs, whichever executor trains the trials.

    Use it as a context manager to keep what it starts (the local executor's worker pool) across calls of
    ``run``: a search or a race hands it one batch of trials after another; ``close`` ends it."""

    kind = "local"  # the executor named in each trial's conditions

    def __init__(self, store: Store, study: str, workers: int | None, device: str, fail_fast: bool,
                 console: Console, stack: str = "auto", threads: int | None = None):
        self.store, self.study, self.workers, self.device = store, study, workers, device
        self.fail_fast, self.console, self.stack = fail_fast, console, stack
        self.threads_asked = threads  # --threads, or None
        self.threads = trial_threads(threads, workers)  # intra-op threads of each trial (executor/_threads.py)
        self.alone_threads = alone_threads(threads, workers, device)  # of a stack or the lockstep in this process
        # a data config (sorted JSON) -> (training samples, inputs, outputs), None where it does not load
        self.data_facts: dict[str, tuple[int, int, int] | None] = {}

    kept = False  # inside a with block: what run() starts stays for the next run()
    shown = ("val_accuracy", "test_accuracy", "val_mse", "test_mse", "train_time_s")  # in each trial's line

    def __enter__(self):
        self.kept = True
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End what this executor keeps between runs (nothing, here)."""

    def conditions(self, stacked: int | None = None, host: str | None = None, threads: int | None = None) -> dict:
        """What the timing of a trial trained here depends on (stored with it); threads: default a trial's."""
        return conditions(self.device, threads or self.threads, self.kind, host, stacked)

    def pending(self, trials: list[Trial]) -> tuple[list[Trial], RunSummary]:
        """The trials to train here, in study order, and a summary counting the others."""
        todo_ids, busy = self.store.todo(self.study)
        by_id = {t.trial_id: t for t in trials}
        todo = [by_id[i] for i in todo_ids if i in by_id]  # a search hands in one batch of the study's trials
        summary = RunSummary(skipped=len(trials) - len(todo) - len(busy), busy=len(busy))
        if busy:
            self.console.print(f"{len(busy)} trial(s) are running in another nnstudy process; skipped here")
        return todo, summary

    def progress(self, todo: list[Trial], where: str, summary: RunSummary) -> StudyProgress:
        if is_events(self.console):
            emit(self.console, "start", study=self.study, trials=len(todo), where=where, device=self.device,
                 skipped=summary.skipped)
        else:
            self.console.print(f"{self.study}: training {len(todo)} trial(s) on {where}, device {self.device}; "
                               f"{summary.skipped} already stored", highlight=False)
        return StudyProgress(self.console, self.study, len(todo), sum(self.planned(t) for t in todo))

    def know_data(self, loaded: list[tuple[dict, Any]]) -> None:
        """The data configs loaded before the run, with their Dataset: their sizes, for ``planned`` and
        ``step_size``."""
        for cfg, data in loaded:
            self.data_facts[json.dumps(cfg, sort_keys=True)] = _facts(data)

    def _facts_of(self, trial: Trial) -> tuple[int, int, int] | None:
        """(training samples, inputs, outputs) of the trial's data; loaded here when no ``know_data`` gave them
        (a search's data keys)."""
        key = json.dumps(trial.config["data"], sort_keys=True)
        if key not in self.data_facts:
            try:
                from ..data import load
                from ..spec._schema import DataConfig

                self.data_facts[key] = _facts(load(DataConfig.model_validate(trial.config["data"])))
            except Exception:  # the trial fails with it where it trains
                self.data_facts[key] = None
        return self.data_facts[key]

    def planned(self, trial: Trial) -> int:
        """The epochs the trial will report (kinds.planned_epochs); a train.steps budget needs its data's size
        (the progress counts train.epochs where the data do not load)."""
        if trial.config["train"].get("steps") is None:
            return planned_epochs(trial.config)
        facts = self._facts_of(trial)
        return planned_epochs(trial.config, facts[0] if facts else None)

    def step_size(self, trial: Trial) -> int | None:
        """Multiply-adds of one training step of a dense network (the MLP family): its batch times its weights;
        None where the data do not load. What --stack auto weighs on the CPU (executor/_stacked.py)."""
        facts = self._facts_of(trial)
        if facts is None:
            return None
        n, n_in, n_out = facts
        batch = trial.config["train"]["batch_size"]
        batch = n if batch == "full" else min(batch, n)
        return batch * dense_parameters([n_in, *trial.config["model"].get("hidden", []), n_out])

    def hand_back(self, todo: list[Trial]) -> None:
        """Ctrl-C: every trial of `todo` this process holds goes back to pending, wherever the interrupt hit
        (between a claim and its submission, or in the middle of storing an outcome). Tried for about a second (a
        store locked by another process would hold the user's prompt for a minute); what it cannot hand back is
        said in one line."""
        try:
            handed = self.store.release_soon(self.study, [t.trial_id for t in todo], HAND_BACK_S)
        except KeyboardInterrupt:  # Ctrl-C again, or a store error raised while this one is handled (interrupted)
            handed = False
        if not handed:
            always(self.console, "the store did not take back the trials this run was training (locked or lost); "
                                 "they stay running, and the next run trains them")

    def give_up(self, todo: list[Trial], e: BaseException) -> None:
        """The run ends on `e` while this process may hold trials of `todo`: they go back to pending. After Ctrl-C
        as ``hand_back``; after any other failure (the store lost, say) only if the store takes it at once."""
        if isinstance(e, KeyboardInterrupt):
            self.hand_back(todo)
        else:
            self.store.release_soon(self.study, [t.trial_id for t in todo])

    def claim(self, trial: Trial, progress: StudyProgress) -> bool:
        if not self.claim_quietly(trial, progress):
            return False
        progress.start(trial.trial_id, label(trial), self.planned(trial))
        return True

    def claim_quietly(self, trial: Trial, progress: StudyProgress) -> bool:
        """Claim without a progress row of its own (a stack shows one row for all its trials)."""
        if not self.store.claim(self.study, trial.trial_id):
            progress.finish(trial.trial_id, self.planned(trial),
                            f"[dim]{trial.trial_id} taken by another process, skipped[/]")
            return False
        return True

    def epochs_ended(self, records: list, progress: StudyProgress) -> None:
        """Epochs that just ended, (trial id, epoch, metrics) each: shown, and written to the store in one short
        transaction. A write that fails is said once and training goes on: ``record`` writes the whole
        history when the trial ends. Checkpoints among them (engines/_checkpoint.Saved) are stored after."""
        saved = [r for r in records if isinstance(r, Saved)]
        records = [r for r in records if not isinstance(r, Saved)]
        for trial_id, epoch, _metrics in records:
            progress.epoch(trial_id, epoch)
        self.write_epochs(records)
        for checkpoint in saved:
            self.write_checkpoint(checkpoint)

    def write_checkpoint(self, saved: Saved) -> None:
        """A trial's (or stack's) new checkpoint, replacing its last; a write that fails is said once."""
        try:
            self.store.save_checkpoint(self.study, saved.trial_id, saved.blobs)
        except Exception as e:  # the store lost: the trial goes on, a re-run resumes from an older checkpoint
            if not getattr(self, "_checkpoints_unwritten", False):
                self._checkpoints_unwritten = True
                self.console.print(f"checkpoints not stored ({one_error_line(e)}); training goes on",
                                   highlight=False, markup=False)

    def checkpoint_of(self, trials: list[Trial]) -> dict[str, bytes] | None:
        """The stored checkpoint to resume ``trials`` (one trial, or a stack: kept under its first trial) from,
        or None. One that cannot be used is said in one line, and the trials start at epoch 1."""
        blobs = self.store.artifacts_of(self.study, trials[0].trial_id, CHECKPOINT_NAMES)
        if not blobs:
            return None
        ids = [t.trial_id for t in trials]
        try:
            checkpoint_header(blobs, ids)
        except CheckpointError as e:
            self.console.print(unusable_line(ids, str(e)), highlight=False, markup=False)
            return None
        return blobs

    def write_epochs(self, records: list[tuple[str, int, dict[str, float]]]) -> None:
        """``epochs_ended`` without the display: the records written in one short transaction."""
        try:
            self.store.add_epochs(self.study, records)
        except Exception as e:  # the store lost for longer than its retries: the trial is not failed for it
            if not getattr(self, "_epochs_unwritten", False):
                self._epochs_unwritten = True
                self.console.print(f"epochs not recorded as they end ({one_error_line(e)}); each "
                                   f"trial's history is written when it ends", highlight=False, markup=False)

    def record(self, trial: Trial, result, error: str | None, progress: StudyProgress,
               summary: RunSummary, conditions: dict | None = None) -> bool:
        """Stores the outcome, with the conditions it trained under (default: ``self.conditions()``); returns
        True when the study must stop (fail-fast)."""
        epochs = self.planned(trial)
        summary.ran += 1
        conditions = conditions or self.conditions()
        if result is not None and (refused := self._store_result(trial, result, conditions)):
            result, error = None, refused
        if result is None:  # keeps its epochs so far
            self.store.finish(self.study, trial.trial_id, "failed", {}, None, {}, error, conditions)
            summary.outcomes[trial.trial_id] = "failed"
            progress.outcome(trial.trial_id, seed=trial.seed, **fold_of(trial), point=trial.point, status="failed",
                             final={}, error=error)
            config = json.dumps(trial.config, sort_keys=True)
            first, _, traceback = (error or "").partition("\n")  # the full traceback: nnstudy show
            more = f" (nnstudy show {trial.trial_id} prints the traceback)" if traceback else ""
            progress.finish(trial.trial_id, epochs, f"[red]failed[/] {trial.trial_id} {terminal(label(trial))}: "
                            f"{terminal(first)}{more}\n  config: {escape(config)}")
            return self.fail_fast
        summary.outcomes[trial.trial_id] = result.status
        progress.outcome(trial.trial_id, seed=trial.seed, **fold_of(trial), point=trial.point, status=result.status,
                         final=finite(result.final), error=result.error)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in result.final.items()
                          if k in self.shown and isinstance(v, (int, float)))
        color = "green" if result.status == "done" else "yellow"
        progress.finish(trial.trial_id, epochs, f"[{color}]{result.status}[/] {trial.trial_id} "
                        f"{terminal(label(trial))} {terminal(shown or result.error or '')}")
        return self.fail_fast and result.status != "done"

    def _store_result(self, trial: Trial, result, conditions: dict) -> str | None:
        """Writes the outcome of a trial that trained to its end (done or diverged); returns why the store refused
        it (a blob too big for it, say: the trial fails for that), else None."""
        kept = self.store.artifacts_of(self.study, trial.trial_id, CHECKPOINT_NAMES) \
            if trial.config["train"].get("save_weights") else {}  # the last checkpoint stays with the weights
        try:
            self.store.finish(self.study, trial.trial_id, result.status, result.final, result.history,
                              kept | result.artifacts, result.error, conditions)
        except StudyError:  # the store failed (full, read-only, locked past its retries): the run ends on it
            raise
        except Exception as e:
            return f"the store refused its outcome: {one_line(e)}"
        return None


def label(trial: Trial) -> str:
    """What a progress row and a trial's line name it by: its swept values, its seed, and its fold of
    data.folds (counted from 1: fold=2/5 holds out data.fold = 1)."""
    parts = [f"{k.split('.')[-1]}={json.dumps(v)}" for k, v in trial.point.items()] + [f"seed={trial.seed}"]
    fold = fold_of(trial)
    return " ".join(parts + ([f"fold={fold['fold'] + 1}/{fold['folds']}"] if fold else []))


def fold_of(trial: Trial) -> dict[str, int]:
    """{"fold": the fold it holds out (from 0, as data.fold), "folds": data.folds} for a trial of a
    cross-validation, {} otherwise: fields of its ``--json`` trial event."""
    data = trial.config["data"]
    if not data.get("folds") or data.get("fold") is None:
        return {}
    return {"fold": data["fold"], "folds": data["folds"]}


def _facts(data: Any) -> tuple[int, int, int]:
    """(training samples, inputs per sample, outputs) of a Dataset."""
    return len(data.x_train), int(math.prod(data.x_train.shape[1:])), data.n_outputs
