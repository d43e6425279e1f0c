"""The progress of a cross-validation (data.folds) names each trial's fold: its plain line (and the live row,
which shows the same label) as fold=2/3, its --json trial event as fold (from 0, as data.fold) and folds."""

import json
import re

from conftest import run_cli, write_study

STUDY = {"study": {"name": "cv"}, "data": {"name": "iris", "folds": 3}, "model": {"hidden": [4]},
         "train": {"epochs": 1, "batch_size": 32}, "trials": {"seeds": 1}}


def test_lines_and_events_name_the_fold(tmp_path, capsys):
    study = write_study(tmp_path, STUDY)
    assert run_cli(study, "--store", tmp_path / "a", "--workers", "1") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("done ")]
    assert sorted(re.search(r" seed=0 fold=(\d/3) ", line).group(1) for line in lines) == ["1/3", "2/3", "3/3"]
    assert run_cli(study, "--store", tmp_path / "b", "--workers", "1", "--json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    trials = [e for e in events if e["event"] == "trial"]
    assert sorted((e["seed"], e["fold"], e["folds"]) for e in trials) == [(0, 0, 3), (0, 1, 3), (0, 2, 3)]
