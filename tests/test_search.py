"""[search]: the seed-averaged objective picks the truly best configuration more often than one seed does;
the median pruner stops a hopeless configuration; the study file's [search] table is validated."""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pandas as pd
import pytest

from nnstudy import StudyError
from nnstudy.api import run
from nnstudy.search import objective_value, optuna_path
from nnstudy.search._loop import Outcome, run_loop
from nnstudy.search._run import open_optuna, optuna_study_name
from nnstudy.search._space import distributions, params_of, point_of
from nnstudy.spec import read_study
from nnstudy.report._figures_search import importances
from nnstudy.search._history import history as search_history
from nnstudy.spec._search import SearchConfig, base_config

TRUE_MEAN = [0.800, 0.795, 0.790, 0.785, 0.780, 0.775, 0.770, 0.760]  # configuration 0 is the best
SEED_SD = 0.012


def synthetic_search(seeds: int, objective: str, rng: np.random.Generator) -> int:
    """One grid search over the 8 configurations on a noisy synthetic objective; the index it picks."""
    search = SearchConfig.model_validate({"method": "grid", "trials": 8, "objective": objective,
                                          "space": {"train.lr": {"choices": list(range(8))}}})
    study = open_optuna(None, "synthetic", search, "max")

    def evaluate(batch):  # a fake trainer: the configuration's true value plus seed noise
        return [Outcome(list(TRUE_MEAN[p["train.lr"]] + SEED_SD * rng.standard_normal(seeds)), seeds)
                for _, p in batch]

    run_loop(study, search, "max", evaluate)
    return point_of(study.best_trial.params, search)["train.lr"]


def test_seed_averaged_search_picks_the_best_configuration_more_often_than_single_seed():
    rng = np.random.default_rng(0)
    repeats = 200
    single = np.mean([synthetic_search(1, "mean", rng) == 0 for _ in range(repeats)])
    averaged = np.mean([synthetic_search(5, "mean", rng) == 0 for _ in range(repeats)])
    lcb = np.mean([synthetic_search(5, "lcb", rng) == 0 for _ in range(repeats)])
    print(f"\ntruly best configuration picked in {repeats} searches: single seed {single:.0%}, "
          f"mean of 5 seeds {averaged:.0%}, mean - SE of 5 seeds {lcb:.0%}")
    assert averaged > single + 0.15
    assert lcb > single + 0.10


def test_objective_is_the_mean_or_the_conservative_bound():
    values = [0.8, 0.9, 1.0]
    se = np.std(values, ddof=1) / math.sqrt(3)
    assert objective_value(values, "mean", "max") == pytest.approx(0.9)
    assert objective_value(values, "lcb", "max") == pytest.approx(0.9 - se)
    assert objective_value(values, "lcb", "min") == pytest.approx(0.9 + se)


def test_space_maps_to_optuna_parameters_and_back():
    search = SearchConfig.model_validate({"space": {
        "train.lr": {"low": 1e-4, "high": 1.0, "log": True},
        "model.hidden": {"width": {"low": 8, "high": 64, "int": True}, "depth": {"low": 1, "high": 3, "int": True}},
        "model.activation": {"choices": ["relu", "tanh"]},
        "train.batch_size": {"choices": [16, "full"]}}})
    dists = distributions(search)
    assert set(dists) == {"train.lr", "model.hidden:width", "model.hidden:depth", "model.activation",
                          "train.batch_size"}
    assert isinstance(dists["train.lr"], optuna.distributions.FloatDistribution) and dists["train.lr"].log
    point = {"train.lr": 0.01, "model.hidden": [32, 32, 32], "model.activation": "tanh", "train.batch_size": "full"}
    assert point_of(params_of(point, search), search) == point
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        p = point_of(study.ask(dists).params, search)
        assert 1e-4 <= p["train.lr"] <= 1 and 1 <= len(p["model.hidden"]) <= 3
        assert len(set(p["model.hidden"])) == 1 and 8 <= p["model.hidden"][0] <= 64


def test_a_finished_configuration_is_never_proposed_again():
    search = SearchConfig.model_validate({"method": "random", "trials": 6,
                                          "space": {"train.lr": {"choices": [1, 2, 3, 4, 5, 6]}}})
    study = open_optuna(None, "small", search, "max")
    seen = []

    def evaluate(batch):
        seen.extend(p["train.lr"] for _, p in batch)
        return [Outcome([float(p["train.lr"])], 1) for _, p in batch]

    run_loop(study, search, "max", evaluate)
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]  # all six, each once, although random proposals repeat


BASE = {"study": {"name": "search-prune"},
        "data": {"name": "moons", "n_samples": 300},
        "model": {"hidden": [8]},
        "train": {"epochs": 6, "batch_size": 32},
        "trials": {"seeds": 2},
        "report": {"metrics": ["val_accuracy", "test_accuracy"]}}


def test_median_pruner_stops_a_hopeless_configuration_early(tmp_path):
    spec = {**BASE, "search": {"method": "grid", "trials": 4, "pruner": "median",
                               "space": {"train.lr": {"choices": [0.3, 0.2, 0.1, 1e-6]}}},
            "report": {"metrics": ["test_accuracy", "val_accuracy"]}}  # the report ranks by the search's metric
    study = run(spec, store=tmp_path, workers=1)
    trials = study.trials()
    assert len(trials) == 8 and set(trials.status) == {"done"}
    epochs = trials.groupby("train.lr").epochs_run.max()
    assert epochs[1e-6] < 6  # every seed of the hopeless configuration stopped at the pruning epoch
    assert (epochs[[0.3, 0.2, 0.1]] == 6).all()
    assert trials[trials["train.lr"] == 1e-6].epochs_run.nunique() == 1
    history = study.history()
    hopeless = trials[trials["train.lr"] == 1e-6].trial_id
    assert history[history.trial_id.isin(hopeless)].epoch.max() == epochs[1e-6]

    ostudy = optuna.load_study(study_name=optuna_study_name(read_study(spec)[0]),
                               storage=f"sqlite:///{optuna_path(tmp_path, 'search-prune')}")
    states = {point_of(t.params, read_study(spec)[0].search)["train.lr"]: t.state for t in ostudy.trials}
    assert states[1e-6] == optuna.trial.TrialState.PRUNED
    assert ostudy.best_trial.params["train.lr"] in (0.3, 0.2, 0.1)

    results = pd.read_csv(study.report_dir / "results.csv")
    assert list(results.columns[:3]) == ["train.lr", "n", "val_accuracy_mean"] and len(results) == 4
    figures = study.report_dir / "figures"
    for name in ("search_history.png", "search_slices.png"):
        assert (figures / name).stat().st_size > 5000, name
    assert "search_history.png" in (study.report_dir / "report.md").read_text()
    fig = study.plot("search_history")  # any report figure, by name, in a notebook
    assert fig.axes[0].get_ylabel() == "val_accuracy" and fig._repr_png_().startswith(b"\x89PNG")
    h = search_history(study.snapshot())
    assert h["pruned"].tolist() == [False, False, False, True] and h["n"].tolist() == [2, 2, 2, 2]
    assert h.best_so_far.iloc[-1] == h["value"][~h.pruned].max()

    # a seed trained in lockstep trains exactly as it would alone (its own random state across turns)
    from nnstudy.data import load
    from nnstudy.engines import get_engine
    from nnstudy.spec._schema import DataConfig

    stored = trials[trials["train.lr"] == 0.1].iloc[1]
    trial = next(t for t in ostudy_trials(spec) if t.trial_id == stored.trial_id)
    alone = get_engine("torch").train(trial, load(DataConfig.model_validate(trial.config["data"])),
                                      lambda *_: None, "cpu")
    assert alone.final["val_loss"] == pytest.approx(stored.val_loss, rel=1e-6)
    assert alone.final["test_accuracy"] == pytest.approx(stored.test_accuracy)


def test_median_pruner_counts_the_epochs_of_a_steps_budget(tmp_path):
    """train.steps = 3 is one epoch of moons (train.epochs stays 20): every configuration trains its whole budget,
    so none is pruned at its last epoch, in the run nor when a lost Optuna history is rebuilt from the store."""
    spec = {**BASE, "study": {"name": "search-steps"}, "train": {"steps": 3, "batch_size": 32},
            "search": {"method": "grid", "trials": 4, "pruner": "median",
                       "space": {"train.lr": {"choices": [0.3, 0.2, 0.1, 1e-6]}}}}
    path = optuna_path(tmp_path, "search-steps")
    for _ in range(2):  # the second run finds every trial stored and asks whether each configuration was pruned
        study = run(spec, store=tmp_path, workers=1)
        trials = study.trials()
        assert set(trials.epochs_run) == {1} and set(trials.status) == {"done"} and len(trials) == 8
        ostudy = optuna.load_study(study_name=optuna_study_name(read_study(spec)[0]), storage=f"sqlite:///{path}")
        assert [t.state for t in ostudy.trials] == [optuna.trial.TrialState.COMPLETE] * 4
        path.unlink()
    h = search_history(study.snapshot())  # the report's history: none pruned either
    assert h["pruned"].tolist() == [False] * 4 and h["best_so_far"].notna().all()
    assert h["best_so_far"].iloc[-1] == h["value"].max()


def test_pruned_search_trains_each_configurations_seeds_as_one_stack(tmp_path):
    """--stack on: the seeds of a configuration train as one stacked program, pruned between its epochs;
    the stored trials and the pruning equal the one-process lockstep run."""
    spec = {**BASE, "search": {"method": "grid", "trials": 4, "pruner": "median",
                               "space": {"train.lr": {"choices": [0.3, 0.2, 0.1, 1e-6]}}},
            "train": {**BASE["train"], "dtype": "float64"}}
    runs = {mode: run(spec, store=tmp_path / mode, workers=1, stack=mode).trials().set_index("trial_id")
            for mode in ("off", "on")}
    off, on = runs["off"], runs["on"].loc[runs["off"].index]
    assert (on.epochs_run == off.epochs_run).all() and set(on.status) == {"done"}
    assert on[on["train.lr"] == 1e-6].epochs_run.max() < 6  # pruned in the stack as well
    np.testing.assert_allclose(on.val_loss, off.val_loss, rtol=1e-9)
    np.testing.assert_allclose(on.test_accuracy, off.test_accuracy, rtol=1e-12)


def ostudy_trials(spec):
    from nnstudy.search._run import StoreEvaluator

    study = read_study(spec)[0]
    ev = StoreEvaluator.__new__(StoreEvaluator)
    ev.base, ev.seeds, ev.label = base_config(study), study.trials.seed_list(), "<dict>"
    return [t for lr in (0.3, 0.2, 0.1) for t in ev.trials_of({"train.lr": lr})]


def test_importance_ranks_the_key_that_matters_first():
    search = SearchConfig.model_validate({"space": {"train.lr": {"low": 1e-3, "high": 1.0, "log": True},
                                                    "model.dropout": {"low": 0.0, "high": 0.5}}})
    rng = np.random.default_rng(0)
    lr, dropout = 10 ** rng.uniform(-3, 0, 40), rng.uniform(0, 0.5, 40)
    value = 0.9 - 0.1 * (np.log10(lr) + 1.5) ** 2 + 0.002 * dropout  # lr matters, dropout barely
    h = pd.DataFrame({"train.lr": lr, "model.dropout": dropout, "value": value, "pruned": False})
    got = importances(h, search, "classification")
    assert got["train.lr"] > 0.8 > got["model.dropout"]


def test_search_keys_are_validated_like_set():
    base = {"study": {"name": "x"}, "data": {"name": "moons"}}
    bad = {
        '"model.dropout" = { low = 0.0, high = 1.5 }': ("search.space.model.dropout: the value 1.5",
                                                        "input should be less than 1"),
        '"train.lrate" = { low = 0.1, high = 1.0 }': ("search.space.train.lrate", "no such key"),
        '"train.lr" = { low = 1.0, high = 0.1 }': ("search.space.train.lr", "must be below high"),
        '"train.lr" = { low = 0.0, high = 1.0, log = true }': ("train.lr", "needs low > 0"),
        '"model.hidden" = { width = { low = 4, high = 8 }, depth = { low = 1, high = 2, int = true } }':
            ("model.hidden", "int = true"),
    }
    import tomllib

    for line, (where, what) in bad.items():
        raw = {**base, **tomllib.loads(f"[search.space]\n{line}")}
        with pytest.raises(StudyError) as e:
            read_study(raw)
        assert where in str(e.value) and what in str(e.value), str(e.value)
    study = read_study({**base, "search": {"space": {"train.lr": {"low": 1e-3, "high": 1.0, "log": True}}}})[0]
    assert study.search.active and study.search.resolved_direction("classification") == "max"
    assert "search" not in read_study(base)[0].model_dump(mode="json")  # files without [search] dump as before
    assert json.loads(json.dumps(study.model_dump(mode="json")))["search"]["space"]["train.lr"]["log"] is True


def test_a_configuration_without_a_finite_value_fails_and_another_is_asked():
    search = SearchConfig.model_validate({"method": "grid", "trials": 3,
                                          "space": {"train.lr": {"choices": [1, 2, 3, 4]}}})
    study = open_optuna(None, "fails", search, "max")
    run_loop(study, search, "max", lambda batch: [Outcome([] if p["train.lr"] == 2 else [p["train.lr"]], 1)
                                                  for _, p in batch])
    states = {point_of(t.params, search)["train.lr"]: t.state.name for t in study.trials}
    assert states == {1: "COMPLETE", 2: "FAIL", 3: "COMPLETE", 4: "COMPLETE"}
    assert study.best_trial.value == 4


def test_a_proposal_a_kill_left_half_stored_is_failed_and_the_search_goes_on():
    """kill -9 inside Optuna's `ask` leaves a RUNNING trial with only some parameters (CI saw `train.lr` missing)."""
    search = SearchConfig.model_validate({"method": "random", "trials": 3, "space": {
        "train.lr": {"low": 0.01, "high": 0.5, "log": True},
        "model.hidden": {"width": {"low": 4, "high": 16, "int": True}, "depth": {"low": 1, "high": 2, "int": True}}}})
    study = open_optuna(None, "half-asked", search, "max")
    half = study.ask()  # what the killed run stored: the trial, and one of its three parameters
    half.suggest_int("model.hidden:width", 4, 16)
    run_loop(study, search, "max", lambda batch: [Outcome([p["train.lr"]], 1) for _, p in batch])
    states = [t.state.name for t in study.trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 3 and "RUNNING" not in states


def test_a_grid_point_a_kill_left_half_asked_is_queued_again():
    search = SearchConfig.model_validate({"method": "grid", "trials": 3,
                                          "space": {"train.lr": {"choices": [1, 2, 3]}}})
    study = open_optuna(None, "half-grid", search, "max")
    study.ask()  # the first grid point taken from the queue, none of its parameters stored yet
    run_loop(study, search, "max", lambda batch: [Outcome([p["train.lr"]], 1) for _, p in batch])
    done = sorted(point_of(t.params, search)["train.lr"] for t in study.trials if t.state.name == "COMPLETE")
    assert done == [1, 2, 3] and [t.state.name for t in study.trials].count("FAIL") == 1


def test_a_grid_a_kill_left_half_enqueued_is_queued_whole_on_resume(tmp_path):
    """The first run enqueues every grid point before asking; a kill in between left only some of them queued.
    The next run queues the rest (before, the random sampler proposed them), each point once."""
    search = SearchConfig.model_validate({"method": "grid", "trials": 4,
                                          "space": {"train.lr": {"choices": [1, 2, 3, 4]}}})
    url = tmp_path / "half.optuna.sqlite3"
    killed = optuna.create_study(storage=f"sqlite:///{url}", study_name="half-enqueued", direction="maximize")
    killed.enqueue_trial({"train.lr": 1})
    killed.enqueue_trial({"train.lr": 2})
    study = open_optuna(url, "half-enqueued", search, "max")
    assert [t.system_attrs["fixed_params"]["train.lr"] for t in study.trials] == [1, 2, 3, 4]
    run_loop(study, search, "max", lambda batch: [Outcome([p["train.lr"]], 1) for _, p in batch])
    assert [(point_of(t.params, search)["train.lr"], t.state.name) for t in study.trials] == [
        (1, "COMPLETE"), (2, "COMPLETE"), (3, "COMPLETE"), (4, "COMPLETE")]
    again = open_optuna(url, "half-enqueued", search, "max")  # a third run: nothing queued twice
    assert len(again.trials) == 4


def test_progress_line_rounds_like_the_report_and_gives_one_seed_no_error_bar(tmp_path, capsys):
    """A configuration's line: mean ± SE rounded to the SE's precision as results.csv's table prints them
    (it printed 0.1601 ± 0.06); with one seed the mean alone (it printed ± 0 or ± 0.0000)."""
    import re

    from nnstudy.cli import main
    from nnstudy.report._format import format_mean_se

    path = tmp_path / "grid.toml"
    path.write_text('[study]\nname = "grid"\n[data]\nname = "moons"\nn_samples = 200\n[model]\nhidden = [4]\n'
                    '[train]\nepochs = 2\n[search]\nmethod = "grid"\ntrials = 2\n'
                    '[search.space]\n"train.lr" = { choices = [0.3, 0.003] }\n[trials]\nseeds = 3\n')
    assert main(["run", str(path), "--store", str(tmp_path / "s")]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("search ")]
    results = pd.read_csv(tmp_path / "s" / "grid" / "results.csv").set_index("train.lr")
    for lr, line in zip([0.3, 0.003], lines):
        row = results.loc[lr]
        assert f": val_accuracy {format_mean_se(row.val_accuracy_mean, row.val_accuracy_sem, 'val_accuracy')} " \
               f"over 3 seed(s)" in line, line
    assert main(["run", str(path), "--store", str(tmp_path / "s"), "--set", "trials.seeds=1"]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("search ")]
    assert len(lines) == 2 and all(re.search(r": val_accuracy \d\.\d+ over 1 seed\(s\)", ln) for ln in lines), lines


def test_own_keywords_are_searchable_without_a_value_in_the_study():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    space = {"low": 2, "high": 8, "int": True}
    module = {"study": {"name": "x"}, "data": {"name": "digits"},
              "model": {"kind": "module", "module": f"{root}/studies/own_net.py:TwoLayerNet"},
              "search": {"space": {"model.args.width": space}}}
    function = {"study": {"name": "x"}, "data": {"name": "digits"},
                "train": {"function": f"{root}/examples/own-code/train.py:train"},
                "search": {"space": {"train.args.depth": space}}}
    assert read_study(module)[0].search.space["model.args.width"].high == 8
    assert read_study(function)[0].search.space["train.args.depth"].low == 2
    with pytest.raises(StudyError, match="search.space.model.args.width: no such key"):
        read_study({**module, "model": {"kind": "mlp"}})  # the MLP takes no constructor keywords


DIVERGING = {**BASE, "study": {"name": "search-diverged"}, "train": {"epochs": 4, "batch_size": 32},
             "trials": {"seeds": [1, 4]},  # at lr 50 seed 4 diverges (its last val_accuracy is finite), seed 1 not
             "search": {"method": "grid", "trials": 3, "pruner": "none",
                        "space": {"train.lr": {"choices": [0.3, 50.0, 1e6]}}}}


def test_a_diverged_seed_counts_in_the_objective_as_in_the_report_never(tmp_path):
    """A diverged seed's final metric is left out of what Optuna is told, of the search history and of
    best_so_far, as the results table leaves it out: the value is the mean over the done seeds, and a
    configuration whose every seed diverged (lr 1e6) fails in Optuna (it counted 0.5, chance, before)."""
    study = run(DIVERGING, store=tmp_path, workers=1)
    t = study.trials().set_index(["train.lr", "seed"])
    assert t.loc[(50.0, 1), "status"] == "done" and t.loc[(50.0, 4), "status"] == "diverged"
    assert set(t.loc[1e6, "status"]) == {"diverged"} and t.loc[1e6, "val_accuracy"].notna().all()
    kept = t.loc[(50.0, 1), "val_accuracy"]
    assert t.loc[(50.0, 4), "val_accuracy"] != kept  # else the test could not tell the rules apart

    search = read_study(DIVERGING)[0].search
    ostudy = optuna.load_study(study_name=optuna_study_name(read_study(DIVERGING)[0]),
                               storage=f"sqlite:///{optuna_path(tmp_path, 'search-diverged')}")
    told = {point_of(x.params, search)["train.lr"]: x for x in ostudy.trials if x.state.name != "FAIL"}
    assert set(told) == {0.3, 50.0} and told[50.0].value == kept
    assert 1e6 in [point_of(x.params, search)["train.lr"] for x in ostudy.trials if x.state.name == "FAIL"]

    h = search_history(study.snapshot()).set_index("train.lr")
    assert h.loc[50.0, "n"] == 1 and h.loc[50.0, "value"] == kept and h.loc[50.0, "mean"] == kept
    assert h.loc[1e6, "n"] == 0 and math.isnan(h.loc[1e6, "value"])
    assert h.best_so_far.tolist() == [told[0.3].value, max(told[0.3].value, kept), max(told[0.3].value, kept)]
    results = study.results().set_index("train.lr")
    assert results.loc[50.0, "n"] == 1 and results.loc[50.0, "val_accuracy_mean"] == kept


def test_lcb_gives_a_single_seed_the_pooled_standard_error_not_zero():
    """lr 3 kept one done seed (0.87): with SE 0 its bound (0.87) beat lr 1's honest 0.85 - 0.01. It gets the
    pooled SD of the configurations with two or more seeds, so lr 1 (0.84) wins."""
    seeds = {1: [0.84, 0.86], 2: [0.80, 0.90], 3: [0.87]}
    search = SearchConfig.model_validate({"method": "grid", "trials": 3, "objective": "lcb",
                                          "space": {"train.lr": {"choices": [1, 2, 3]}}})
    study = open_optuna(None, "lcb-one-seed", search, "max")
    run_loop(study, search, "max", lambda batch: [Outcome(seeds[p["train.lr"]], 2) for _, p in batch])
    told = {point_of(t.params, search)["train.lr"]: t.value for t in study.trials}
    pooled = math.sqrt((np.var(seeds[1], ddof=1) + np.var(seeds[2], ddof=1)) / 2)  # one degree of freedom each
    assert pooled == pytest.approx(0.0510, abs=1e-4)
    assert told[3] == pytest.approx(0.87 - pooled)
    assert told[1] == pytest.approx(0.85 - 0.01) and told[2] == pytest.approx(0.85 - 0.05)
    assert point_of(study.best_trial.params, search)["train.lr"] == 1
    assert objective_value([0.4], "lcb", "min", pooled=0.1) == pytest.approx(0.5)
    assert objective_value([0.4], "mean", "max") == 0.4


def test_lcb_fails_a_single_seed_while_no_configuration_has_two():
    search = SearchConfig.model_validate({"method": "grid", "trials": 2, "objective": "lcb",
                                          "space": {"train.lr": {"choices": [3, 1]}}})
    study = open_optuna(None, "lcb-no-pool", search, "max")
    run_loop(study, search, "max", lambda batch: [Outcome({3: [0.9], 1: [0.5, 0.7]}[p["train.lr"]], 2)
                                                  for _, p in batch])
    states = [(point_of(t.params, search)["train.lr"], t.state.name) for t in study.trials]
    assert states[:2] == [(3, "FAIL"), (1, "COMPLETE")]  # then the sampler's repeats of them, each FAIL
    assert study.best_trial.value == pytest.approx(0.6 - 0.1)
    assert math.isnan(objective_value([0.9], "lcb", "max"))


def test_search_history_gives_a_single_seed_the_pooled_standard_error():
    from types import SimpleNamespace

    rows = [(1, 0.84), (1, 0.86), (2, 0.80), (2, 0.90), (3, 0.87)]
    trials = pd.DataFrame({"train.lr": [lr for lr, _ in rows], "val_accuracy": [v for _, v in rows],
                           "status": "done", "epochs_run": 4})
    spec = {"train": {"epochs": 4}, "search": {"objective": "lcb", "space": {"train.lr": {"choices": [1, 2, 3]}}}}
    h = search_history(SimpleNamespace(spec=spec, trials=trials, task="classification")).set_index("train.lr")
    pooled = math.sqrt((np.var([0.84, 0.86], ddof=1) + np.var([0.80, 0.90], ddof=1)) / 2)
    assert h.loc[3, "value"] == pytest.approx(0.87 - pooled)
    assert h.best_so_far.tolist() == pytest.approx([0.84, 0.84, 0.84])


def test_lcb_with_one_seed_is_refused_before_anything_runs():
    base = {"study": {"name": "x"}, "data": {"name": "moons"},
            "search": {"objective": "lcb", "space": {"train.lr": {"low": 0.01, "high": 0.1}}}}
    for seeds in (1, [7]):
        with pytest.raises(StudyError, match="search.objective: lcb needs at least 2 seeds"):
            read_study({**base, "trials": {"seeds": seeds}})
    assert read_study({**base, "trials": {"seeds": 2}})[0].search.objective == "lcb"


DIVERGING_PRUNED = {**DIVERGING, "study": {"name": "search-diverged-pruned"},
                    "search": {"method": "grid", "trials": 1, "pruner": "median",
                               "space": {"train.lr": {"choices": [50.0]}}}}


def _intermediate(spec: dict, store) -> dict[int, float]:
    ostudy = optuna.load_study(study_name=optuna_study_name(read_study(spec)[0]),
                               storage=f"sqlite:///{optuna_path(store, spec['study']['name'])}")
    return ostudy.trials[0].intermediate_values


@pytest.mark.parametrize("stack", ["off", "on"])
def test_the_pruners_seed_mean_leaves_out_a_seed_at_the_epoch_it_diverges(tmp_path, stack):
    """At lr 50 seed 4 diverges at its last epoch (its val_accuracy there is finite, of a model that blew up):
    the pruner is told seed 1's value alone there, as at every later epoch, whether the seeds train now (in
    lockstep threads or one stack) or seed 4 was stored by an earlier run."""
    study = run(DIVERGING_PRUNED, store=tmp_path, workers=1, stack=stack)
    t = study.trials().set_index("seed")
    assert t.loc[4, "status"] == "diverged" and t.loc[1, "status"] == "done"
    h = study.history()
    acc = h[h.metric == "val_accuracy"].pivot_table(index="epoch", columns="trial_id", values="value")
    ok, blew = acc[t.loc[1, "trial_id"]], acc[t.loc[4, "trial_id"]]
    last = int(blew.last_valid_index())
    assert 1 < last < DIVERGING_PRUNED["train"]["epochs"] and ok[last] != blew[last]
    told = _intermediate(DIVERGING_PRUNED, tmp_path)
    assert told[last] == pytest.approx(ok[last])
    assert told[last - 1] == pytest.approx((ok[last - 1] + blew[last - 1]) / 2)

    again = {**DIVERGING_PRUNED, "study": {"name": "search-diverged-stored"}, "trials": {"seeds": [4]}}
    run(again, store=tmp_path / "resumed", workers=1, stack=stack)  # seed 4 stored, diverged, by an earlier run
    resumed = {**DIVERGING_PRUNED, "study": {"name": "search-diverged-stored"}}
    run(resumed, store=tmp_path / "resumed", workers=1, stack=stack)
    assert _intermediate(resumed, tmp_path / "resumed")[last] == pytest.approx(ok[last])
