"""`nnstudy run` on a study with [search]: the Optuna study beside the store, trials through the executor.

Optuna's history lives in ``<store folder>/<study>.optuna.sqlite3`` (one Optuna study per search setup),
so a killed search resumes where it stopped; the trials themselves are ordinary trials of the nnstudy
store (id = hash(config + seed)), so finished ones are never trained again and the report reads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.markup import escape

from ..executor._driver import RunSummary
from ..report._format import format_mean_se
from ..spec import StudyFile, Trial, trial_id
from ..spec._expand import HASHED_SECTIONS, replicates
from ..spec._search import SearchConfig, base_config, grid_points, resolve_point
from ..store import Store
from ..store._engine import shown
from . import _stored, optuna_url
from ._lockstep import LockstepRunner, before_divergence
from ._loop import Outcome, Step, finished_configurations, run_loop
from ._space import fully_proposed, params_of, point_of
from ._storage import rdb_storage

PRUNER_STARTUP = 3  # configurations finished before the median pruner stops any


def optuna_study_name(study: StudyFile) -> str:
    """One Optuna study per search setup: another space, base config or seed list starts a new history;
    raising `search.trials` (or changing `batch`) continues the same one."""
    dump = study.model_dump(mode="json")
    setup = {k: dump[k] for k in (*HASHED_SECTIONS, "search", "trials")}
    setup["search"] = {k: v for k, v in setup["search"].items() if k not in ("trials", "batch")}
    return f"{study.study.name}-{hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:12]}"


def make_sampler(search: SearchConfig, already: int) -> optuna.samplers.BaseSampler:
    seed = search.sampler_seed + already  # a resumed search continues with a fresh stream
    if search.method in ("random", "grid"):  # a grid is enqueued whole (see open_optuna)
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=search.batch > 1)


def make_pruner(search: SearchConfig) -> optuna.pruners.BasePruner:
    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def open_optuna(url: str | Path | None, name: str, search: SearchConfig, direction: str) -> optuna.Study:
    """The search's Optuna study in the database `url` (a SQLite file's path or URL, a PostgreSQL URL;
    None: in memory), created on first use."""
    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*reported.*step.*")  # a resumed configuration re-reports epochs
    storage: Any = optuna.storages.InMemoryStorage()
    if url is not None:
        storage = rdb_storage(str(url) if "://" in str(url) else f"sqlite:///{url}")
    probe = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                direction="maximize" if direction == "max" else "minimize")
    earlier = probe.get_trials(deepcopy=False)
    already = len(earlier)
    if search.method == "grid":  # every grid point, in the order of the file; those a kill left unqueued too
        queued = {_params_key(t.system_attrs["fixed_params"]) for t in earlier if "fixed_params" in t.system_attrs}
        for point in grid_points(search):
            params = params_of(point, search)
            if _params_key(params) not in queued:
                probe.enqueue_trial(params)
    return optuna.load_study(study_name=name, storage=storage, pruner=make_pruner(search),
                             sampler=make_sampler(search, already))


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


class StoreEvaluator:
    """Trains the seeds of proposed configurations as nnstudy trials and reads their final metric back."""

    def __init__(self, db: Store, study: StudyFile, text: str, label: str, task: str, metrics: list[str],
                 environment: dict[str, str], make_executor: Callable[[], Any], lockstep: LockstepRunner | None,
                 first_data=None, fail_fast: bool = False):
        self.db, self.study, self.text, self.label, self.task = db, study, text, label, task
        self.metrics, self.environment, self.make_executor = metrics, environment, make_executor
        self.lockstep, self.first_data, self.fail_fast = lockstep, first_data, fail_fast
        self.metric = study.search.resolved_metric(task)
        self.base, self.seeds = base_config(study), study.trials.seed_list()
        self.registered: dict[str, Trial] = {}
        self.summary = RunSummary()

    def trials_of(self, point: dict[str, Any]) -> list[Trial]:
        resolved = resolve_point(self.base, point, self.label)
        config = {k: resolved[k] for k in HASHED_SECTIONS}
        shown = {k: _lookup(resolved, k) for k in point}
        return [Trial(trial_id(c, seed), seed, c, shown) for seed in self.seeds for c in replicates(config, seed)]

    def register(self, trials: list[Trial]) -> None:
        self.registered.update({t.trial_id: t for t in trials if t.trial_id not in self.registered})
        s = self.study
        self.db.register(s.study.name, s.study.description, s.model_dump(mode="json"), self.text, self.task,
                         self.metrics, list(s.search.space), list(self.registered.values()), self.environment)

    @property
    def stopped(self) -> bool:
        """--fail-fast and a trial trained in this run failed or diverged: no configuration is started after it."""
        return self.fail_fast and not self.summary.ok

    def __call__(self, batch: list[tuple[optuna.Trial, dict[str, Any]]]) -> list[Outcome | None]:
        """The outcome of each configuration; None for one that --fail-fast left with seeds untrained."""
        groups = [self.trials_of(point) for _, point in batch]
        self.register([t for g in groups for t in g])
        if self.lockstep is None:
            self._add(self.make_executor().run([t for g in groups for t in g], self.first_data))
            finals = self._finals()
            return [self._outcome(g, finals) if self._settled(g, finals) else None for g in groups]
        outcomes: list[Outcome | None] = []
        for (otrial, _), group in zip(batch, groups):
            if self.stopped:
                outcomes.append(None)
                continue
            stored = self._finals()
            curves = _stored.curves(self.db, self.study.study.name, [t.trial_id for t in group], self.metric)
            todo = [t for t in group if t.trial_id not in stored]
            done_curves = [before_divergence(curves[t.trial_id], stored[t.trial_id][0])
                           for t in group if t.trial_id in stored]
            pruned_at = self.lockstep.run_config(group, todo, done_curves, otrial, self.metric, self.summary)
            if pruned_at is None and not todo:  # every seed stored by an earlier run: was it pruned then?
                epochs = max(len(curves[t.trial_id]) for t in group)
                if epochs < self.lockstep.planned(group[0]) and all(stored[t.trial_id][0] == "done" for t in group):
                    pruned_at = epochs
            outcomes.append(self._outcome(group, self._finals(), pruned_at))
        return outcomes

    def _settled(self, group: list[Trial], finals: dict[str, tuple[str, float]]) -> bool:
        """Every seed is stored finished or was trained in this run (always so, unless --fail-fast stopped it)."""
        return not self.stopped or all(t.trial_id in finals or t.trial_id in self.summary.outcomes for t in group)

    def _add(self, run: RunSummary) -> None:
        self.summary.ran += run.ran
        self.summary.outcomes.update(run.outcomes)

    def _outcome(self, group: list[Trial], stored: dict[str, tuple[str, float]], pruned_at: int | None = None
                 ) -> Outcome:
        values = list(_stored.done_values([t.trial_id for t in group], stored).values())
        return Outcome(values, len(group), pruned_at)

    def _finals(self) -> dict[str, tuple[str, float]]:
        """trial id -> (status, metric), for the stored trials that finished (done or diverged)."""
        return _stored.finals(self.db, self.study.study.name, self.metric)


def _short(point: dict[str, Any]) -> str:
    return " ".join(f"{k.split('.')[-1]}={f'{v:.4g}' if isinstance(v, float) else json.dumps(v)}"
                    for k, v in point.items())


def _lookup(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        node = node[part]
    return node


def run_search(db: Store, study: StudyFile, text: str, label: str, task: str, metrics: list[str],
               environment: dict[str, str], make_executor: Callable[[], Any], console: Console,
               store: str | Path | None, workers: int | None, device: str, fail_fast: bool,
               first_data=None, stack: str = "auto") -> RunSummary:
    """Runs the search to `search.trials` finished configurations; returns what was trained here."""
    search = study.search
    metric, direction = search.resolved_metric(task), search.resolved_direction(task)
    name = study.study.name
    url = optuna_url(store, name)
    ostudy = open_optuna(url, optuna_study_name(study), search, direction)
    lockstep = (LockstepRunner(db, name, workers, device, fail_fast, console, stack,
                               threads=getattr(make_executor(), "threads_asked", None))
                if search.pruner == "median" else None)
    evaluate = StoreEvaluator(db, study, text, label, task, metrics, environment, make_executor, lockstep,
                              first_data, fail_fast)
    if study.trials.race:  # [trials] seeds = { min, max, alpha }: candidates race for their seeds
        from ._race import racing
        evaluate = racing(evaluate, study.trials.race, console)
    earlier = [t for t in ostudy.get_trials(deepcopy=False)  # in proposal order
               if t.state != TrialState.WAITING and fully_proposed(t.params, search)]
    evaluate.register([x for t in earlier for x in evaluate.trials_of(point_of(t.params, search))])
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in earlier)
    console.print(f"{name}: {search.method} search over {', '.join(search.space)}; {search.objective} of "
                  f"{metric} over {len(evaluate.seeds)} seed(s), {direction}imize; {finished} of "
                  f"{search.trials} configuration(s) already finished (history: {shown(url)})", highlight=False)

    def on_step(step: Step) -> None:
        where = _short(step.point)
        n = len(step.outcome.values)  # one seed has no standard error: its mean alone, as in the report
        got = (f"{metric} {format_mean_se(step.mean, step.sem if n > 1 else math.nan, metric)} over {n} seed(s)"
               if step.outcome.values else "[red]failed[/]")
        if step.outcome.pruned_at is not None:
            got += f", [yellow]pruned at epoch {step.outcome.pruned_at}[/]"
        best = "" if step.best is None else f"; best {search.objective} {step.best:.4g} at {_short(step.best_point)}"
        console.print(f"[bold]search {step.number}/{search.trials}[/] {escape(where)}: {got}{escape(best)}",
                      highlight=False)

    run_loop(ostudy, search, direction, evaluate, on_step, stop=lambda: evaluate.stopped)
    evaluate.summary.stopped = evaluate.stopped and finished_configurations(ostudy) < search.trials
    finals = _stored.finals(db, name, metric)  # stored by earlier runs: not those --fail-fast left pending
    evaluate.summary.skipped = sum(t in finals and t not in evaluate.summary.outcomes for t in evaluate.registered)
    return evaluate.summary
