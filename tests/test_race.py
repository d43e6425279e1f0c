"""Racing seeds (issue 20 item 4), the decision rule alone: simulated races with known score distributions,
no training. 1,000 races per setting: the true best is dropped in at most alpha of them, and where one
configuration is clearly better the race needs at most half the trials of the full grid x max."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudy._race import RaceRule, _paired_many, race, step
from nnstudy.report._robust import paired_p

RULE = RaceRule(min=3, max=20, alpha=0.05)
RACES = 1000


def _races(means, sd, skewed: bool, rule=RULE, races=RACES, higher=True):
    """(share of races that dropped configuration 0, the true best; trials used / (configurations x max))."""
    dropped = trials = 0
    for r in range(races):
        rng = np.random.default_rng(r)

        def sample(c, seed):
            e = rng.exponential() - 1.0 if skewed else rng.normal()  # skewed: exponential noise, mean 0, sd 1
            return means[c] + sd * e if higher else -(means[c] + sd * e)

        res = race(sample, list(range(len(means))), rule, higher=higher)
        dropped += 0 in res.left_at
        trials += res.trials
    return dropped / races, trials / (races * len(means) * rule.max)


@pytest.mark.parametrize("skewed", [False, True], ids=["normal", "skewed"])
def test_the_true_best_is_rarely_dropped(skewed):
    # close contenders: the best by one SD-fifth, by two, and a clearly worse one
    dropped, _ = _races((1.0, 0.99, 0.98, 0.90), 0.05, skewed)
    assert dropped <= RULE.alpha


def test_equal_configurations_keep_racing_to_max():
    dropped, used = _races((1.0, 1.0, 1.0), 0.05, False, races=300)
    assert dropped <= RULE.alpha and used > 0.9  # nothing to tell apart: nearly every seed is spent


@pytest.mark.parametrize("skewed", [False, True], ids=["normal", "skewed"])
def test_a_clearly_better_configuration_ends_the_race_early(skewed):
    dropped, used = _races((1.0, 0.0, 0.0, 0.0), 0.25, skewed)
    assert dropped == 0 and used <= 0.5


def test_lower_is_better_and_friedman():
    dropped, used = _races((1.0, 0.0, 0.0), 0.25, False, races=200, higher=False)
    assert dropped == 0 and used <= 0.5
    f = RaceRule(3, 20, 0.05, "friedman")
    dropped, used = _races((1.0, 0.99, 0.98, 0.90), 0.05, False, rule=f, races=200)
    assert dropped <= 0.05
    dropped, used = _races((1.0, 0.0, 0.0, 0.0), 0.25, False, rule=f, races=200)
    assert dropped == 0 and used <= 0.5


def test_race_result_says_who_left_when():
    means = {"a": 1.0, "b": 0.0, "c": 0.95}
    rng = np.random.default_rng(0)
    res = race(lambda c, s: means[c] + rng.normal(0, 0.02), list(means), RULE)
    assert res.best == "a" and "b" in res.left_at and res.left_at["b"] >= RULE.min
    assert res.seeds["b"] == res.left_at["b"] and res.trials == sum(res.seeds.values())
    assert res.trials < 3 * RULE.max


def test_vectorised_paired_test_equals_paired_p():
    rng = np.random.default_rng(1)
    for n in (2, 3, 7):
        xs, y = rng.normal(size=(4, n)), rng.normal(size=n)
        xs[3] = y + 0.5  # constant differences
        np.testing.assert_allclose(_paired_many(xs, y), [paired_p(x, y) for x in xs], rtol=1e-12)


def test_a_configuration_with_a_missing_seed_is_tested_on_the_seeds_it_shares():
    groups = {"a": {0: 1.0, 1: 1.01, 2: 0.99, 3: 1.0}, "b": {0: 0.0, 1: 0.01, 3: 0.02}}
    assert step(groups, ["a", "b"], RaceRule(3, 3, 0.05)) == ["a"]  # one look: tested at 0.05


@pytest.mark.parametrize("rule, configs, message", [
    (RaceRule(5, 3), 3, "seeds.min (5) is larger than seeds.max (3)"),
    (RaceRule(3, 20, 0.0), 3, "seeds.alpha must be in (0, 0.5]"),
    (RaceRule(3, 20, 0.6), 3, "seeds.alpha must be in (0, 0.5]"),
    (RaceRule(3, 20), 1, "needs at least two configurations"),
    (RaceRule(1, 20), 3, "seeds.min must be a whole number >= 2"),
    (RaceRule(3, 20, 0.05, "anova"), 3, "seeds.method must be one of holm, friedman"),
])
def test_bad_races_are_one_line(rule, configs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        rule.check(configs)


# ---------------------------------------------------------------- a real (small) study races


RACE = {
    "study": {"name": "race", "description": "a learning rate that learns against one that does not"},
    "data": {"name": "moons", "n_samples": 300},
    "model": {"hidden": [8]},
    "train": {"epochs": 4, "batch_size": 32},
    "sweep": {"train.lr": [0.3, 1e-5]},
    "trials": {"seeds": {"min": 3, "max": 8, "alpha": 0.05}},
    "report": {"metrics": ["test_accuracy"]},
}


def test_a_study_races_resumes_and_reports(tmp_path):
    import nnstudy

    store = tmp_path / "runs"
    study = nnstudy.run(RACE, store=store, workers=1)
    t = study.trials()
    per = t.groupby("train.lr")["seed"].apply(sorted).to_dict()
    assert per[0.3] == list(range(len(per[0.3]))) and per[1e-05] == list(range(len(per[1e-05])))
    assert len(per[1e-05]) < 8 and len(t) < 16  # the learning rate that does not learn left the race
    assert (t["status"] == "done").all()
    s = study.results()
    assert s.loc[s["rank"] == 1, "train.lr"].item() == 0.3
    md = (store / "race" / "report.md").read_text()
    assert f"Racing seeds on val\\_accuracy (3 to 8 seeds, α = 0.05, holm): {len(t)} trials instead of 16" in md
    assert f"train.lr=1e-05 after {len(per[1e-05])} seeds" in md
    again = nnstudy.run(RACE, store=store, workers=1)  # a race run again takes the same decisions: nothing to train
    assert again.summary.ran == 0 and len(again.trials()) == len(t)


@pytest.mark.parametrize("change, message", [
    ({"sweep": {}}, "needs at least two configurations"),
    ({"trials": {"seeds": {"min": 5, "max": 3}}}, "seeds.min (5) is larger than seeds.max (3)"),
    ({"trials": {"seeds": {"min": 3, "max": 20, "alpha": 0.7}}}, "seeds.alpha must be in (0, 0.5]"),
])
def test_a_race_that_cannot_run_is_one_line(tmp_path, change, message):
    import nnstudy
    from nnstudy import StudyError

    with pytest.raises(StudyError) as e:
        nnstudy.run({**RACE, **change}, store=tmp_path / "runs", workers=1)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_racing_metric_the_trials_do_not_record_is_one_line(tmp_path, monkeypatch):
    import nnstudy
    import nnstudy._race as race_module
    from nnstudy import StudyError

    monkeypatch.setattr(race_module, "racing_metric", lambda spec, metrics: "val_f1")  # as a training function might
    small = {**RACE, "trials": {"seeds": {"min": 2, "max": 3}}}
    with pytest.raises(StudyError) as e:
        nnstudy.run(small, store=tmp_path / "runs", workers=1)
    assert "record no val_f1, the metric the race compares" in str(e.value) and "\n" not in str(e.value)
