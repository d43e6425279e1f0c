"""Racing seeds in a search (issue 20 item 4): ``[search]`` with ``[trials] seeds = { min, max, alpha }``.

Each batch of configurations Optuna proposes races against the best configuration so far (the incumbent:
the best mean of the search's metric over the seeds it ran), by the rule of ``nnstudy._race``: every
candidate runs ``min`` seeds, then each round adds one seed to the configurations not significantly worse
than the leader (the incumbent too, on the seeds it lacks), until one stands alone or all have ``max``.
A candidate that leaves early is told to Optuna with the objective of the seeds it ran: it was significantly
worse than the leader, so the search spends ``min`` seeds on it instead of ``max``. Each race keeps the
rule's guarantee (the best of that race is dropped with probability at most ``alpha``); across the races of
a search the incumbent is compared again every time a candidate presses it.

Only the seeds a race trains are registered (a raced configuration's later seeds stay out of the study), and
the trials are ordinary trials of the store: a killed search run again finds them and trains none twice.
The median pruner trains seeds in lockstep, epoch by epoch; racing adds seeds between epochs' ends, so the
two do not combine (refused in api.run).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy import select

from .._race import RaceRule, step
from ..executor._driver import RunSummary
from ..report._stats import higher_is_better
from ..spec import Trial
from ..store import _schema as s
from ..store._retry import retrying
from ._loop import Outcome, key_of
from ._stored import done_values


class RacingEvaluator:
    """``StoreEvaluator`` (search/_run.py) with seeds raced: the same call, ``register``, ``registered`` and
    ``summary``; it trains through the evaluator's executor and reads the store the same way."""

    def __init__(self, inner, rule: RaceRule, console: Console):
        self.inner, self.rule, self.console = inner, rule, console
        self.seeds = inner.seeds  # 0 .. max - 1
        self.higher = higher_is_better(inner.metric)
        self.known: dict[str, dict[int, Trial]] = {}  # every configuration seen: seed -> its trial

    @property
    def registered(self) -> dict[str, Trial]:
        return self.inner.registered

    @property
    def summary(self) -> RunSummary:
        return self.inner.summary

    @property
    def stopped(self) -> bool:
        return self.inner.stopped

    def trials_of(self, point: dict[str, Any]) -> list[Trial]:
        return self.inner.trials_of(point)

    def register(self, trials: list[Trial]) -> None:
        """Remember the configurations; register only the trials the store holds (a resumed search's)."""
        for t in trials:
            self.known.setdefault(key_of(t.point), {})[t.seed] = t
        held = self._held()
        self.inner.register([t for t in trials if t.trial_id in held])

    def __call__(self, batch: list[tuple[Any, dict[str, Any]]]) -> list[Outcome | None]:
        candidates = []
        for _, point in batch:
            key = key_of(point)
            self.known[key] = {t.seed: t for t in self.inner.trials_of(point)}
            candidates.append(key)
        incumbent = self._incumbent(exclude=set(candidates))
        alive = candidates + ([incumbent] if incumbent else [])
        n = self.rule.min
        todo = [self.known[c][s] for c in candidates for s in self.seeds[:n]]
        while True:
            self._train(todo)
            if self.stopped:  # --fail-fast: the batch's races resume, from the stored seeds, in the next run
                return [None] * len(candidates)
            values = self._values(alive, n)
            tested = [c for c in alive if values[c]]  # a configuration none of whose seeds finished leaves
            if not tested:
                break
            kept = set(step(values, tested, self.rule, self.higher))
            for c in alive:
                if c not in kept:
                    where = " ".join(f"{k.split('.')[-1]}={v}" for k, v in next(iter(self.known[c].values()))
                                     .point.items())
                    self.console.print(f"search race: {escape(where)} leaves after {n} seeds", highlight=False)
            alive = [c for c in alive if c in kept]
            if len(alive) < 2 or n >= self.rule.max:
                break
            n += 1
            todo = [self.known[c][s] for c in alive for s in self.seeds[:n]]
        finals = self.inner._finals()
        return [self._outcome(c, finals) for c in candidates]

    def _train(self, trials: list[Trial]) -> None:
        finals = self.inner._finals()
        todo = [t for t in trials if t.trial_id not in finals]
        self.inner.register(trials)
        if todo:
            self.inner._add(self.inner.make_executor().run(todo, self.inner.first_data))

    def _values(self, configs: list[str], n: int) -> dict[str, dict[int, float]]:
        finals, first = self.inner._finals(), set(self.seeds[:n])
        out = {}
        for c in configs:
            done = done_values([t.trial_id for s, t in self.known[c].items() if s in first], finals)
            out[c] = {s: done[t.trial_id] for s, t in self.known[c].items() if t.trial_id in done}
        return out

    def _outcome(self, config: str, finals: dict[str, tuple[str, float]]) -> Outcome:
        ran = [t for t in self.known[config].values() if t.trial_id in self.registered]
        return Outcome(list(done_values([t.trial_id for t in ran], finals).values()), len(ran))

    def _incumbent(self, exclude: set[str]) -> str | None:
        """The configuration seen so far with the best mean over the seeds it ran (None: none finished)."""
        finals, best, at = self.inner._finals(), None, None
        for c, trials in self.known.items():
            got = list(done_values([t.trial_id for t in trials.values()], finals).values())
            if c in exclude or not got:
                continue
            mean = sum(got) / len(got)
            if best is None or (mean > best if self.higher else mean < best):
                best, at = mean, c
        return at

    def _held(self) -> set[str]:
        t, db = s.trials.c, self.inner.db

        def read() -> set[str]:
            with db.engine.begin() as c:
                return set(c.execute(select(t.trial_id).join(s.studies, s.studies.c.id == t.study_id)
                                     .where(s.studies.c.name == self.inner.study.study.name)).scalars())

        return retrying(read, db.url, "held trials")  # another driver's write: waited for, as every store read




def racing(inner, race, console: Console) -> RacingEvaluator:
    """The search's evaluator with seeds raced by ``[trials] seeds = { min, max, alpha, method }``."""
    return RacingEvaluator(inner, RaceRule(race.min, race.max, race.alpha, race.method), console)


__all__ = ["RacingEvaluator", "racing"]
