"""Paired seeds, robust summaries and power (issue 20): every statistic against scipy or statsmodels, the
columns of results.csv and compare, the power sentence and the performance profile."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from nnstudy.report import summarize, write_report
from nnstudy.report._compare import Side, compare_sides
from nnstudy.report._figures_robust import profile
from nnstudy.report._robust import (COLUMNS, boot_interval, iqm, paired_p, power_columns, power_note, prob_improve,
                                    prob_improve_interval, wilcoxon_p)
from nnstudy.report._significance import holm, welch_p
from nnstudy.report._stats import analyze
from nnstudy.store._snapshot import StudySnapshot


def _statsmodels_power():
    """statsmodels' TTestIndPower and TTestPower (the classical extra): the reference the power is checked against."""
    sm = pytest.importorskip("statsmodels.stats.power")
    return sm.TTestIndPower, sm.TTestPower


def _rng_pairs(seed: int, n: int):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.85, 0.02, n)  # the seed's share: common to both configurations
    return base + rng.normal(0.0, 0.002, n), base + 0.003 + rng.normal(0.0, 0.002, n)


# ---------------------------------------------------------------- each statistic against its library


@pytest.mark.parametrize("seed", range(4))
def test_paired_t_and_wilcoxon_equal_scipy(seed):
    for n in (2, 3, 5, 8, 13):
        a, b = _rng_pairs(seed * 100 + n, n)
        assert paired_p(a, b) == pytest.approx(st.ttest_rel(a, b).pvalue, rel=1e-12)
        assert wilcoxon_p(a, b) == pytest.approx(st.wilcoxon(a, b).pvalue, rel=1e-12)
        assert paired_p(a, b) == paired_p(b, a)


def test_paired_tests_edge_cases():
    assert math.isnan(paired_p([0.9], [0.8])) and math.isnan(wilcoxon_p([0.9], [0.8]))
    assert paired_p([0.9, 0.8], [0.9, 0.8]) == 1.0 == wilcoxon_p([0.9, 0.8], [0.9, 0.8])
    assert paired_p([0.5, 0.75], [0.25, 0.5]) == 0.0  # every pair differs by exactly 0.25: no noise explains it
    # five pairs, all one way: the smallest two-sided Wilcoxon p there is
    assert wilcoxon_p([1, 2, 3, 4, 5.0], [1.5, 2.1, 3.3, 4.2, 5.5]) == pytest.approx(0.0625)


def test_pairing_gains_power_when_the_seed_explains_most_of_the_spread():
    a, b = _rng_pairs(3, 20)
    assert paired_p(a, b) < 0.01 < welch_p(a, b)


def test_iqm_equals_scipy_trim_mean():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 5, 8, 10, 21):
        x = rng.normal(size=n)
        assert iqm(x) == pytest.approx(st.trim_mean(x, 0.25), rel=1e-12)
    assert iqm([1.0, 2.0, 3.0, 100.0]) == 2.5  # the outlier and the smallest value are cut
    assert math.isnan(iqm([]))


def test_bootstrap_intervals_equal_scipy_with_a_fixed_seed():
    x = np.array([0.861, 0.874, 0.869, 0.880, 0.852, 0.871, 0.866])
    for stat, scipy_stat in ((np.mean, np.mean), (None, lambda v, axis=-1: st.trim_mean(v, 0.25, axis=axis))):
        if stat is None:
            from nnstudy.report._robust import _iqm_stat as stat
        ours = boot_interval(x, stat)
        ref = st.bootstrap((x,), scipy_stat, n_resamples=10_000, method="percentile", rng=0).confidence_interval
        assert ours == pytest.approx((ref.low, ref.high), rel=1e-12)
        assert ours == boot_interval(x, stat)  # reproducible
    assert boot_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in boot_interval([0.5]))


def test_probability_of_improvement_equals_mann_whitney():
    rng = np.random.default_rng(5)
    for _ in range(20):
        x, y = rng.normal(0, 1, rng.integers(1, 9)).round(1), rng.normal(0.3, 1, rng.integers(1, 9)).round(1)
        u = st.mannwhitneyu(x, y).statistic  # counts ties one half
        assert prob_improve(x, y) == pytest.approx(u / (len(x) * len(y)), rel=1e-12)
        # lower is better: P(x < y) is the U of y against x
        assert prob_improve(x, y, higher=False) == pytest.approx(
            st.mannwhitneyu(y, x).statistic / (len(x) * len(y)), rel=1e-12)
    assert prob_improve([1.0, 2.0], [0.0, 0.5]) == 1.0 and prob_improve([1.0], [1.0]) == 0.5


def test_probability_of_improvement_interval_is_scipys_stratified_bootstrap():
    x, y = np.array([0.86, 0.88, 0.87, 0.89, 0.85]), np.array([0.87, 0.86, 0.88, 0.875])

    def stat(a, b, axis=-1):
        a, b = np.moveaxis(a, axis, -1)[..., :, None], np.moveaxis(b, axis, -1)[..., None, :]
        return (a > b).mean(axis=(-2, -1)) + 0.5 * (a == b).mean(axis=(-2, -1))

    ref = st.bootstrap((x, y), stat, n_resamples=10_000, method="percentile", rng=0).confidence_interval
    lo, hi = prob_improve_interval(x, y)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert lo <= prob_improve(x, y) <= hi


def test_power_equals_statsmodels():
    TTestIndPower, TTestPower = _statsmodels_power()
    a, b = _rng_pairs(11, 6)
    sd = np.std(a - b, ddof=1)
    mde, need = power_columns(a, b, True)
    assert mde == pytest.approx(TTestPower().solve_power(effect_size=None, nobs=6, alpha=0.05, power=0.8) * sd,
                                rel=1e-6)
    d = abs(np.mean(a - b)) / sd
    assert need == math.ceil(TTestPower().solve_power(effect_size=d, nobs=None, alpha=0.05, power=0.8))
    # unpaired: pooled standard deviation, TTestIndPower, seeds per configuration
    x, y = np.array([0.80, 0.82, 0.81, 0.83, 0.815]), np.array([0.805, 0.83, 0.82, 0.81])
    pooled = math.sqrt((4 * np.var(x, ddof=1) + 3 * np.var(y, ddof=1)) / 7)
    mde, need = power_columns(x, y, False)
    assert mde == pytest.approx(
        TTestIndPower().solve_power(effect_size=None, nobs1=5, ratio=0.8, alpha=0.05, power=0.8) * pooled, rel=1e-6)
    d = abs(x.mean() - y.mean()) / pooled
    assert need == math.ceil(TTestIndPower().solve_power(effect_size=d, nobs1=None, ratio=1.0, alpha=0.05,
                                                         power=0.8))
    # a detectable difference is detected with the seeds power_columns asks for, and not with one fewer
    an = TTestPower()
    a, b = _rng_pairs(2, 5)
    _, need = power_columns(a, b, True)
    d = abs(np.mean(a - b)) / np.std(a - b, ddof=1)
    assert an.power(effect_size=d, nobs=need, alpha=0.05) >= 0.8 > an.power(effect_size=d, nobs=need - 1, alpha=0.05)


def test_power_at_the_extremes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no statsmodels ConvergenceWarning leaks into a report
        assert power_columns([0.80, 0.84], [0.90, 0.92], True)[1] == 3.0  # effect 6.4: 2 pairs have power 0.52
        mde, need = power_columns([0.5, 0.6, 0.7], [0.5, 0.6, 0.7], True)
        assert mde == 0.0 and math.isnan(need)  # no noise, no difference
        assert power_columns([0.5, 0.6], [0.4, 0.5], True) == (0.0, 2.0)  # no noise in the differences
        assert all(math.isnan(v) for v in power_columns([0.5], [0.4, 0.5], False))


def test_seeds_needed_where_statsmodels_power_is_nan():
    """For a large effect statsmodels' power is NaN (scipy's noncentral t on the far tail) and solve_power
    returned n from that failure: 2 seeds for effects 5.6 to 11, where 2 pairs have power 0.49 to 0.77. The power
    here is statsmodels' wherever that is a number, and seeds_needed is the smallest n reaching 80 %."""
    from nnstudy.report._robust import power

    TTestIndPower, TTestPower = _statsmodels_power()
    an, ind = TTestPower(), TTestIndPower()
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (2, 3, 4, 7, 30):
            for d in (0.3, 1.0, 2.5, 4.0):
                for paired, theirs in ((True, an.power(effect_size=d, nobs=n, alpha=0.05)),
                                       (False, ind.power(effect_size=d, nobs1=n, ratio=1.0, alpha=0.05))):
                    if math.isfinite(theirs):
                        assert power(d, n, paired) == pytest.approx(theirs, abs=1e-12)
                        compared += 1
        assert compared >= 35 and math.isnan(an.power(effect_size=6.0, nobs=2, alpha=0.05))  # statsmodels' NaN
    rng = np.random.default_rng(0)  # 2 pairs with effect 6: the t-test rejects in about half of the samples
    x = rng.normal(6.0, 1.0, (200_000, 2))
    rejected = np.abs(x.mean(1) / (x.std(1, ddof=1) / np.sqrt(2))) > st.t.isf(0.025, 1)
    assert power(6.0, 2, True) == pytest.approx(rejected.mean(), abs=0.005) and power(6.0, 2, True) < 0.5
    for d in (5.6, 6.0, 8.0, 11.0):  # differences with mean d and standard deviation 1
        assert power_columns(d + np.array([-1.0, 0.0, 1.0]), np.zeros(3), True)[1] == 3.0
        assert power(d, 3, True) >= 0.8 > power(d, 2, True)


def test_detectable_effect_is_the_root_of_statsmodels_power():
    """The detectable effect is where statsmodels' own power is 80 % (to 1e-12; its solve_power stops within a few
    1e-6 of it), for pairs and for two samples of equal and unequal sizes."""
    from nnstudy.report._robust import _detectable, power

    TTestIndPower, TTestPower = _statsmodels_power()
    an, ind = TTestPower(), TTestIndPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for na in (2, 3, 5, 10, 30):
            d = _detectable(True, na, na)
            theirs = an.power(effect_size=d, nobs=na, alpha=0.05)  # NaN at 2 pairs (the far tail: 0 here)
            assert power(d, na, True) == pytest.approx(0.8, abs=1e-12) and (na == 2 or theirs == pytest.approx(
                0.8, abs=1e-12))
            assert d == pytest.approx(an.solve_power(effect_size=None, nobs=na, alpha=0.05, power=0.8), rel=1e-5)
            for nb in (2, 4, na, na + 7):
                d = _detectable(False, na, nb)
                assert ind.power(effect_size=d, nobs1=na, ratio=nb / na, alpha=0.05) == pytest.approx(0.8, abs=1e-12)
                assert d == pytest.approx(ind.solve_power(effect_size=None, nobs1=na, ratio=nb / na, alpha=0.05,
                                                          power=0.8), rel=1e-5)


def test_the_power_columns_need_scipy_alone():
    """statsmodels is an extra (classical): without it the power columns are the same numbers, and the summary's
    tests do not import it (a report with seeds had raised ModuleNotFoundError)."""
    import subprocess
    import sys

    code = """
import json, sys
class NoStatsmodels:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "statsmodels":
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, NoStatsmodels())
from nnstudy.report._robust import power_columns
cols = [power_columns([0.80, 0.82, 0.81, 0.83], [0.79, 0.815, 0.80, 0.825], True),
        power_columns([0.80, 0.82, 0.81, 0.83, 0.815], [0.805, 0.83, 0.82, 0.81], False)]
print(json.dumps([cols, "statsmodels" in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    cols, imported = __import__("json").loads(out)
    assert not imported
    here = [power_columns([0.80, 0.82, 0.81, 0.83], [0.79, 0.815, 0.80, 0.825], True),
            power_columns([0.80, 0.82, 0.81, 0.83, 0.815], [0.805, 0.83, 0.82, 0.81], False)]
    assert [list(c) for c in here] == cols and all(math.isfinite(v) for c in cols for v in c)


# ---------------------------------------------------------------- in results.csv


def _snapshot(values: dict[str, dict[int, float]], metric="test_accuracy") -> StudySnapshot:
    rows = []
    for c, (width, by_seed) in enumerate(values.items()):
        for seed, acc in by_seed.items():
            rows.append({"trial_id": f"t{c}{seed}", "seed": seed, "status": "done", "error": None,
                         "model.width": width, metric: acc})
    return StudySnapshot(name="robust", description="", spec={}, source="", task="classification",
                         metrics=[metric], swept_keys=["model.width"], trials=pd.DataFrame(rows),
                         history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]))


BEST = {0: 0.861, 1: 0.874, 2: 0.869, 3: 0.880, 4: 0.852}
CLOSE = {0: 0.857, 1: 0.869, 2: 0.866, 3: 0.875, 4: 0.848}  # a little worse on every seed
FAR = {4: 0.80, 0: 0.81, 2: 0.79, 1: 0.82}  # seeds out of order, seed 3 missing
APART = {10: 0.86, 11: 0.85, 12: 0.87}  # no seed in common with the best


def test_results_columns_pair_on_the_seed_column():
    s = summarize(_snapshot({"16": BEST, "8": CLOSE, "4": FAR, "2": APART}))
    r = list(s.columns).index("tied")
    assert list(s.columns[r + 1:]) == list(COLUMNS)
    assert s["rank"].tolist() == [1, 2, 4, 3]
    close = s.iloc[1]
    a, b = np.array(list(CLOSE.values())), np.array(list(BEST.values()))
    assert close["test"] == "paired-t" and close["n_pairs"] == 5
    assert close["p_paired"] == pytest.approx(st.ttest_rel(a, b).pvalue, rel=1e-12)
    assert close["p_wilcoxon"] == pytest.approx(st.wilcoxon(a, b).pvalue, rel=1e-12)
    assert close["p_welch"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)
    assert close["p_paired"] < 0.01 < close["p_welch"]  # the seed's share cancels in the pairs
    far = s.iloc[2]  # paired on the 4 seeds both ran, whatever their order
    fa = np.array([FAR[k] for k in (0, 1, 2, 4)])
    fb = np.array([BEST[k] for k in (0, 1, 2, 4)])
    assert far["test"] == "paired-t" and far["n_pairs"] == 4
    assert far["p_paired"] == pytest.approx(st.ttest_rel(fa, fb).pvalue, rel=1e-12)
    apart = s.iloc[3]  # nothing to pair: Welch
    assert apart["test"] == "welch" and apart["n_pairs"] == 0 and pd.isna(apart["p_paired"])
    assert apart["p_test"] == apart["p_welch"]
    np.testing.assert_allclose(s["p_test"], [np.nan, close["p_paired"], far["p_paired"], apart["p_welch"]])
    np.testing.assert_allclose(s["p_test_holm"], holm(s["p_test"].to_numpy(float)), rtol=1e-12)
    assert [None if pd.isna(t) else bool(t) for t in s["tied_test"]] == \
        [None] + [bool(q >= 0.05) for q in s["p_test_holm"].iloc[1:]]
    assert bool(s["tied_test"].iloc[1]) is False and bool(s["tied"].iloc[1]) is True  # pairing resolves it
    # robust summaries of every configuration, P(better than the best) of the others
    assert s["iqm"].iloc[0] == pytest.approx(st.trim_mean(b, 0.25))
    ref = st.bootstrap((b,), np.mean, n_resamples=10_000, method="percentile", rng=0).confidence_interval
    assert (s["mean_boot_low"].iloc[0], s["mean_boot_high"].iloc[0]) == pytest.approx((ref.low, ref.high))
    assert pd.isna(s["prob_improve"].iloc[0])
    assert s["prob_improve"].iloc[1] == pytest.approx(st.mannwhitneyu(a, b).statistic / 25)
    assert s["prob_improve"].iloc[2] == 0.0
    assert s["seeds_needed"].dtype == "Int64" and s["n_pairs"].dtype == "Int64"
    # power of the test used
    _, TTestPower = _statsmodels_power()
    d = a - b
    assert close["mde"] == pytest.approx(
        TTestPower().solve_power(effect_size=None, nobs=5, alpha=0.05, power=0.8) * np.std(d, ddof=1), rel=1e-6)


def test_lower_is_better_probability_and_single_seed():
    s = summarize(_snapshot({"a": {0: 0.30, 1: 0.32, 2: 0.31}, "b": {0: 0.35, 1: 0.36, 2: 0.30}, "c": {0: 0.2}},
                            metric="test_loss"))
    assert s["rank"].tolist() == [2, 3, 1]  # c, one seed: the best, but it cannot be tested against
    assert s["test"].isna().all() and s["p_test"].isna().all()
    assert math.isnan(s["iqm_boot_low"].iloc[2]) and s["iqm"].iloc[2] == 0.2
    assert s["prob_improve"].iloc[0] == 0.0  # every seed of a has a larger loss than c's


def test_no_metric_values_no_robust_numbers(tmp_path):
    s = summarize(_snapshot({"a": {}, "b": {}}))
    assert len(s) == 0 or s["iqm"].isna().all()


# ---------------------------------------------------------------- the sentence and the report files


def test_power_sentence():
    a = analyze(_snapshot({"16": BEST, "8": {k: v - 0.002 + (0.004 if k % 2 else -0.003) for k, v in BEST.items()},
                           "4": FAR}))
    s = a.summary
    note = power_note(s, a.metric, a.labels, a.best)
    assert note.startswith("4–5 seeds can detect a difference of ")
    tied = s.iloc[1]
    assert bool(tied["tied_test"]) and not pd.isna(tied["seeds_needed"])
    assert f"model.width=8 needs about {int(tied['seeds_needed'])}." in note
    assert "(80% power, α = 0.05" in note


def test_report_files_show_the_new_table_and_figure(tmp_path):
    snap = _snapshot({"16": BEST, "8": CLOSE, "4": FAR, "2": APART})
    write_report(snap, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Paired seeds, robust intervals and power" in md
    assert "| model.width=8 | 5 | paired-t (n = 5) |" in md and "| model.width=2 ≈ | 3 | welch |" in md
    assert "seeds can detect a difference of" in md
    html = (tmp_path / "report.html").read_text()
    assert "Paired seeds, robust intervals and power" in html and "paired-t (n = 5)" in html
    assert "performance_profile" in html and (tmp_path / "figures" / "performance_profile.png").exists()
    tex = (tmp_path / "results.tex").read_text()
    assert "\\label{tab:robust-robust}" in tex and "paired-t (n = 5)" in tex and "α" not in tex
    csv = pd.read_csv(tmp_path / "results.csv")
    assert list(csv.columns[-len(COLUMNS):]) == list(COLUMNS)
    assert csv["test"].tolist()[1:] == ["paired-t", "paired-t", "welch"]


def test_performance_profile_values():
    np.testing.assert_allclose(profile([0.1, 0.2, 0.3, 0.4], [0.0, 0.15, 0.4, 0.5]), [1.0, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(profile([0.1, 0.2, 0.3, 0.4], [0.0, 0.15, 0.4, 0.5], higher=False),
                               [0.0, 0.25, 0.75, 1.0])


# ---------------------------------------------------------------- nnstudy compare


def _side(name: str, by_seed: dict[int, float]) -> Side:
    t = pd.DataFrame({"seed": list(by_seed), "test_accuracy": list(by_seed.values()), "status": "done"})
    return Side(name, {}, {}, t, ["test_accuracy"])


def test_compare_pairs_on_seeds_and_adds_robust_columns():
    c = compare_sides(_side("a", BEST), _side("b", CLOSE))
    r = c.table.iloc[0]
    a, b = np.array(list(BEST.values())), np.array(list(CLOSE.values()))
    assert r["test"] == "paired-t" and r["n_pairs"] == 5
    assert r["p_paired"] == pytest.approx(st.ttest_rel(b, a).pvalue, rel=1e-12)
    assert r["p_wilcoxon"] == pytest.approx(st.wilcoxon(b, a).pvalue, rel=1e-12)
    assert r["p_test_holm"] == r["p_test"] == r["p_paired"]  # one metric: Holm changes nothing
    assert r["verdict"] == "no significant difference" and r["verdict_test"] == "A better"
    assert r["a_iqm"] == pytest.approx(st.trim_mean(a, 0.25)) and r["b_iqm"] == pytest.approx(st.trim_mean(b, 0.25))
    assert r["prob_b_better"] == pytest.approx(st.mannwhitneyu(b, a).statistic / 25)
    assert r["prob_b_better_low"] <= r["prob_b_better"] <= r["prob_b_better_high"]
    apart = compare_sides(_side("a", BEST), _side("b", APART)).table.iloc[0]
    assert apart["test"] == "welch" and apart["p_test"] == apart["p_welch"]
    from nnstudy.report._compare_write import HEADER, cells
    row = cells(c)[0]
    assert len(row) == len(HEADER) and row[HEADER.index("test")] == "paired-t (n = 5)"
