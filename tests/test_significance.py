"""Welch's t-test and Holm's correction against scipy and a brute-force reference; the comparison
with the best configuration in results.csv and in every table."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from nnstudy.report import summarize
from nnstudy.report._significance import format_p, holm, versus_best, welch_p
from nnstudy.report._stats import analyze
from nnstudy.report._tables import latex, markdown
from nnstudy.store._snapshot import StudySnapshot


def _scipy_welch(a, b) -> float:
    return float(st.ttest_ind(a, b, equal_var=False).pvalue)


@pytest.mark.parametrize("seed", range(5))
def test_welch_equals_scipy_on_random_data(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        na, nb = rng.integers(2, 12, size=2)
        a = rng.normal(rng.normal(), rng.uniform(0.01, 3), na)
        b = rng.normal(rng.normal(), rng.uniform(0.01, 3), nb)
        assert welch_p(a, b) == pytest.approx(_scipy_welch(a, b), rel=1e-9, abs=1e-300)
        assert welch_p(b, a) == pytest.approx(welch_p(a, b), rel=1e-12)


def test_welch_with_equal_variances_and_sizes_is_students_test():
    """Equal sample variances and sizes: Welch's df is 2(n - 1), so p equals Student's exactly."""
    a = np.array([0.86, 0.88, 0.87, 0.89, 0.85])
    b = a[::-1] - 0.02  # the same spread, shifted
    assert np.var(a, ddof=1) == pytest.approx(np.var(b, ddof=1))
    p = welch_p(a, b)
    assert p == pytest.approx(_scipy_welch(a, b), rel=1e-10)
    assert p == pytest.approx(float(st.ttest_ind(a, b, equal_var=True).pvalue), rel=1e-10)
    assert p == pytest.approx(2 * st.t.sf(0.02 / math.sqrt(2 * np.var(a, ddof=1) / 5), 8), rel=1e-10)


def test_welch_with_one_value_is_no_test_like_scipy():
    for a, b in (([0.9], [0.8, 0.85]), ([0.9, 0.91], [0.8]), ([0.9], [0.8]), ([], [0.8, 0.9])):
        assert math.isnan(welch_p(a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(_scipy_welch([0.9], [0.8, 0.85]))


def test_welch_with_constant_samples():
    """scipy answers NaN; equal constants are no evidence (p = 1), different ones are (p = 0)."""
    assert welch_p([0.5, 0.5, 0.5], [0.5, 0.5]) == 1.0
    assert welch_p([0.5, 0.5, 0.5], [0.4, 0.4]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: "nearly identical" data
        expected = _scipy_welch([0.5, 0.5, 0.5], [0.4, 0.5])
    assert welch_p([0.5, 0.5, 0.5], [0.4, 0.5]) == pytest.approx(expected)


def _closed_bonferroni(p) -> list[float]:
    """Holm by its definition: closed testing with Bonferroni tests of every intersection."""
    m = len(p)
    out = []
    for i in range(m):
        worst = 0.0
        for k in range(1, m + 1):
            for subset in itertools.combinations(range(m), k):
                if i in subset:
                    worst = max(worst, min(1.0, k * min(p[j] for j in subset)))
        out.append(worst)
    return out


def test_holm_equals_closed_testing_on_random_p_values():
    rng = np.random.default_rng(7)
    for m in range(1, 8):
        for _ in range(25):
            p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3)
            if m > 2:
                p[1] = p[2]  # ties
            np.testing.assert_allclose(holm(p), _closed_bonferroni(list(p)), rtol=1e-12)


def test_holm_equals_statsmodels_multipletests():
    multitest = pytest.importorskip("statsmodels.stats.multitest")  # the classical extra
    rng = np.random.default_rng(11)
    for m in (1, 2, 5, 9):  # few calls: statsmodels' Holm runs gc.collect() on each
        p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3)
        p[-1] = p[0]  # a tie
        np.testing.assert_array_equal(holm(p), multitest.multipletests(p, method="holm")[1])
    p = np.array([0.01, np.nan, 0.04, 0.3])  # NaN: left out of the family, as if never tested
    expected = multitest.multipletests(p[[0, 2, 3]], method="holm")[1]
    np.testing.assert_array_equal(holm(p)[[0, 2, 3]], expected)


def test_holm_textbook_values_and_missing_entries():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(0.06, 0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    out = holm([0.01, np.nan, 0.04])  # NaN: not a comparison, m = 2
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]).shape == (0,) and np.isnan(holm([np.nan])).all()


def test_versus_best_on_random_groups():
    rng = np.random.default_rng(3)
    groups = [rng.normal(mu, sd, n) for mu, sd, n in ((0.90, 0.01, 5), (0.88, 0.02, 4), (0.70, 0.05, 6),
                                                      (0.899, 0.01, 3), (0.5, 0.0, 1))]
    best = 0
    out = versus_best(groups, best)
    p = [math.nan] + [_scipy_welch(g, groups[0]) for g in groups[1:4]] + [math.nan]
    np.testing.assert_allclose(out["p_welch"], p, rtol=1e-9)
    np.testing.assert_allclose(out["p_holm"], holm(p), rtol=1e-12)
    np.testing.assert_allclose(out["diff_to_best"], [g.mean() - groups[0].mean() for g in groups])
    expected_tied = [pd.NA] + [bool(q >= 0.05) for q in holm(p)[1:4]] + [pd.NA]
    assert [x if x is pd.NA else bool(x) for x in out["tied"]] == expected_tied
    assert out["tied"].tolist()[2] is False and out["tied"].tolist()[3] is True  # 0.70 worse; 0.899 tied


def test_format_p():
    assert [format_p(p) for p in (0.2634, 0.0506, 0.00212, 0.0004, 1.0, math.nan)] == \
        ["0.26", "0.051", "0.0021", "<0.001", "1.00", "—"]


# ---------------------------------------------------------------- in the report


def _snapshot(values: dict[str, list[float]], metrics=("test_accuracy", "test_loss")) -> StudySnapshot:
    rows = []
    for c, (width, accs) in enumerate(values.items()):
        for seed, acc in enumerate(accs):
            rows.append({"trial_id": f"t{c}{seed}", "seed": seed, "status": "done", "error": None,
                         "model.width": width, "test_accuracy": acc, "test_loss": 1 - acc})
    return StudySnapshot(name="cmp", description="", spec={}, source="", task="classification",
                         metrics=list(metrics), swept_keys=["model.width"], trials=pd.DataFrame(rows),
                         history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]))


WIDE = {"8": [0.81, 0.83, 0.80, 0.82], "16": [0.90, 0.91, 0.89, 0.905], "32": [0.895, 0.90, 0.905]}


def test_results_columns_after_rank_match_scipy(tmp_path):
    s = summarize(_snapshot(WIDE))
    r = list(s.columns).index("rank")  # the robust columns follow (tests/test_robust.py)
    assert list(s.columns[r:r + 5]) == ["rank", "diff_to_best", "p_welch", "p_holm", "tied"]
    assert s["rank"].tolist() == [3, 1, 2]
    p8, p32 = _scipy_welch(WIDE["8"], WIDE["16"]), _scipy_welch(WIDE["32"], WIDE["16"])
    assert p8 < 0.001 and p32 > 0.5
    np.testing.assert_allclose(s["p_welch"], [p8, np.nan, p32], rtol=1e-9)
    np.testing.assert_allclose(s["p_holm"], [2 * p8, np.nan, p32], rtol=1e-9)  # Holm over 2 comparisons
    np.testing.assert_allclose(s["diff_to_best"], [0.815 - 0.90125, 0.0, np.mean(WIDE["32"]) - 0.90125])
    assert [bool(x) if not pd.isna(x) else None for x in s["tied"]] == [False, None, True]
    s.iloc[:, :r + 5].to_csv(tmp_path / "r.csv", index=False)
    text = (tmp_path / "r.csv").read_text().splitlines()
    assert text[1].endswith(",False") and text[2].endswith(",0.0,,,") and text[3].endswith(",True")


def test_lower_is_better_metric_ranks_and_compares_the_other_way():
    s = summarize(_snapshot(WIDE, metrics=("test_loss",)))
    assert s["rank"].tolist() == [3, 1, 2]  # loss = 1 - accuracy
    assert s["diff_to_best"].iloc[0] == pytest.approx(0.90125 - 0.815)  # worse = larger loss


def test_one_seed_per_configuration_says_no_test_is_possible():
    snap = _snapshot({"8": [0.81], "16": [0.90], "32": [0.88]})
    a = analyze(snap)
    assert a.summary["p_welch"].isna().all() and a.summary["tied"].isna().all()
    assert not a.tested
    assert a.comparison_note().startswith("No significance test is possible: every configuration has a single seed")
    md = markdown(a, {})
    assert "p (Holm)" not in md and "No significance test is possible" in md
    assert "| 16 | 1 | **0.9000** | 0.1000 | 1 |" in md  # mean only, no ± and no p
    tex = latex(a)
    assert "Holm" not in tex and "No significance test is possible with fewer than two seeds" in tex


def test_single_seed_best_cannot_be_tested():
    a = analyze(_snapshot({"8": [0.81, 0.80], "16": [0.95], "32": [0.88, 0.87]}))
    assert not a.tested
    assert "the best configuration has a single seed" in a.comparison_note()


def test_one_configuration_has_nothing_to_compare():
    a = analyze(_snapshot({"16": [0.90, 0.91, 0.89]}))
    assert a.comparison_note() == "" and not a.tested
    assert a.summary["diff_to_best"].tolist() == [0.0]


def test_the_same_values_in_another_seed_order_share_rank_one():
    """iris-sized test splits give the same accuracies in another order: np.mean gives 0.875 for one order and
    0.8750000000000001 for another, which ranked the two 2 and 1 and showed a difference of −0.0000."""
    values = [0.9, 0.95, 0.85, 0.8]
    assert np.mean(values) != np.mean(values[::-1])  # the running sum that split them
    a = analyze(_snapshot({"8": values, "16": values[::-1], "32": [0.7, 0.75, 0.72, 0.71]}))
    s = a.summary
    assert s["rank"].tolist() == [1, 1, 3]
    assert s["test_accuracy_mean"].tolist()[:2] == [0.875, 0.875]
    assert s["diff_to_best"].tolist()[:2] == [0.0, 0.0]
    assert s["p_welch"].iloc[1] == pytest.approx(_scipy_welch(values[::-1], values)) and s["tied"].iloc[1]
    assert "| 16 | 4 | 0.88 ± 0.03 ≈ | 0.12 ± 0.03 | 1 | 0 | 1.00 | 1.00 |" in markdown(a, {})


def test_seeds_that_all_agree_have_no_spread_even_where_the_sum_rounds():
    """A deterministic configuration (an SVR, a zero-initialised perceptron) scores 0.7 on every seed; np.std
    gives 1.2e-16 there, not 0: the table showed 0.70000000 ± 0.00000000, and two such configurations with
    6 and 3 seeds 'differed' at Welch p = 0.08 (scipy warns of catastrophic cancellation) with about 7 seeds
    needed to resolve a difference of exactly 0."""
    from nnstudy.report._robust import power_columns

    assert np.std([0.7] * 6, ddof=1) > 0  # the rounding this is about
    assert welch_p([0.7] * 6, [0.7] * 3) == 1.0 and welch_p([0.7] * 6, [0.8] * 3) == 0.0
    assert power_columns([0.7] * 3, [0.8] * 3, True) == (0.0, 2.0)  # the differences are constant too
    a = analyze(_snapshot({"svr": [0.7] * 6, "forest": [0.7] * 3, "mlp": [0.6, 0.65, 0.62]}))
    s = a.summary
    assert s["test_accuracy_std"].tolist()[:2] == [0.0, 0.0] and s["test_accuracy_sem"].tolist()[:2] == [0.0, 0.0]
    assert s["test_accuracy_ci95_low"].tolist()[:2] == s["test_accuracy_ci95_high"].tolist()[:2] == [0.7, 0.7]
    assert s["p_welch"].iloc[1] == 1.0 and bool(s["tied"].iloc[1])
    assert s["mde"].iloc[1] == 0.0 and pd.isna(s["seeds_needed"].iloc[1])
    assert "| forest | 3 | 0.7000 ± 0.0000 ≈ |" in markdown(a, {})
