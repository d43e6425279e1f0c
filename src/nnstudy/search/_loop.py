"""The search loop: ask Optuna for configurations, have each trained for every seed, tell the seed-averaged value.

The loop knows nothing of training: ``evaluate`` takes [(Optuna trial, point)] and returns one `Outcome`
per configuration (the real one trains through the executor; tests inject a cheap one).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from ..spec._search import SearchConfig
from ._objective import objective_value, pooled_sd, seed_stats
from ._space import distributions, fully_proposed, point_of

MAX_ASKS_PER_SLOT = 50  # a sampler that keeps proposing finished configurations: the space is exhausted
SEED_VALUES = "seed_values"  # user attribute (lcb): the done seeds' values a configuration was told with


@dataclass
class Outcome:
    values: list[float]  # the metric of each seed that ended done with a finite value (as the report)
    seeds: int  # seeds trained
    pruned_at: int | None = None  # the epoch every seed stopped at, when the pruner stopped the configuration


@dataclass
class Step:
    """One finished configuration, as the progress line shows it."""

    number: int  # 1-based, in the order the search finished them
    point: dict[str, Any]
    outcome: Outcome
    value: float | None  # what Optuna was told (mean or lcb); None: failed
    mean: float
    sem: float
    best: float | None
    best_point: dict[str, Any] | None


def key_of(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def run_loop(study: optuna.Study, search: SearchConfig, direction: str,
             evaluate: Callable[[list[tuple[optuna.Trial, dict]]], list[Outcome | None]],
             on_step: Callable[[Step], None] = lambda step: None, stop: Callable[[], bool] = lambda: False) -> None:
    """Until `search.trials` configurations are finished (complete or pruned), counting those of earlier runs,
    or until `stop()` says so after a batch (--fail-fast). `evaluate` gives None for a configuration it left
    untrained (it stopped first): that one stays running in Optuna, and the next run evaluates it first.

    Trials a killed run left RUNNING are evaluated again first (their seeds already in the store are not
    retrained), those it killed inside `ask` (some parameters unset) are told FAIL (an enqueued grid point is
    queued again); a proposal equal to a finished configuration is told FAIL and asked again.
    """
    dists = distributions(search)
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if fully_proposed(t.params, search):
            stale.append(optuna.Trial(study, t._trial_id))
        else:
            study.tell(t.number, state=TrialState.FAIL)
            if "fixed_params" in t.system_attrs:  # an enqueued grid point: queued again, not lost
                study.enqueue_trial(t.system_attrs["fixed_params"])
    seen = {key_of(point_of(t.params, search)) for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)}
    while (done := finished_configurations(study)) < search.trials:
        want = min(search.batch, search.trials - done)
        batch, asks = stale[:want], 0
        stale = stale[want:]
        while len(batch) < want and asks < MAX_ASKS_PER_SLOT * want:
            trial = study.ask(dists)
            asks += 1
            key = key_of(point_of(trial.params, search))
            if key in seen:
                study.tell(trial, state=TrialState.FAIL)
                continue
            seen.add(key)
            batch.append(trial)
        if not batch:
            return
        outcomes = evaluate([(t, point_of(t.params, search)) for t in batch])
        for trial, outcome in zip(batch, outcomes):
            if outcome is not None:
                _tell(study, trial, outcome, search, direction, on_step, done := done + 1)
        if stop():
            return


def finished_configurations(study: optuna.Study) -> int:
    """Complete or pruned; a failed configuration does not count (the search proposes another)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: Outcome, search: SearchConfig, direction: str,
          on_step: Callable[[Step], None], number: int) -> None:
    pooled = None
    if search.objective == "lcb":  # a single seed's SE: pooled over the configurations told so far
        trial.set_user_attr(SEED_VALUES, outcome.values)
        pooled = pooled_sd([outcome.values, *(t.user_attrs.get(SEED_VALUES, []) for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))])
    value = objective_value(outcome.values, search.objective, direction, pooled) if outcome.values else None
    if value is None or not math.isfinite(value):
        study.tell(trial, state=TrialState.FAIL)
        value = None
    elif outcome.pruned_at is not None:
        trial.set_user_attr("pruned_at_epoch", outcome.pruned_at)
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, value)
    mean, sem = seed_stats(outcome.values)
    try:
        best = study.best_trial
        best_value, best_at = best.value, point_of(best.params, search)
    except ValueError:  # nothing complete yet
        best_value, best_at = None, None
    on_step(Step(number, point_of(trial.params, search), outcome, value, mean, sem, best_value, best_at))

