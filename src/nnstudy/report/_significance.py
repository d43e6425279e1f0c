"""Is a difference real or seed noise? Welch's t-test, Holm's correction, comparison with the best.

Welch's test is written out (and tested against ``scipy.stats.ttest_ind(equal_var=False)``);
Holm's step-down correction likewise (tested against closed Bonferroni testing and against
statsmodels' ``multipletests(method="holm")``). statsmodels is not called here: its Holm branch runs
``gc.collect()`` on every call, 0.1-0.5 s in a process that has imported torch, and the seed race
corrects once per round, the report once per metric and table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

ALPHA = 0.05
COLUMNS = ("diff_to_best", "p_welch", "p_holm", "tied")


def mean(x) -> float:
    """The mean of the values whatever their order: the exact sum (``math.fsum``), rounded once, over n. np.mean's
    running sum can differ in the last bit for the same values in another order, which split a tie in rank."""
    x = np.asarray(x, dtype=float)
    if not len(x):
        return float("nan")
    return float(x[0]) if np.all(x == x[0]) else math.fsum(x) / len(x)


def var(x) -> float:
    """Sample variance (ddof = 1), exactly 0 when every value is the same (np.var leaves ~1e-33 of rounding for
    0.7 six times, which made two constant samples with equal values 'differ' at p = 0.08)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return float("nan")
    return 0.0 if np.all(x == x[0]) else float(np.var(x, ddof=1))


def welch_p(a, b) -> float:
    """Two-sided p-value of Welch's t-test of mean(a) == mean(b); NaN with fewer than 2 values a side.

    When both samples are constant (zero standard error) scipy answers NaN; here equal
    constants give p = 1 and different ones p = 0: no seed noise can explain that difference.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return float("nan")
    va, vb = var(a) / na, var(b) / nb  # squared standard errors
    diff = mean(a) - mean(b)
    if va + vb == 0:
        return 1.0 if diff == 0 else 0.0
    from scipy.special import stdtr  # here, not on import (report/_stats.py: analyze)

    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))  # Welch–Satterthwaite
    return float(min(1.0, 2 * stdtr(df, -abs(t))))  # scipy.stats.t.sf(abs(t), df), without importing scipy.stats


def holm(p) -> np.ndarray:
    """Holm-adjusted p-values (step-down, family-wise error); NaN entries stay NaN and do not count."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]  # the i-th smallest p times (m - i)
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def versus_best(groups: list[np.ndarray], best: int | None) -> pd.DataFrame:
    """Per group: mean minus the best group's mean, Welch p against the best, Holm p, tied.

    `groups` are the finite values of each configuration; `best` the index of the best one
    (None: nothing to compare). ``tied`` is True when a configuration is not significantly
    different from the best (Holm p >= ALPHA), False when it is, missing for the best itself
    and for configurations that cannot be tested (fewer than 2 values on either side).
    """
    k = len(groups)
    diff, p = np.full(k, np.nan), np.full(k, np.nan)
    if best is not None and len(groups[best]):
        ref = groups[best]
        for i, g in enumerate(groups):
            if len(g):
                diff[i] = mean(g) - mean(ref)
            if i != best:
                p[i] = welch_p(g, ref)
    p_holm = holm(p)
    tied = pd.array([pd.NA if np.isnan(q) else bool(q >= ALPHA) for q in p_holm], dtype="boolean")
    return pd.DataFrame({"diff_to_best": diff, "p_welch": p, "p_holm": p_holm, "tied": tied})


def format_p(p) -> str:
    """Two significant digits, at least two decimals: '0.26', '0.051', '0.0021', '<0.001'; '—': no test."""
    if p is None or pd.isna(p):
        return "—"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:.{max(2, 1 - math.floor(math.log10(p)))}f}"


def comparison_note(summary: pd.DataFrame, metric: str | None, labels: list[str], best: int | None) -> str:
    """One sentence saying what the comparison columns mean, or why there are none ('' if one config)."""
    if metric is None or best is None or len(summary) < 2 or "p_welch" not in summary:
        return ""
    tested = int(summary["p_welch"].notna().sum())
    if tested == 0:
        if int(summary["n"].iloc[best]) < 2:
            why = "the best configuration has a single seed" if (summary["n"] >= 2).any() \
                else "every configuration has a single seed"
        else:
            why = "every other configuration has fewer than two seeds"
        return (f"No significance test is possible: {why}. Differences between configurations may "
                f"be seed noise; run more seeds.")
    note = (f"Δ: difference of mean {metric} to the best configuration ({labels[best]}); p: Welch's "
            f"t-test against the best (two-sided); p (Holm): Holm-corrected over {tested} "
            f"comparison{'s' if tested > 1 else ''}; ≈ marks configurations not significantly "
            f"different from the best at α = {ALPHA}.")
    if tested < len(summary) - 1:
        note += " —: fewer than two seeds, no test."
    return note


__all__ = ["ALPHA", "COLUMNS", "mean", "var", "welch_p", "holm", "versus_best", "format_p", "comparison_note"]
