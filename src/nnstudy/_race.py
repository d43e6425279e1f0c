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
from scipy import stats as st

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
    p = np.minimum(1.0, 2 * st.t.sf(np.abs(t), n - 1))
    return np.where(const, np.where(mean == 0, 1.0, 0.0), p)


def step(groups: dict[Hashable, dict], alive: list, rule: RaceRule, higher: bool = True) -> list:
    """The configurations of `alive` that stay in the race after one look at `groups` ({config: {seed:
    value}}): the leader and every configuration not significantly worse than it."""
    if len(alive) < 2:
        return list(alive)
    a = rule.alpha_per_look
    if rule.method == "friedman":
        shared = sorted(set.intersection(*(set(groups[c]) for c in alive)))
        if len(alive) >= 3 and len(shared) >= 2:
            table = [[groups[c][s] for s in shared] for c in alive]
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


__all__ = ["RaceRule", "RaceResult", "step", "race", "METHODS"]
