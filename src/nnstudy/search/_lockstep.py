"""Pruning on the seed-mean curve: the seeds of one configuration train side by side, one epoch at a time.

Each seed trains in its own thread, but only one thread runs at a time: after an epoch a seed hands the
turn on (a baton), and after every seed has trained epoch e the coordinator reports the seed-mean of the
metric to Optuna as the intermediate value and asks the pruner. A pruned configuration stops every seed at
that epoch; its trials are stored ``done`` with fewer ``epochs_run`` (the last epoch's metrics, no
artifacts). Each thread keeps its own copy of torch's global random state across turns, so a seed trains
exactly as it would alone: same trial id, same numbers.

Where the seeds may share one stacked program (``--stack``: by default on CUDA, and on the CPU three or more
seeds of a small MLP-family network; see executor/_stacked.py), they train as one stack instead, and the
pruner is asked between its epochs.
"""

from __future__ import annotations

import math
import threading
import traceback
from typing import Any

import optuna
import torch

from ..executor._driver import Driver, RunSummary
from ..executor._stacked import plan
from ..executor._threads import limited
from ..executor._worker import one_line
from ..spec import Trial

COORDINATOR = "coordinator"


class _Stop(Exception):
    pass


class Baton:
    """Turns in a fixed order; whoever holds the turn runs, with its own torch random state."""

    def __init__(self, order: list[str], cuda: bool):
        self.order, self.turn, self.cuda = list(order), order[0], cuda
        self.cond = threading.Condition()
        self.states: dict[str, Any] = {}

    def wait_turn(self, me: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == me)
        if me in self.states:
            cpu, gpu = self.states.pop(me)
            torch.set_rng_state(cpu)
            if gpu is not None:
                torch.cuda.set_rng_state_all(gpu)

    def pass_on(self, me: str) -> None:
        """Give the turn to the next in order and wait for it to come back."""
        self.states[me] = (torch.get_rng_state(), torch.cuda.get_rng_state_all() if self.cuda else None)
        with self.cond:
            self.turn = self.order[(self.order.index(me) + 1) % len(self.order)]
            self.cond.notify_all()
        self.wait_turn(me)

    def leave(self, me: str) -> None:
        with self.cond:
            i = self.order.index(me)
            self.order.remove(me)
            self.turn = self.order[i % len(self.order)]
            self.cond.notify_all()


def stopped_result(rows: list[dict[str, float]]):
    """The TrialResult of a seed the pruner stopped: its history so far, the last epoch's metrics."""
    from ..engines._common import EarlyStopper, final_metrics
    from ..engines._result import TrialResult
    from ._history import PRUNED_AT

    never = EarlyStopper({"patience": 0, "min_delta": 0.0, "restore_best": False})
    final = final_metrics(rows, never, None, "done", rows[-1]["time_s"])
    final[PRUNED_AT] = float(len(rows))  # the search's history tells a pruned seed from one whose budget ended
    return TrialResult("done", final, rows)


class LockstepRunner(Driver):
    """Trains one configuration's seeds side by side for the median pruner; stores each outcome."""

    def run_config(self, trials: list[Trial], todo: list[Trial], done_curves: list[dict[int, float]],
                   otrial: optuna.Trial, metric: str, summary: RunSummary) -> int | None:
        """Trains `todo` (the seeds of `trials` not yet stored); returns the epoch it was pruned at, or None.
        `done_curves`: the metric per epoch of the seeds already stored, part of the mean."""
        if not todo:
            return None
        stacks, singles = plan(todo, self.stack, self.device, workers=1,  # its seeds take turns in this process
                               step_size=self.step_size)
        stacked = len(stacks) == 1 and not singles
        where = "one stacked program" if stacked else "one process, seeds in lockstep"
        with self.progress(todo, where, summary) as progress, limited(self.alone_threads):
            claimed = [t for t in todo if self.claim(t, progress)]
            try:
                train = self._stacked if stacked and len(claimed) == len(todo) else self._threads
                epochs = max(self.planned(t) for t in trials)  # train.steps: the epochs its budget takes
                results, pruned_at = train(claimed, done_curves, otrial, metric, epochs, progress)
                ran = self.conditions(len(claimed) if train == self._stacked else None, threads=self.alone_threads)
                for t in claimed:  # every seed trained is kept, even under fail-fast (as a stack's trials)
                    result, error = results[t.trial_id]
                    self.record(t, result, error, progress, summary, ran)
            except BaseException as e:  # Ctrl-C, a store lost or refusing a write: no seed is left running
                self.give_up(claimed, e)
                raise
        return pruned_at

    def _stacked(self, claimed: list[Trial], done_curves: list[dict[int, float]], otrial: optuna.Trial,
                 metric: str, epochs: int, progress) -> tuple[dict[str, tuple], int | None]:
        from ..engines import get_engine
        from ..executor._worker import load_data

        rows: dict[str, list[dict[str, float]]] = {t.trial_id: [] for t in claimed}
        values: dict[int, list[float]] = {}
        stop_at: list[int] = []

        ended: list[tuple[str, int, dict[str, float]]] = []  # this epoch's records, stored when it ends

        def on_epoch(trial_id: str, epoch: int, metrics: dict[str, float]) -> None:
            rows[trial_id].append({"epoch": epoch, **metrics})
            values.setdefault(epoch, []).append(counted(rows[trial_id], metric))
            progress.epoch(trial_id, epoch)
            ended.append((trial_id, epoch, dict(metrics)))

        def stop(epoch: int) -> bool:
            self.write_epochs(ended[:])
            ended.clear()
            if epoch < epochs and prune(otrial, epoch, values, done_curves):
                stop_at.append(epoch)
            return bool(stop_at)

        engine = get_engine(claimed[0].config["train"]["engine"])
        try:
            trained = engine.train_group(claimed, load_data(claimed[0].config["data"]), on_epoch, self.device,
                                         stop=stop)
        except Exception as e:  # the stack's failure is recorded for each of its seeds
            return {t.trial_id: (None, one_line(e)) for t in claimed}, None
        results = {}
        for t, result in zip(claimed, trained):
            pruned = stop_at and len(rows[t.trial_id]) == stop_at[0]  # still training when the pruner struck
            results[t.trial_id] = (stopped_result(rows[t.trial_id]) if pruned else result, None)
        return results, (stop_at[0] if stop_at else None)

    def _threads(self, claimed: list[Trial], done_curves: list[dict[int, float]], otrial: optuna.Trial,
                 metric: str, epochs: int, progress) -> tuple[dict[str, tuple], int | None]:
        from ..engines import get_engine
        from ..executor._worker import load_data

        baton = Baton([COORDINATOR] + [t.trial_id for t in claimed], cuda=self.device.startswith("cuda"))
        values: dict[int, list[float]] = {}
        results: dict[str, tuple] = {}
        stop_at: list[int] = []

        def train(trial: Trial) -> None:
            rows: list[dict[str, float]] = []

            def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
                rows.append({"epoch": epoch, **metrics})
                values.setdefault(epoch, []).append(counted(rows, metric))
                progress.epoch(trial.trial_id, epoch)
                self.write_epochs([(trial.trial_id, epoch, dict(metrics))])
                baton.pass_on(trial.trial_id)
                if stop_at:
                    raise _Stop

            baton.wait_turn(trial.trial_id)
            try:
                engine = get_engine(trial.config["train"]["engine"])
                results[trial.trial_id] = (engine.train(trial, load_data(trial.config["data"]), on_epoch,
                                                        self.device), None)
            except _Stop:
                results[trial.trial_id] = (stopped_result(rows), None)
            except Exception as e:  # a trial's failure is data for the store
                where = traceback.extract_tb(e.__traceback__)[-1]
                results[trial.trial_id] = (None, f"{type(e).__name__}: {e} ({where.name}:{where.lineno})")
            finally:
                baton.leave(trial.trial_id)

        threads = [threading.Thread(target=train, args=(t,), daemon=True) for t in claimed]
        for th in threads:
            th.start()
        epoch = 0
        while len(baton.order) > 1:
            baton.pass_on(COORDINATOR)  # every live seed trains one epoch
            epoch += 1
            if epoch < epochs and len(baton.order) > 1 and not stop_at and prune(otrial, epoch, values, done_curves):
                stop_at.append(epoch)
        for th in threads:
            th.join()
        return results, (stop_at[0] if stop_at else None)


def counted(rows: list[dict[str, float]], metric: str) -> float:
    """A seed's metric at its latest epoch for the seed mean; NaN (left out) at the epoch it diverges there,
    by the engines' rule on the training loss: a model that blew up says nothing of the configuration."""
    from ..engines._common import diverged

    first, last = rows[0].get("train_loss", math.nan), rows[-1].get("train_loss", math.nan)
    if diverged(last, first) is not None:
        return math.nan
    return float(rows[-1].get(metric, math.nan))


def before_divergence(curve: dict[int, float], status: str) -> dict[int, float]:
    """A stored seed's curve for the seed mean: a diverged seed's without the epoch it diverged at (its last)."""
    if status != "diverged" or not curve:
        return curve
    last = max(curve)
    return {epoch: v for epoch, v in curve.items() if epoch != last}


def prune(otrial: optuna.Trial, epoch: int, values: dict[int, list[float]], done_curves: list[dict[int, float]]
          ) -> bool:
    """Reports the seed mean of epoch `epoch` (the seeds trained now and those stored, finite there) and asks
    the pruner."""
    got = [v for v in values.get(epoch, []) + [c[epoch] for c in done_curves if epoch in c] if math.isfinite(v)]
    if not got:
        return False
    otrial.report(sum(got) / len(got), epoch)
    return otrial.should_prune()
