"""Two groups of trials side by side: two studies, or two configurations of one study.

A side is the done trials of one configuration, selected by ``key=value`` conditions; the
comparison has one row per shared metric: each side's n, mean, std and SE, the difference
B - A, Welch's p, Holm's p over the metrics compared, and a verdict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._text import cap
from ..errors import StudyError
from ..store._snapshot import StudySnapshot
from ._format import config_label, value_key, value_text
from ._robust import iqm, pairs, paired_p, power_columns, prob_improve, prob_improve_interval, wilcoxon_p
from ._significance import ALPHA, holm, welch_p
from ._stats import _normalised_trials, describe, final_metrics, higher_is_better

_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=")
_NEXT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_.]*\s*=)")  # a comma that starts the next key=


def parse_where(text: str) -> dict[str, Any]:
    """'model.hidden=[16, 16],train.lr=0.1' -> {'model.hidden': [16, 16], 'train.lr': 0.1}."""
    from ..spec._load import parse_value

    out = {}
    for part in _NEXT.split(text):
        m = _KEY.match(part)
        if not m or not part[m.end():].strip():
            raise StudyError(f"--where {cap(text, 80)}: expected KEY=VALUE[,KEY=VALUE...], e.g. --where train.lr=0.1")
        try:
            out[m.group(1)] = parse_value(part[m.end():].strip())
        except ValueError as e:
            raise StudyError(f"--where {cap(text, 80)}: {e}") from None
    return out


@dataclass
class Side:
    study: str
    where: dict[str, Any]
    config: dict[str, Any]  # the swept keys of the one configuration selected
    trials: pd.DataFrame  # its done trials
    metrics: list[str]  # its study's report metrics

    @property
    def label(self) -> str:
        if not self.config:
            return self.study
        return f"{self.study} [{config_label(self.config)}]"

    def by_seed(self, metric: str) -> dict:
        """{seed: finite value} of one metric (the first trial of a seed when one repeats); with data.folds
        {(seed, fold): value}, so both sides pair on the same split."""
        if metric not in self.trials or "seed" not in self.trials:
            return {}
        v = np.asarray(pd.to_numeric(self.trials[metric], errors="coerce"), dtype=float)
        keys = zip(self.trials["seed"], self.trials["fold"]) if "fold" in self.trials else self.trials["seed"]
        out: dict = {}
        for seed, x in zip(keys, v):
            if np.isfinite(x) and not pd.isna(np.asarray(seed, dtype=float)).any() and seed not in out:
                out[seed] = float(x)
        return out

    def values(self, metric: str) -> np.ndarray:
        if metric not in self.trials:
            return np.array([])
        v = np.asarray(pd.to_numeric(self.trials[metric], errors="coerce"), dtype=float)
        return v[np.isfinite(v)]


def select(snap: StudySnapshot, where: dict[str, Any]) -> Side:
    """The done trials of the one configuration of `snap` that matches every condition in `where`."""
    t = _normalised_trials(snap)
    for key, want in where.items():
        t = t[_matches(snap, t, key, want)]
    keys = list(snap.swept_keys)
    configs = t[keys].drop_duplicates() if keys else t.iloc[:1][[]]
    if len(configs) > 1:
        first = configs.iloc[0]
        example = ",".join(f"{k}={value_text(first[k])}" for k in keys if k not in where)
        raise StudyError(f"{snap.name}: {len(configs)} configurations match; choose one with --where, "
                         f"e.g. --where '{example}'")
    config = {k: configs.iloc[0][k] for k in keys} if len(configs) else {}
    done = t[t["status"] == "done"]
    if done.empty:
        cond = cap(", ".join(f"{k}={value_text(v)}" for k, v in where.items()), 80)
        raise StudyError(f"{snap.name}{f' [{cond}]' if cond else ''}: no finished trial to compare")
    return Side(snap.name, dict(where), config, done.reset_index(drop=True), list(snap.metrics))


def _matches(snap: StudySnapshot, t: pd.DataFrame, key: str, want: Any) -> pd.Series:
    w = value_key(want)
    if key in snap.swept_keys:
        hit = t[key].map(lambda v: v == w)
        if not hit.any():
            texts = list(dict.fromkeys(value_text(v) for v in t[key]))
            shown = cap(str(value_text(want) or want), 80)
            if isinstance(want, str) and shown in texts:  # --where train.lr="0.1": text, where the trials hold 0.1
                shown = f"{json.dumps(want)} (in quotes: text, not {shown}; write it without the quotes)"
            takes = cap(", ".join(texts), 160) or "none left"
            raise StudyError(f"{snap.name}: no trial has {key}={shown} (it takes: {takes})")
        return hit
    base = _dotted(snap.spec, key)
    if base is _MISSING:
        swept = ", ".join(snap.swept_keys) or "none"
        raise StudyError(f"{snap.name}: --where {key}: not a key of the study (swept keys: {swept})")
    if value_key(base) != w:
        raise StudyError(f"{snap.name}: --where {key}={cap(value_text(want), 80)} matches no trial: {key} is "
                         f"{cap(value_text(base), 120)} in every trial")  # the long values cut, not the point
    return pd.Series(True, index=t.index)


_MISSING = object()


def _dotted(spec: dict, key: str) -> Any:
    node: Any = spec
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


@dataclass
class Comparison:
    a: Side
    b: Side
    table: pd.DataFrame  # one row per metric (COLUMNS)

    def note(self) -> str:
        k = int(self.table["p_welch"].notna().sum())
        if k == 0:
            return ("No significance test is possible: a side has fewer than two seeds. Differences may be "
                    "seed noise; run more seeds.")
        return (f"diff = B - A; p: Welch's t-test (two-sided); p (Holm): Holm-corrected over the {k} "
                f"metric{'s' if k > 1 else ''} tested; a side is better when p (Holm) < {ALPHA}. test: "
                f"paired-t on the seeds both sides ran (two or more), else Welch; p (test, Holm) and verdict "
                f"(test) follow it. P(B better): probability that a seed of B scores better than a seed of A, "
                f"[95% stratified bootstrap interval]; detectable Δ: the smallest difference these seeds can "
                f"detect (80% power, α = {ALPHA}); seeds: about how many would detect the observed one.")

    def write(self, out_dir) -> list:
        from ._compare_write import write_comparison

        return write_comparison(self, out_dir)


COLUMNS = ["metric", "a_n", "a_mean", "a_std", "a_sem", "b_n", "b_mean", "b_std", "b_sem",
           "diff", "p_welch", "p_holm", "verdict"]
# after them (docs/statistics.md): paired tests on the seeds both sides ran, robust summaries, power
ROBUST = ["test", "n_pairs", "p_paired", "p_wilcoxon", "p_test", "p_test_holm", "verdict_test", "a_iqm", "b_iqm",
          "prob_b_better", "prob_b_better_low", "prob_b_better_high", "mde", "seeds_needed"]


def both_have(a: Side, b: Side) -> list[str]:
    """Every final metric with values on both sides (what --metric may name)."""
    return [m for m in dict.fromkeys(final_metrics() + tuple(a.metrics) + tuple(b.metrics))
            if len(a.values(m)) and len(b.values(m))]


def shared_metrics(a: Side, b: Side, have: list[str] | None = None) -> list[str]:
    """Report metrics of both studies (A's order); else any final metric both have (``have``: both_have's)."""
    have = both_have(a, b) if have is None else have
    reported = [m for m in a.metrics if m in b.metrics and m in have]
    return reported or have


def compare_sides(a: Side, b: Side, metric: str | None = None) -> Comparison:
    have = both_have(a, b)
    if metric is not None and metric not in have:
        raise StudyError(f"--metric {metric}: not a metric of both sides (both have: {', '.join(have) or 'none'})")
    metrics = [metric] if metric else shared_metrics(a, b, have)
    if not metrics:
        raise StudyError(f"{a.label} and {b.label} share no metric with finished values")
    rows = []
    for m in metrics:
        xa, xb = a.values(m), b.values(m)
        da, db = describe(xa), describe(xb)
        rows.append({"metric": m, "a_n": len(xa), "a_mean": da["mean"], "a_std": da["std"], "a_sem": da["sem"],
                     "b_n": len(xb), "b_mean": db["mean"], "b_std": db["std"], "b_sem": db["sem"],
                     "diff": db["mean"] - da["mean"], "p_welch": welch_p(xa, xb)})
        rows[-1].update(_robust(a.by_seed(m), b.by_seed(m), xa, xb, rows[-1]["p_welch"], higher_is_better(m)))
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_welch"].to_numpy())
    table["verdict"] = [_verdict(r) for _, r in table.iterrows()]
    table["p_test_holm"] = holm(table["p_test"].to_numpy(dtype=float))
    table["verdict_test"] = [_verdict(r, "p_test_holm") for _, r in table.iterrows()]
    table["n_pairs"] = table["n_pairs"].astype("Int64")
    table["seeds_needed"] = pd.array([pd.NA if pd.isna(v) else int(v) for v in table["seeds_needed"]],
                                     dtype="Int64")
    return Comparison(a, b, table[COLUMNS + ROBUST])


def _robust(sa: dict, sb: dict, xa, xb, p_welch: float, higher: bool) -> dict:
    """Paired tests on the shared seeds (the test used: paired-t with two pairs or more, else Welch), IQMs,
    P(B better than A) with its bootstrap interval, detectable difference and seeds needed."""
    pa, pb = pairs(sa, sb)
    out = {"n_pairs": len(pa), "p_paired": paired_p(pa, pb), "p_wilcoxon": wilcoxon_p(pa, pb),
           "a_iqm": iqm(xa), "b_iqm": iqm(xb), "prob_b_better": prob_improve(xb, xa, higher)}
    out["prob_b_better_low"], out["prob_b_better_high"] = prob_improve_interval(xb, xa, higher)
    if len(pa) >= 2:
        out["test"], out["p_test"] = "paired-t", out["p_paired"]
        out["mde"], out["seeds_needed"] = power_columns(pb, pa, True)
    elif np.isfinite(p_welch):
        out["test"], out["p_test"] = "welch", p_welch
        out["mde"], out["seeds_needed"] = power_columns(xb, xa, False)
    else:
        out["test"], out["p_test"], out["mde"], out["seeds_needed"] = None, np.nan, np.nan, np.nan
    return out


def _verdict(r: pd.Series, p: str = "p_holm") -> str:
    if pd.isna(r[p]):
        return "no test (fewer than two seeds)"
    if r[p] >= ALPHA:
        return "no significant difference"
    b_wins = (r["diff"] > 0) == higher_is_better(r["metric"])
    return "B better" if b_wins else "A better"


__all__ = ["parse_where", "Side", "select", "Comparison", "compare_sides", "shared_metrics", "COLUMNS", "ROBUST"]
