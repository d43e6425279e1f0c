"""Racing seeds (issue 20 item 4), the decision rule: which configurations get more seeds.

Every configuration runs ``min`` seeds; after each round the leader (best mean of the racing metric) is
compared with every other configuration still in the race, paired on the seeds both ran (paired t-test,
Welch's test when fewer than two seeds pair), Holm-corrected over those comparisons. A configuration
significantly worse than the leader leaves the race; the others get one more seed. The race ends when
one configuration stands alone or every one left has ``max`` seeds.

The race looks at the data once per round, up to ``max - min + 1`` times; each look tests at
``alpha / looks`` (Bonferroni over the looks, Holm within a look), so the chance that the truly best
configuration is ever dropped stays below ``alpha`` (checked by simulation: tests/test_race.py).
``method = "friedman"`` (F-Race, Birattari et al. 2002) first asks a Friedman test over the seeds every
configuration ran whether the configurations differ at all, and only then runs the pairwise tests.

This module decides; it trains nothing. ``race(sample, k, rule)`` plays a whole race against a function
that returns one configuration's score for a seed: the training loop in the executor, or a simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable

import numpy as np

from .report._robust import pairs, paired_p
from .report._significance import holm, welch_p

METHODS = ("holm", "friedman")


@dataclass(frozen=True)
class RaceRule:
    min: int = 3
    max: int = 20
    alpha: float = 0.05
    method: str = "holm"

    def check(self, configurations: int) -> None:
        """One line (ValueError) for a race that cannot run."""
        if not (isinstance(self.min, int) and isinstance(self.max, int)) or self.min < 2:
            raise ValueError(f"seeds.min must be a whole number >= 2 (got {self.min!r}): a test needs two seeds")
        if self.min > self.max:
            raise ValueError(f"seeds.min ({self.min}) is larger than seeds.max ({self.max})")
        if not 0 < self.alpha <= 0.5:
            raise ValueError(f"seeds.alpha must be in (0, 0.5] (got {self.alpha!r})")
        if self.method not in METHODS:
            raise ValueError(f"seeds.method must be one of {', '.join(METHODS)} (got {self.method!r})")
        if configurations < 2:
            raise ValueError("racing seeds needs at least two configurations to race (the sweep has one)")

    @property
    def looks(self) -> int:
        return self.max - self.min + 1

    @property
    def alpha_per_look(self) -> float:
        return self.alpha / self.looks


def _leader(groups: dict[Hashable, dict], alive: list, higher: bool) -> Hashable:
    means = {c: float(np.mean(list(groups[c].values()))) for c in alive}
    return (max if higher else min)(alive, key=lambda c: (means[c], -alive.index(c)))


def _paired_many(xs, y) -> np.ndarray:
    """`paired_p(x, y)` for every row x of `xs` at once (the same seeds everywhere: a race's usual case)."""
    d = np.asarray(xs, dtype=float) - np.asarray(y, dtype=float)[None, :]
    n = d.shape[1]
    mean, sd = d.mean(axis=1), d.std(axis=1, ddof=1)
    const = np.all(d == d[:, :1], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / np.sqrt(n))
    from scipy import stats as st  # here, not on import: the report of a study that did not race needs none

    p = np.minimum(1.0, 2 * st.t.sf(np.abs(t), n - 1))
    return np.where(const, np.where(mean == 0, 1.0, 0.0), p)


def step(groups: dict[Hashable, dict], alive: list, rule: RaceRule, higher: bool = True) -> list:
    """The configurations of `alive` that stay in the race after one look at `groups` ({config: {seed:
    value}}): the leader and every configuration not significantly worse than it. (The callers leave out a
    configuration none of whose seeds finished: it leaves the race, unless no configuration has a value.)"""
    if len(alive) < 2:
        return list(alive)
    a = rule.alpha_per_look
    if rule.method == "friedman":
        shared = sorted(set.intersection(*(set(groups[c]) for c in alive)))
        if len(alive) >= 3 and len(shared) >= 2:
            table = [[groups[c][s] for s in shared] for c in alive]
            from scipy import stats as st

            if np.ptp(np.asarray(table)) == 0 or st.friedmanchisquare(*table).pvalue >= a:
                return list(alive)  # no evidence that the configurations differ: everyone stays
    lead = _leader(groups, alive, higher)
    others = [c for c in alive if c != lead]
    seeds = list(groups[lead])
    if len(seeds) >= 2 and all(groups[c].keys() == groups[lead].keys() for c in others):
        p = _paired_many([[groups[c][s] for s in seeds] for c in others], [groups[lead][s] for s in seeds])
    else:  # configurations with different seeds (a failed trial): one test at a time
        p = []
        for c in others:
            x, y = pairs(groups[c], groups[lead])
            p.append(paired_p(x, y) if len(x) >= 2 else welch_p(list(groups[c].values()),
                                                                 list(groups[lead].values())))
    p_holm = holm(p)
    return [c for c in alive if c == lead or not (others and p_holm[others.index(c)] < a)]


@dataclass
class RaceResult:
    best: Hashable  # the leader at the end
    seeds: dict  # configuration -> the number of seeds it ran
    left_at: dict = field(default_factory=dict)  # configuration -> the round (its seed count) at which it left
    rounds: int = 0

    @property
    def trials(self) -> int:
        return sum(self.seeds.values())


def race(sample: Callable[[Hashable, int], float], configs: list, rule: RaceRule,
         higher: bool = True, seeds: list[int] | None = None) -> RaceResult:
    """Play a race: `sample(config, seed)` is one trial's racing metric; `seeds` the seed order
    (default 0, 1, 2, ...). Returns the leader, the seeds each configuration ran and when each left."""
    rule.check(len(configs))
    order = list(seeds) if seeds is not None else list(range(rule.max))
    groups: dict = {c: {} for c in configs}
    alive = list(configs)
    left: dict = {}
    n = rule.min
    for s in order[:n]:
        for c in configs:
            groups[c][s] = float(sample(c, s))
    rounds = 1
    while True:
        kept = step(groups, alive, rule, higher)
        for c in alive:
            if c not in kept:
                left[c] = n
        alive = kept
        if len(alive) == 1 or n >= rule.max:
            break
        s = order[n]
        for c in alive:
            groups[c][s] = float(sample(c, s))
        n += 1
        rounds += 1
    return RaceResult(_leader(groups, alive, higher), {c: len(groups[c]) for c in configs}, left, rounds)


# ---------------------------------------------------------------- a study's race


def racing_metric(spec: dict, metrics: list[str]) -> str | None:
    """The metric a study races on: its first report metric, on validation (``test_accuracy`` races on
    ``val_accuracy``) when the study holds out a validation split."""
    if not metrics:
        return None
    m = metrics[0]
    validation = float(((spec.get("data") or {}).get("validation") or 0.0))
    return "val_" + m[len("test_"):] if m.startswith("test_") and validation > 0 else m


def run_race(db, study, text: str, task: str, metrics: list[str], trials: list, environment: dict,
             make_executor: Callable, first_data, console, swept: list[str], fail_fast: bool):
    """Train a study's race, round by round: every configuration's first ``min`` seeds, then more seeds a
    round for the configurations still in it (``step``): one each, or as many as leave no worker idle
    (``_ahead``; the race still looks after every seed count, so its decisions do not depend on the workers).
    Each round registers its trials and trains them with the study's executor (stacks on a GPU or with
    ``--stack on``, tasks on Ray); a killed race run again finds its rounds stored and takes the same
    decisions, so it resumes where it stopped. Returns the merged RunSummary."""
    import json
    import math

    from .errors import StudyError
    from .executor._driver import RunSummary
    from .report._stats import higher_is_better
    from .search._stored import finals

    r = study.trials.race
    rule = RaceRule(r.min, r.max, r.alpha, r.method)
    name = study.study.name
    by: dict[str, dict[int, object]] = {}
    labels: dict[str, str] = {}
    for t in trials:
        key = json.dumps(t.point, sort_keys=True, default=str)
        by.setdefault(key, {})[t.seed] = t
        labels[key] = ", ".join(f"{k}={json.dumps(v)}" for k, v in t.point.items()) or "all trials"
    configs = list(by)
    try:
        rule.check(len(configs))
    except ValueError as e:
        raise StudyError(f"trials.seeds: {e}") from None
    metric = racing_metric(study.model_dump(mode="json"), metrics)
    higher = higher_is_better(metric)
    seeds = study.trials.seed_list()
    spec = study.model_dump(mode="json")
    registered: dict[str, object] = {}
    total = RunSummary()
    executor = make_executor()
    slots = _slots(executor)
    alive, n, stop = list(configs), rule.min - 1, False  # n: the seed count of the race's last look
    trained = min(rule.max, max(rule.min, slots // len(configs)))  # idle workers run ahead (see _ahead)
    batch = [by[c][s] for c in alive for s in seeds[:trained]]
    console.print(f"{name}: racing {len(configs)} configurations on {metric}: {rule.min} to {rule.max} seeds, "
                  f"α = {rule.alpha} ({rule.method})", highlight=False, markup=False)
    while True:
        registered.update((t.trial_id, t) for t in batch)
        db.register(name, study.study.description, spec, text, task, metrics, swept, list(registered.values()),
                    environment)
        got = executor.run(batch, first_data)
        executor = make_executor()
        total.ran, total.skipped, total.busy = total.ran + got.ran, total.skipped + got.skipped, total.busy + got.busy
        total.outcomes.update(got.outcomes)
        if fail_fast and not got.ok:  # not over: a run again takes this round's looks, then maybe more rounds
            total.stopped = trained < rule.max
            return total
        stored = finals(db, name, metric)
        for look in range(n + 1, trained + 1):  # every seed count is one look, as if seeds came one at a time
            first = set(seeds[:look])  # a resumed race may hold later seeds already: each look sees its own
            groups = {c: {s: stored[t.trial_id][1] for s, t in by[c].items() if s in first and t.trial_id in stored
                          and stored[t.trial_id][0] == "done" and math.isfinite(stored[t.trial_id][1])}
                      for c in alive}
            if not any(groups.values()):
                if any(v == "done" for v in got.outcomes.values()) or (not got.outcomes and got.skipped):
                    raise StudyError(f"{name}: trials.seeds: the finished trials record no {metric}, the metric "
                                     f"the race compares (the first report metric, on validation); report it or "
                                     f"put a metric the trials record first in [report] metrics")
                stop = True  # nothing finished: no race to run
                break
            tested = [c for c in alive if groups[c]]
            kept = set(step(groups, tested, rule, higher)) if tested else set(alive)
            for c in alive:
                if c not in kept:
                    why = (f"significantly worse than the leader on {metric}" if groups[c] else
                           "none of its seeds finished (failed or diverged)")
                    console.print(f"{name}: {labels[c]} leaves the race after {look} seeds ({why})",
                                  highlight=False, markup=False)
            alive, n = [c for c in alive if c in kept], look
            if len(alive) == 1:
                break
        if stop or len(alive) == 1 or n >= rule.max:
            break
        trained = min(rule.max, n + _ahead(slots, len(alive)))
        batch = [by[c][s] for c in alive for s in seeds[n:trained]]
    full = len(configs) * rule.max
    console.print(f"{name}: race over after {n} seeds: {len(registered)} trials instead of {full} "
                  f"({len(configs)} configurations × {rule.max} seeds); "
                  f"{'the leader stands alone' if len(alive) == 1 else f'{len(alive)} still in'}",
                  highlight=False, markup=False)
    return total


def _slots(executor) -> int:
    """How many trials the executor trains at once: --workers, else the CPUs (Ray: the cluster's)."""
    import os

    if getattr(executor, "workers", None):
        return int(executor.workers)
    if type(executor).__name__.endswith("RayExecutor"):
        try:
            import ray

            return max(1, int(ray.cluster_resources().get("CPU", 1)))
        except Exception:  # noqa: BLE001  (no cluster to ask: one at a time)
            return 1
    return os.cpu_count() or 1


def _ahead(slots: int, alive: int) -> int:
    """Seeds a round adds to each configuration still racing: one, or as many as the idle workers allow
    (``slots // alive``). The looks do not change: the race still looks after every seed count, in order,
    so its decisions (and their error rate) are those of a race that adds one seed at a time; a configuration
    that leaves at an earlier look of the round keeps the seeds it ran ahead (stored, in the tables)."""
    return max(1, slots // max(1, alive))


def replay(values: dict, rule: RaceRule, higher: bool, seeds: list) -> dict:
    """The race again, from stored values ({config: {seed: value}}, `seeds` in race order): {config: the seed
    count after which it left}. ``run_race`` took the same decisions from the same values."""
    alive, left = list(values), {}
    ran = max((len(v) for v in values.values()), default=0)
    for n in range(rule.min, min(rule.max, ran) + 1):
        first = set(seeds[:n])
        groups = {c: {s: x for s, x in values[c].items() if s in first} for c in alive}
        tested = [c for c in alive if groups[c]]
        kept = set(step(groups, tested, rule, higher)) if tested else set(alive)
        left.update({c: n for c in alive if c not in kept})
        alive = [c for c in alive if c in kept]
        if len(alive) == 1:
            break
    return left


def race_note(spec: dict, metrics: list[str], labels: list[str], trials) -> str:
    """The report's sentence about a race ('' for a study that did not race): the trials used against the
    full grid, and which configuration left after how many seeds (the race replayed from the store).
    `trials`: the study's trials with ``config``, ``seed``, ``status`` and the racing metric."""
    import math

    import pandas as pd

    from .report._stats import higher_is_better

    seeds = (spec.get("trials") or {}).get("seeds")
    if not isinstance(seeds, dict) or not len(labels):
        return ""
    rule = RaceRule(int(seeds.get("min", 3)), int(seeds.get("max", 20)), float(seeds.get("alpha", 0.05)),
                    str(seeds.get("method", "holm")))
    ran = trials[trials["status"] != "pending"]
    if spec.get("search"):  # a search races each batch against the incumbent (search/_race.py): the seeds each ran
        counts = ran.groupby("config").size().value_counts().sort_index()
        ran_text = "; ".join(f"{k} configuration{'s' if k > 1 else ''} ran {n} seeds" for n, k in counts.items())
        return (f"Racing seeds in the search ({rule.min} to {rule.max} seeds, α = {rule.alpha}, {rule.method}): "
                f"{len(ran)} trials instead of {len(labels) * rule.max} ({len(labels)} configurations × "
                f"{rule.max} seeds); {ran_text}.")
    metric = racing_metric(spec, metrics)
    done = ran[ran["status"] == "done"]
    values = {i: {} for i in range(len(labels))}
    if metric in done.columns:
        for c, s, x in zip(done["config"], done["seed"], pd.to_numeric(done[metric], errors="coerce")):
            if not pd.isna(s) and math.isfinite(x):
                values[int(c)][int(s)] = float(x)
    left = replay(values, rule, higher_is_better(metric), list(range(rule.max)))
    total = len(ran)
    text = (f"Racing seeds on {metric} ({rule.min} to {rule.max} seeds, α = {rule.alpha}, {rule.method}): "
            f"{total} trials instead of {len(labels) * rule.max} ({len(labels)} configurations × "
            f"{rule.max} seeds).")
    if left:
        text += " Left the race: " + "; ".join(
            f"{labels[i]} after {n} seeds (look {n - rule.min + 1})"
            for i, n in sorted(left.items(), key=lambda kv: (kv[1], kv[0]))) + "."
    still = [labels[i] for i in range(len(labels)) if i not in left]
    counts = [len(values[i]) for i in range(len(labels)) if i not in left]
    end = max(left.values()) if len(still) == 1 and left else min(rule.max, max(counts, default=0))
    text += f" In the race at the end ({end} seeds): {'; '.join(still)}."  # seeds run ahead are not looks
    return text


__all__ = ["RaceRule", "RaceResult", "step", "race", "METHODS", "racing_metric", "run_race", "replay", "race_note"]
