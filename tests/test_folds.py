"""Data resampling in the error bars (issue 20 item 5): k-fold cross-validation (data.folds: folds × seeds are
the replicates) and data.split_seed = "seed" (each seed draws its own validation split)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnstudy.data import load
from nnstudy.data._prepare import fold_split
from nnstudy.spec import expand
from nnstudy.spec._schema import DataConfig

MOONS = {"name": "moons", "n_samples": 200, "normalize": "none"}


def _rows(x: np.ndarray) -> set[tuple]:
    return {tuple(r) for r in np.round(x, 6)}


def test_folds_partition_the_training_rows():
    strat = np.repeat([0, 1, 2], [30, 40, 33])
    idx = np.arange(5, 5 + len(strat))
    held = [fold_split(idx, np.r_[np.zeros(5, int), strat], 5, k, 7, "x")[1] for k in range(5)]
    assert sorted(np.concatenate(held).tolist()) == idx.tolist()  # each row in exactly one validation fold
    for k, h in enumerate(held):
        keep = fold_split(idx, np.r_[np.zeros(5, int), strat], 5, k, 7, "x")[0]
        assert sorted(np.r_[keep, h].tolist()) == idx.tolist() and not set(keep) & set(h)
        assert np.bincount(strat[h - 5], minlength=3).min() >= 6  # stratified: every class in every fold
    # on a real dataset: the 5 validation splits are the training rows, each once
    splits = [load(DataConfig.model_validate({**MOONS, "folds": 5, "fold": k})) for k in range(5)]
    every = _rows(np.r_[splits[0].x_train, splits[0].x_val])
    assert len(every) == 160 and all(len(s.x_val) == 32 and len(s.x_train) == 128 for s in splits)
    vals = [_rows(s.x_val) for s in splits]
    assert set().union(*vals) == every and sum(map(len, vals)) == len(every)
    assert all(_rows(s.x_train) == every - v for s, v in zip(splits, vals))
    np.testing.assert_array_equal(splits[0].x_test, splits[3].x_test)  # the test split stays as it was


def test_split_seed_seed_gives_each_seed_its_own_split_and_configurations_share_it():
    from nnstudy.spec._load import validate

    study = validate({"study": {"name": "s"}, "data": {**MOONS, "split_seed": "seed"}, "model": {"hidden": [4]},
                      "sweep": {"train.lr": [0.1, 0.01]}, "trials": {"seeds": 2}}, "s")
    trials = expand(study)
    assert [t.config["data"]["split_seed"] for t in trials] == [0, 1, 0, 1]
    data = {t.trial_id: load(DataConfig.model_validate(t.config["data"])) for t in trials}
    a0, a1, b0 = (data[trials[i].trial_id] for i in (0, 1, 2))
    assert _rows(a0.x_val) != _rows(a1.x_val)  # another seed, another split
    np.testing.assert_array_equal(a0.x_val, b0.x_val)  # another configuration, the same seed: the same split
    fixed = validate({"study": {"name": "s"}, "data": {**MOONS, "split_seed": 1}, "model": {"hidden": [4]},
                      "sweep": {"train.lr": [0.1, 0.01]}, "trials": {"seeds": [1]}}, "s")
    assert expand(fixed)[0].trial_id == trials[1].trial_id  # seed 1 with its own split is the fixed-split trial


FOLDS = {"study": {"name": "folds"}, "data": {**MOONS, "folds": 3, "split_seed": "seed"}, "model": {"hidden": [4]},
         "train": {"epochs": 2, "batch_size": 32}, "sweep": {"train.lr": [0.3, 0.003]}, "trials": {"seeds": 2},
         "report": {"metrics": ["test_accuracy", "val_accuracy"]}}


def test_folds_times_seeds_are_the_replicates_of_the_tables(tmp_path):
    import nnstudy
    from nnstudy.report._robust import paired_p

    study = nnstudy.run(FOLDS, store=tmp_path / "runs", workers=1)
    t = pd.read_csv(study.report_dir / "trials.csv")
    assert len(t) == 12 and (t["status"] == "done").all() and list(t.columns[:3]) == ["trial_id", "seed", "fold"]
    assert sorted(zip(t["seed"], t["fold"], t["train.lr"])) == sorted(
        (s, f, lr) for lr in (0.3, 0.003) for s in (0, 1) for f in (0, 1, 2))
    r = study.results().set_index("train.lr")
    for lr, g in t.groupby("train.lr"):
        for m in ("val_accuracy", "test_accuracy"):
            v = g[m].to_numpy(float)
            assert r.loc[lr, "n"] == 6
            assert r.loc[lr, f"{m}_mean"] == pytest.approx(np.mean(v), rel=1e-12)
            assert r.loc[lr, f"{m}_std"] == pytest.approx(np.std(v, ddof=1), rel=1e-12)
            assert r.loc[lr, f"{m}_sem"] == pytest.approx(np.std(v, ddof=1) / np.sqrt(6), rel=1e-12)
    # paired on (seed, fold): both learning rates saw the same 6 splits
    best = r["rank"].idxmin()
    other = [lr for lr in r.index if lr != best][0]
    by = {lr: g.set_index(["seed", "fold"])["test_accuracy"].sort_index() for lr, g in t.groupby("train.lr")}
    assert r.loc[other, "test"] == "paired-t" and r.loc[other, "n_pairs"] == 6
    assert r.loc[other, "p_test"] == pytest.approx(paired_p(by[other].to_numpy(), by[best].to_numpy()), rel=1e-9)
    md = (study.report_dir / "report.md").read_text()
    assert "over the replicates of each configuration (n = 6: 3 folds × 2 seeds; each fold held out once" in md
    assert "6 replicates can detect a difference of" in md  # the power sentence counts replicates, not seeds
    c = nnstudy.compare("folds", where=(f"train.lr={best}", f"train.lr={other}"), metric="test_accuracy",
                        store=tmp_path / "runs").table.iloc[0]
    assert c["n_pairs"] == 6 and c["p_paired"] == pytest.approx(r.loc[other, "p_paired"], rel=1e-9)  # compare pairs too


@pytest.mark.parametrize("change, message", [
    ({"data": {**MOONS, "folds": 3, "fold": 1}}, "data.fold: nnstudy fills it in from data.folds; leave it out"),
    ({"trials": {"seeds": {"min": 2, "max": 4}}}, "racing seeds with data.folds is not supported"),
    ({"data": {"name": "elnino", "folds": 3}, "report": {"metrics": ["val_mse"]}},
     "cross-validation folds need rows in no particular order"),
    ({"data": {**MOONS, "folds": 1}}, "folds"),
    ({"data": {**MOONS, "split_seed": "each"}}, "split_seed"),
])
def test_bad_folds_are_one_line(tmp_path, change, message):
    import nnstudy
    from nnstudy import StudyError

    with pytest.raises(StudyError) as e:
        nnstudy.run({**FOLDS, **change}, store=tmp_path / "runs", workers=1)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert not (tmp_path / "runs").exists()
