"""Racing seeds (issue 20 item 4) on every executor: rounds as stacks (--stack on, on the CPU), rounds that run
ahead on idle workers, rounds as Ray tasks, and a race killed between rounds that resumes."""

from __future__ import annotations

import importlib.util
import io
import re

import pandas as pd
import pytest
from rich.console import Console

from conftest import write_study
from test_race import RACE

SMALL = {**RACE, "trials": {"seeds": {"min": 2, "max": 4, "alpha": 0.1}}}  # a look at 0.1 / 3 per seed count


def _left(md: str) -> dict[str, int]:
    """{'train.lr=...': seeds after which it left} from the report's race sentence."""
    return {k: int(n) for k, n in re.findall(r"(train\.lr=[0-9.e+-]+) after (\d+) seeds", md)}


def test_rounds_train_as_stacks_and_run_ahead_on_idle_workers(tmp_path):
    """--stack on, 4 workers, 2 configurations: each round adds 2 seeds a configuration (4 // 2), and the
    race still looks after every seed count: the report's replay (one seed at a time) takes the same
    decisions as the run, which says so line by line."""
    import nnstudy

    log = io.StringIO()
    study = nnstudy.run(RACE, store=tmp_path / "runs", workers=4, stack="on", console=Console(file=log, width=300))
    out = log.getvalue()
    assert "stack(s)" in out, out
    t = study.trials()
    seeds = t.groupby("train.lr")["seed"].apply(sorted).to_dict()
    md = (tmp_path / "runs" / "race" / "report.md").read_text()
    left = _left(md)
    assert set(left) == {"train.lr=1e-05"}, md
    n = left["train.lr=1e-05"]
    assert f"train.lr=1e-05 leaves the race after {n} seeds" in out  # the run's look = the replay's
    assert seeds[1e-05] == list(range(len(seeds[1e-05]))) and n <= len(seeds[1e-05]) <= n + 1  # ahead: 2 a round
    assert seeds[0.3] == list(range(len(seeds[0.3]))) and len(seeds[0.3]) % 2 == 1  # 3, then 2 a round
    assert len(t) < 16 and (t["status"] == "done").all()


class Killed(Exception):
    pass


def test_a_race_killed_between_rounds_resumes_where_it_stopped(tmp_path, monkeypatch):
    import nnstudy
    from nnstudy.executor import _local

    run, calls = _local.LocalExecutor.run, []

    def dies_after_the_first_round(self, trials, first_data=None):
        calls.append(len(trials))
        got = run(self, trials, first_data)
        if len(calls) == 2:
            raise Killed  # the process dies after the second round's trials are stored
        return got

    monkeypatch.setattr(_local.LocalExecutor, "run", dies_after_the_first_round)
    with pytest.raises(Killed):
        nnstudy.run(SMALL, store=tmp_path / "runs", workers=1)
    stored = nnstudy.load("race", store=tmp_path / "runs").trials()
    assert len(stored) == 2 * 2 + 2 and (stored["status"] == "done").all()  # min seeds, then one round
    monkeypatch.setattr(_local.LocalExecutor, "run", run)
    log = io.StringIO()
    again = nnstudy.run(SMALL, store=tmp_path / "runs", workers=1, console=Console(file=log, width=300))
    t = again.trials()
    assert again.summary.ran == len(t) - len(stored)  # nothing trained twice
    # the decisions of an unbroken race: the run's looks (seeds 2 and 3 taken again from the store, then on)
    # are the report's replay of the stored values, and each configuration ran the seeds up to its last look
    md = (tmp_path / "runs" / "race" / "report.md").read_text()
    left = _left(md)
    said = {k: int(n) for k, n in re.findall(r"(train\.lr=[0-9.e+-]+) leaves the race after (\d+) seeds",
                                              log.getvalue())}
    assert said == left and left, (log.getvalue(), md)
    seeds = t.groupby("train.lr")["seed"].apply(sorted).to_dict()
    for lr, s in seeds.items():
        assert s == list(range(left.get(f"train.lr={lr:g}", max(map(len, seeds.values())))))


def test_a_race_trains_its_rounds_as_ray_tasks(ray_address, tmp_path):
    from cluster_fixtures import unavailable
    from test_ray import driver

    if importlib.util.find_spec("ray") is None:
        unavailable("Ray", ImportError("ray is not installed (pip install -e '.[cluster]')"))
    # alpha 0.3: a look at 0.1, where lr 1e-5 leaves early
    study = write_study(tmp_path, {**SMALL, "trials": {"seeds": {"min": 2, "max": 4, "alpha": 0.3}}})
    code, out = driver("run", study, "--executor", "ray", "--address", ray_address, "--store", tmp_path / "ray",
                       cwd=tmp_path)
    assert code == 0 and "on Ray, 2 at a time" in out and "racing 2 configurations on val_accuracy" in out, out
    md = (tmp_path / "ray" / "race" / "report.md").read_text()
    said = {k: int(n) for k, n in re.findall(r"(train\.lr=[0-9.e+-]+) leaves the race after (\d+) seeds", out)}
    assert said == _left(md) and said  # the decisions taken on Ray are the replay of the stored values
    rows = pd.read_csv(tmp_path / "ray" / "race" / "trials.csv")
    assert (rows["status"] == "done").all() and len(rows) < 8
    seeds = rows.groupby("train.lr")["seed"].apply(sorted).to_dict()
    for lr, s in seeds.items():  # 2 slots, at most 2 configurations: one seed a round, no seed ahead
        assert s == list(range(said.get(f"train.lr={lr:g}", max(map(len, seeds.values())))))


SEARCH_RACE = {**RACE, "sweep": {}, "trials": {"seeds": {"min": 2, "max": 5, "alpha": 0.1}},
               "search": {"method": "grid", "trials": 3, "pruner": "none", "metric": "val_accuracy",
                          "space": {"train.lr": {"choices": [0.3, 1e-5, 1e-6]}}}}


def test_a_search_races_its_candidates_against_the_incumbent(tmp_path):
    """Grid order: lr 0.3 runs the first 2 seeds (nothing to race yet); each hopeless learning rate then races
    it and leaves before 5 seeds, and only the trials that ran are the study's."""
    import nnstudy

    log = io.StringIO()
    study = nnstudy.run(SEARCH_RACE, store=tmp_path / "runs", workers=1, console=Console(file=log, width=300))
    t = study.trials()
    seeds = t.groupby("train.lr")["seed"].apply(sorted).to_dict()
    assert set(seeds) == {0.3, 1e-5, 1e-6} and (t["status"] == "done").all()
    for lr in (1e-5, 1e-6):
        assert 2 <= len(seeds[lr]) < 5 and seeds[lr] == list(range(len(seeds[lr])))
        assert f"lr={lr} leaves after {len(seeds[lr])} seeds" in log.getvalue(), log.getvalue()
    assert seeds[0.3] == list(range(max(len(seeds[1e-5]), len(seeds[1e-6]))))  # pressed: seeds it lacked
    assert len(t) < 3 * 5
    s = study.results()
    assert s.loc[s["rank"] == 1, "train.lr"].item() == 0.3
    md = (tmp_path / "runs" / "race" / "report.md").read_text()
    assert f"Racing seeds in the search (2 to 5 seeds, α = 0.1, holm): {len(t)} trials instead of 15" in md
    again = nnstudy.run(SEARCH_RACE, store=tmp_path / "runs", workers=1)
    assert again.summary.ran == 0 and len(again.trials()) == len(t)


def test_racing_with_the_median_pruner_is_one_line(tmp_path):
    import nnstudy
    from nnstudy import StudyError

    spec = {**SEARCH_RACE, "search": {**SEARCH_RACE["search"], "pruner": "median"}}
    with pytest.raises(StudyError) as e:
        nnstudy.run(spec, store=tmp_path / "runs", workers=1)
    assert "racing seeds and the median pruner do not combine" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "runs").exists()


def test_a_raced_candidate_whose_seeds_diverge_is_ranked_and_told_without_them(tmp_path):
    """lr 1e6: both seeds diverge, their last val_accuracy finite (chance). The race ranks only done seeds, so the
    candidate leaves; Optuna is told the same rule (it was told 0.5, the diverged seeds' mean, before) and the
    incumbent stays the best."""
    import nnstudy
    import optuna

    from nnstudy.search import optuna_path
    from nnstudy.search._run import optuna_study_name
    from nnstudy.search._space import point_of
    from nnstudy.spec import read_study

    spec = {**SEARCH_RACE, "trials": {"seeds": {"min": 2, "max": 3, "alpha": 0.1}},
            "search": {**SEARCH_RACE["search"], "trials": 2, "space": {"train.lr": {"choices": [0.3, 1e6]}}}}
    log = io.StringIO()
    study = nnstudy.run(spec, store=tmp_path / "runs", workers=1, console=Console(file=log, width=300))
    t = study.trials()
    wild = t[t["train.lr"] == 1e6]
    assert set(wild.status) == {"diverged"} and wild.val_accuracy.notna().all() and len(wild) == 2
    assert "lr=1000000.0 leaves after 2 seeds" in log.getvalue(), log.getvalue()
    parsed = read_study(spec)[0]
    ostudy = optuna.load_study(study_name=optuna_study_name(parsed),
                               storage=f"sqlite:///{optuna_path(tmp_path / 'runs', 'race')}")
    states = {point_of(x.params, parsed.search)["train.lr"]: x.state.name for x in ostudy.trials[:2]}
    assert states == {0.3: "COMPLETE", 1e6: "FAIL"}
    assert point_of(ostudy.best_trial.params, parsed.search)["train.lr"] == 0.3
