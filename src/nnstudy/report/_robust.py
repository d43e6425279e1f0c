"""Statistics beyond mean ± SE and Welch: paired seeds, robust summaries, power.

- **Paired seeds.** Two configurations of a study that ran the same seed share everything the seed
  fixes (initial weights where the shapes agree, the shuffling order, dropout and gradient noise) and
  the data split (fixed by ``data.split_seed``, or by the seed with ``split_seed = "seed"``, not by the
  configuration): common random numbers. On the seeds both ran (with ``data.folds``: the seeds and
  folds) they are compared paired, by the paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon
  signed-rank test (``scipy.stats.wilcoxon``).
- **Robust summaries** (rliable, Agarwal et al. 2021): the interquartile mean
  (``scipy.stats.trim_mean(x, 0.25)``), 95% percentile-bootstrap intervals (``scipy.stats.bootstrap``,
  10,000 resamples, seeded: the report is reproducible) of the IQM and of the mean, and the probability
  of improvement P(a seed of A scores better than a seed of B) (Mann–Whitney U / (n_A n_B), ties count
  one half) with its stratified bootstrap interval (each side resampled on its own).
- **Power** (statsmodels' ``TTestPower`` for paired, ``TTestIndPower`` otherwise, computed with scipy's
  noncentral t: 80% power, α = 0.05, two-sided): the smallest difference the current seeds can detect, and
  about how many seeds would detect the observed one.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

from ._significance import ALPHA, format_p, holm, mean, var

POWER = 0.8
RESAMPLES = 10_000
BOOT_SEED = 0
COLUMNS = ("test", "n_pairs", "p_paired", "p_wilcoxon", "p_test", "p_test_holm", "tied_test",
           "iqm", "iqm_boot_low", "iqm_boot_high", "mean_boot_low", "mean_boot_high",
           "prob_improve", "prob_improve_low", "prob_improve_high", "mde", "seeds_needed")


# ---------------------------------------------------------------- paired tests


def pairs(a: dict, b: dict) -> tuple[np.ndarray, np.ndarray]:
    """The values of the seeds both sides ran ({seed: value} each), in seed order."""
    shared = sorted(set(a) & set(b))
    return (np.array([a[s] for s in shared], dtype=float), np.array([b[s] for s in shared], dtype=float))


def paired_p(a, b) -> float:
    """Two-sided p of the paired t-test (``scipy.stats.ttest_rel``); NaN with fewer than 2 pairs.

    Constant differences (zero standard error): p = 1 when they are all zero, 0 otherwise, as for
    Welch's test (scipy answers NaN)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(a) != len(b):
        return float("nan")
    d = a - b
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    from scipy import stats as st  # here, not on import: a report without paired seeds never loads scipy.stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: "nearly identical" differences
        return float(st.ttest_rel(a, b).pvalue)


def wilcoxon_p(a, b) -> float:
    """Two-sided p of the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, its defaults: exact for
    small samples, zero differences dropped); NaN with fewer than 2 pairs, 1 when every pair is equal.
    With 5 pairs or fewer it cannot go below 0.0625."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(a) != len(b):
        return float("nan")
    if np.all(a == b):
        return 1.0
    from scipy import stats as st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy: "sample size too small for normal approximation" etc.
        return float(st.wilcoxon(a, b).pvalue)


# ---------------------------------------------------------------- robust summaries


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle half (``scipy.stats.trim_mean(x, 0.25)``)."""
    from scipy import stats as st

    x = np.asarray(x, dtype=float)
    return float(st.trim_mean(x, 0.25)) if len(x) else float("nan")


def _iqm_stat(x, axis=-1):
    from scipy import stats as st

    return st.trim_mean(x, 0.25, axis=axis)


def boot_interval(x, statistic=np.mean) -> tuple[float, float]:
    """95% percentile-bootstrap interval of `statistic` (``scipy.stats.bootstrap``, 10,000 resamples,
    rng = 0); NaN with fewer than 2 values, [x, x] when every value is x."""
    x = np.asarray(x, dtype=float)
    nan = float("nan")
    if len(x) < 2:
        return nan, nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    return _boot((tuple(x),), statistic)


@lru_cache(maxsize=4096)  # a dashboard or notebook re-analyses the same values: resample them once
def _boot(samples: tuple, statistic) -> tuple[float, float]:
    from scipy import stats as st

    r = st.bootstrap(tuple(np.array(s) for s in samples), statistic, n_resamples=RESAMPLES, method="percentile",
                     vectorized=True, rng=BOOT_SEED).confidence_interval
    return float(r.low), float(r.high)


@lru_cache(maxsize=2)
def _prob_stat(higher: bool):  # one function per direction, so that _boot's cache knows it
    def stat(x, y, axis=-1):
        x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
        xa, ya = x[..., :, None], y[..., None, :]
        better = (xa > ya) if higher else (xa < ya)
        return better.mean(axis=(-2, -1)) + 0.5 * (xa == ya).mean(axis=(-2, -1))
    return stat


def prob_improve(x, y, higher: bool = True) -> float:
    """P(a seed of x scores better than a seed of y), ties one half: the Mann–Whitney U of the better
    direction over n_x n_y (``scipy.stats.mannwhitneyu(x, y).statistic / (n_x n_y)`` when higher is
    better); NaN when a side is empty."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x) or not len(y):
        return float("nan")
    return float(_prob_stat(higher)(x, y))


def prob_improve_interval(x, y, higher: bool = True) -> tuple[float, float]:
    """95% stratified percentile-bootstrap interval of `prob_improve` (each side resampled on its own,
    ``scipy.stats.bootstrap``, 10,000 resamples, rng = 0); NaN with fewer than 2 values a side."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    nan = float("nan")
    if len(x) < 2 or len(y) < 2:
        return nan, nan
    if np.all(x == x[0]) and np.all(y == y[0]):
        p = prob_improve(x, y, higher)
        return p, p
    return _boot((tuple(x), tuple(y)), _prob_stat(higher))


# ---------------------------------------------------------------- power


@lru_cache(maxsize=1024)
def _detectable(paired: bool, na: int, nb: int) -> float:
    """The effect size (in standard deviations) detectable with 80% power at α = 0.05: it depends on the
    sizes alone. statsmodels' ``TTestPower().solve_power(effect_size=None, nobs=na)`` (paired) and
    ``TTestIndPower().solve_power(effect_size=None, nobs1=na, ratio=nb / na)``, solved here by bisection
    (brentq) on the same power, so that a report needs scipy alone. NaN past an effect of 1e6."""
    from scipy.optimize import brentq

    def short(d: float) -> float:
        return _power_of(*_t_of(d, na, nb, paired)) - POWER

    hi = 1.0
    while short(hi) < 0:  # the power rises with the effect, from α at 0
        hi *= 2
        if hi > 1e6:
            return float("nan")
    return float(brentq(short, 0.0, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def _t_of(d: float, na: int, nb: int, paired: bool) -> tuple[int, float]:
    """(degrees of freedom, noncentrality) of the t-test for effect d: paired with na pairs, or na and nb seeds."""
    if paired:
        return na - 1, d * math.sqrt(na)
    return na + nb - 2, d * math.sqrt(na * nb / (na + nb))


def power_columns(a, b, paired: bool) -> tuple[float, float]:
    """(smallest detectable difference, seeds needed for the observed difference) of a vs b (`_power_columns`)."""
    return _power_columns(tuple(np.asarray(a, dtype=float)), tuple(np.asarray(b, dtype=float)), paired)


@lru_cache(maxsize=4096)
def _power_columns(a: tuple, b: tuple, paired: bool) -> tuple[float, float]:
    """(smallest detectable difference, seeds needed for the observed difference) of a vs b.

    Paired (`a`, `b` the values of the shared seeds): the effect size is in standard deviations of the
    differences, ``TTestPower`` with n = pairs. Unpaired: in pooled standard deviations,
    ``TTestIndPower`` with the two sizes; seeds needed are per configuration (equal sizes). Both at 80%
    power, α = 0.05, two-sided; the difference is in the metric's units. Seeds needed are at least 2 and
    missing when the observed difference is 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan = float("nan")
    if len(a) < 2 or len(b) < 2:
        return nan, nan
    diff = abs(mean(a) - mean(b))
    if paired:
        sd = math.sqrt(var(a - b))
        d_min = _detectable(True, len(a), len(a))
    else:
        na, nb = len(a), len(b)
        sd = math.sqrt(((na - 1) * var(a) + (nb - 1) * var(b)) / (na + nb - 2))
        d_min = _detectable(False, na, nb)
    mde = d_min * sd
    if diff == 0:
        return mde, nan
    if sd == 0:
        return mde, 2.0
    return mde, _smallest_n(diff / sd, paired)


def power(d: float, n: int, paired: bool) -> float:
    """Power of the two-sided t-test at α = 0.05 for effect size d: paired with n pairs, or two samples of n each;
    statsmodels' ``TTestPower().power`` / ``TTestIndPower().power(ratio=1)`` (the noncentral t's two tails)."""
    return _power_of(*_t_of(d, n, n, paired))


def _power_of(df: int, nc: float) -> float:
    """The two tails of the noncentral t (df, nc) beyond the two-sided α = 0.05 critical values. Where scipy's
    noncentral t answers NaN for the far tail (a large effect: 6 with 2 pairs), that tail is 0 (below 1e-7
    wherever scipy answers); statsmodels gives NaN there, and its solve_power returned a number of seeds from
    that failure (2 where 3 are needed)."""
    from scipy import stats as st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's warnings about that tail
        crit = float(st.t.isf(ALPHA / 2, df))
        near, far = float(st.nct.sf(crit, df, nc)), float(st.nct.cdf(-crit, df, nc))
    return near + (far if math.isfinite(far) else 0.0)


def _smallest_n(d: float, paired: bool, limit: int = 1_000_000) -> float:
    """The smallest whole number of seeds (>= 2) with 80% power, by doubling then bisection; NaN past `limit`."""
    lo, hi = 1, 2
    while not power(d, hi, paired) >= POWER:
        lo, hi = hi, hi * 2
        if hi > limit:
            return float("nan")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power(d, mid, paired) >= POWER else (mid, hi)
    return float(max(2, hi))


# ---------------------------------------------------------------- the columns of results.csv


def robust_columns(groups: list[dict], best: int | None, higher: bool, p_welch) -> pd.DataFrame:
    """The new columns after ``tied`` (``COLUMNS``), for the first report metric.

    `groups`: per configuration {seed: finite value} of its done trials; `best`: the best
    configuration's index; `p_welch`: the Welch p-values already in the table."""
    k = len(groups)
    nan = np.full(k, np.nan)
    out = {c: nan.copy() for c in COLUMNS if c not in ("test", "n_pairs", "tied_test")}
    test: list = [None] * k
    n_pairs = pd.array([pd.NA] * k, dtype="Int64")
    p_welch = np.asarray(p_welch, dtype=float)
    for i, g in enumerate(groups):
        x = np.array(list(g.values()), dtype=float)
        if len(x):
            out["iqm"][i] = iqm(x)
        out["iqm_boot_low"][i], out["iqm_boot_high"][i] = boot_interval(x, _iqm_stat)
        out["mean_boot_low"][i], out["mean_boot_high"][i] = boot_interval(x)
        if best is None or i == best or not len(groups[best]):
            continue
        ref = np.array(list(groups[best].values()), dtype=float)
        xa, xb = pairs(g, groups[best])
        n_pairs[i] = len(xa)
        out["p_paired"][i], out["p_wilcoxon"][i] = paired_p(xa, xb), wilcoxon_p(xa, xb)
        if len(x):
            out["prob_improve"][i] = prob_improve(x, ref, higher)
        out["prob_improve_low"][i], out["prob_improve_high"][i] = prob_improve_interval(x, ref, higher)
        if len(xa) >= 2:
            test[i], out["p_test"][i] = "paired-t", out["p_paired"][i]
            out["mde"][i], out["seeds_needed"][i] = power_columns(xa, xb, True)
        elif np.isfinite(p_welch[i]):
            test[i], out["p_test"][i] = "welch", p_welch[i]
            out["mde"][i], out["seeds_needed"][i] = power_columns(x, ref, False)
    out["p_test_holm"] = holm(out["p_test"])
    tied = pd.array([pd.NA if np.isnan(q) else bool(q >= ALPHA) for q in out["p_test_holm"]], dtype="boolean")
    frame = {"test": pd.Series(test, dtype=object), "n_pairs": n_pairs, "tied_test": tied}
    frame.update(out)
    needed = pd.array([pd.NA if np.isnan(v) else int(v) for v in out["seeds_needed"]], dtype="Int64")
    frame["seeds_needed"] = needed
    return pd.DataFrame({c: frame[c] for c in COLUMNS})


# ---------------------------------------------------------------- text


def _num(x: float, ref: float | None = None) -> str:
    """Two significant digits of the larger of |x| and ref ('0.012', '0.0040', '1.3')."""
    if x is None or pd.isna(x):
        return "—"
    scale = max(abs(float(x)), abs(float(ref)) if ref is not None and not pd.isna(ref) else 0.0)
    if scale == 0:
        return "0"
    d = max(0, 1 - math.floor(math.log10(scale)))
    return f"{abs(float(x)):.{d}f}"


def power_note(summary: pd.DataFrame, metric: str | None, labels: list[str], best: int | None,
               unit: str = "seeds") -> str:
    """One or two sentences: the smallest difference the seeds can detect against the best, and the
    seeds a tie's observed difference would need ("" when nothing was tested). `unit`: what a replicate
    is ("replicates" with data.folds: folds × seeds)."""
    if metric is None or best is None or "mde" not in summary:
        return ""
    s = summary
    rows = [i for i in range(len(s)) if i != best and not pd.isna(s["mde"].iloc[i])]
    if not rows:
        return ""
    seeds = sorted({int(s["n_pairs"].iloc[i]) if s["test"].iloc[i] == "paired-t" else int(s["n"].iloc[i])
                    for i in rows})
    mdes = [float(s["mde"].iloc[i]) for i in rows]
    n_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    lo, hi = min(mdes), max(mdes)
    d_text = _num(lo) if _num(lo) == _num(hi) else f"{_num(lo, hi)} to {_num(hi)}"
    text = (f"{n_text} {unit} can detect a difference of {d_text} in {metric} from the best "
            f"(80% power, α = {ALPHA}, two-sided, the test used)")
    ties = [i for i in rows if not pd.isna(s["tied_test"].iloc[i]) and bool(s["tied_test"].iloc[i])]
    parts = []
    for i in ties[:3]:
        diff, need = abs(float(s["diff_to_best"].iloc[i])), s["seeds_needed"].iloc[i]
        if pd.isna(need):
            parts.append(f"the observed {_num(diff, float(s['mde'].iloc[i]))} of {labels[i]} is too small to "
                         f"resolve with any practical number of {unit}")
        else:
            parts.append(f"the observed {_num(diff, float(s['mde'].iloc[i]))} of {labels[i]} "
                         f"needs about {int(need)}")
    if parts:
        text += "; " + "; ".join(parts)
        if len(ties) > 3:
            text += f" (and {len(ties) - 3} more tied)"
    return text + "."


def robust_note(metric: str) -> str:
    return (f"{metric}: test: paired-t on the seeds both configurations ran (common random numbers), Welch "
            f"when fewer than two seeds pair; p (test, Holm): Holm-corrected over the tests used, ≈ not "
            f"significantly different from the best at α = {ALPHA}; Wilcoxon: signed-rank test on the same "
            f"pairs (cannot go below 0.0625 with 5 pairs or fewer); IQM: interquartile mean; [ ]: 95% "
            f"percentile-bootstrap intervals ({RESAMPLES:,} resamples, seeded); P(better): probability that "
            f"a seed of the configuration scores better than a seed of the best; detectable Δ: the smallest "
            f"difference the seeds can detect with 80% power at α = {ALPHA}; seeds: about how many per "
            f"configuration would detect the observed difference.")


def robust_header(metric: str) -> list[str]:
    return ["test", "p (test)", "p (test, Holm)", "Wilcoxon p", f"IQM {metric} [95% CI]",
            "mean [95% bootstrap CI]", "P(better than best) [95% CI]", "detectable Δ", "seeds needed"]


def robust_texts(r: pd.Series, metric: str, decimals: int) -> list[str]:
    """The text cells of one results row (in `robust_header` order), numbers to `decimals` decimals."""
    def f(x) -> str:
        return "—" if pd.isna(x) else f"{float(x):.{decimals}f}"

    def interval(v, lo, hi, d=None) -> str:
        g = f if d is None else (lambda x: "—" if pd.isna(x) else f"{float(x):.{d}f}")
        if pd.isna(v):
            return "—"
        return g(v) if pd.isna(lo) else f"{g(v)} [{g(lo)}, {g(hi)}]"

    mean = r[f"{metric}_mean"]
    return [
        "" if r["test"] is None or pd.isna(r["test"]) else (
            f"paired-t (n = {int(r['n_pairs'])})" if r["test"] == "paired-t" else "welch"),
        format_p(r["p_test"]), format_p(r["p_test_holm"]), format_p(r["p_wilcoxon"]),
        interval(r["iqm"], r["iqm_boot_low"], r["iqm_boot_high"]),
        interval(mean, r["mean_boot_low"], r["mean_boot_high"]),
        interval(r["prob_improve"], r["prob_improve_low"], r["prob_improve_high"], 2),
        f(r["mde"]), "—" if pd.isna(r["seeds_needed"]) else str(int(r["seeds_needed"])),
    ]


__all__ = ["COLUMNS", "paired_p", "wilcoxon_p", "iqm", "boot_interval", "prob_improve", "prob_improve_interval",
           "power_columns", "robust_columns", "power_note", "robust_note", "robust_header", "robust_texts"]
