"""A trial whose study row is gone (an orphan, EDITS["orphan"]): every command that reads or runs the store says
the damaged-store line and leaves it as it was. And --fail-fast in a search: no configuration after the first
trial that fails or diverges."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nnstudy.cli import main
from test_store_damage import EDITS, _damaged_line, _edited, _sha, stored  # noqa: F401  (stored: a fixture)
from test_store_edges import statuses

COMMANDS = {
    "ls": lambda store: ["ls", "--store", str(store)],
    "run": lambda store: ["run", str(store.parent / "damage.toml"), "--store", str(store), "--workers", "1"],
    "report": lambda store: ["report", "damage", "--store", str(store), "--out", str(store.parent / "r")],
    "export": lambda store: ["export", "damage", "--to", "parquet", str(store.parent / "e.parquet"),
                             "--store", str(store)],
    "compare": lambda store: ["compare", "damage", "--store", str(store), "--out", str(store.parent / "c")],
}


def files(folder) -> list[str]:
    """What the folder holds, less SQLite's own -wal and -shm files of an open store."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_orphan_trial_is_the_damaged_store_line(stored, tmp_path, capsys, command):
    sql, _ = EDITS["orphan"]  # the trial of row 1 names study 99, which the store does not hold
    store = _edited(stored, tmp_path / "store", sql)
    (tmp_path / "damage.toml").write_text((stored.parent / "damage.toml").read_text())
    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid = c.execute("SELECT trial_id FROM trials WHERE id = 1").fetchone()[0]
    c.close()
    before, listed = _sha(store / "nnstudy.sqlite"), files(tmp_path)
    line = _damaged_line(capsys, main(COMMANDS[command](store)))
    assert f"trials.study_id of trial {tid} is 99, the id of no stored study" in line
    assert _sha(store / "nnstudy.sqlite") == before and files(tmp_path) == listed  # nothing trained or added


COLUMNS = "seed, config_json, point_json, status, owner, attempts, error, final_json, started_at, finished_at, " \
          "conditions_json"
ANOTHER_STUDYS = (f"INSERT INTO trials (study_id, trial_id, {COLUMNS}) "  # a trial of a study whose row is gone,
                  f"SELECT 99, 'ffff' || substr(trial_id, 5), {COLUMNS} FROM trials WHERE id = 1")  # 'damage' whole


@pytest.mark.parametrize("command", ["report", "compare", "export", "ls"])
def test_an_orphan_trial_of_another_study_is_the_damaged_store_line_too(stored, tmp_path, capsys, command):
    store = _edited(stored, tmp_path / "store", ANOTHER_STUDYS)  # report read it with sqlite3 alone, and said nothing
    before, listed = _sha(store / "nnstudy.sqlite"), files(tmp_path)
    line = _damaged_line(capsys, main(COMMANDS[command](store)))
    assert "is 99, the id of no stored study" in line and "trial ffff" in line, line
    assert _sha(store / "nnstudy.sqlite") == before and files(tmp_path) == listed


def test_a_notebook_reading_a_study_of_a_store_with_an_orphan_trial_gets_the_damaged_store_line(stored, tmp_path):
    import nnstudy

    store = _edited(stored, tmp_path / "store", ANOTHER_STUDYS)
    with pytest.raises(nnstudy.StudyError, match="is 99, the id of no stored study"):
        nnstudy.load("damage", store=store).results()


SEARCH = """
[study]
name = "ff"
[data]
name = "moons"
n_samples = 100
[train]
{trainer}
epochs = 2
[trials]
seeds = {seeds}
[search]
method = "grid"
trials = 3
pruner = "{pruner}"
space = {{ "train.lr" = {{ choices = [1e30, 0.1, 0.05] }} }}  # the first configuration diverges
"""
STOPPED = "stopped at the first failed or diverged trial (--fail-fast); run again to train the rest"
SEARCHES = {  # how its trials are handed out: (seeds, pruner)
    "plain": ("2", "none"),  # one batch of trials to the executor
    "median pruner": ("2", "median"),  # seeds in lockstep
    "race": ("{ min = 2, max = 3, alpha = 0.1 }", "none"),  # rounds of seeds
}


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_fail_fast_stops_a_search_at_its_first_diverged_trial(tmp_path, capsys, search):
    seeds, pruner = SEARCHES[search]
    (tmp_path / "ff.toml").write_text(SEARCH.format(trainer="", seeds=seeds, pruner=pruner))
    run = ["run", str(tmp_path / "ff.toml"), "--store", str(tmp_path / "store"), "--workers", "1"]
    assert main([*run, "--fail-fast"]) == 1
    said = "".join(capsys.readouterr())  # the progress lines
    assert "lr=1e+30" in said and "lr=0.1" not in said and "lr=0.05" not in said, said
    assert "in another nnstudy process" not in said, said  # its pending seeds are not another process's
    assert STOPPED in said, said  # its configurations not yet proposed are the rest
    left = statuses(tmp_path / "store")
    assert len(left) == 2 and "diverged" in left.values() and "done" not in left.values(), left
    assert main(run) == 1  # without it, the search goes on where it stopped: the same diverged trials kept
    again = statuses(tmp_path / "store")
    assert all(again[t] == "diverged" for t, s in left.items() if s == "diverged")
    assert sorted(set(again.values())) == ["diverged", "done"] and len(again) >= 6, again


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_fail_fast_stopping_a_search_is_stopped_in_the_json_end_event(tmp_path, capsys, search):
    seeds, pruner = SEARCHES[search]
    (tmp_path / "ff.toml").write_text(SEARCH.format(trainer="", seeds=seeds, pruner=pruner))
    run = ["run", str(tmp_path / "ff.toml"), "--store", str(tmp_path / "store"), "--workers", "1", "--json"]
    assert main([*run, "--fail-fast"]) == 1
    out, err = capsys.readouterr()
    end = json.loads(out.splitlines()[-1])
    assert end["event"] == "end" and end["stopped"] is True and end["exit"] == 1, end
    assert STOPPED not in out + err  # the event says it


FAILS = '''
def fails_at_high_lr(config, seed, data, report):
    report(1, val_accuracy=0.5)
    if config["train"]["lr"] > 1:
        raise ValueError("lr too high")
    return {"val_accuracy": 0.5 + seed / 10}
'''


@pytest.mark.parametrize("pruner", ["none", "median"])
def test_fail_fast_stops_a_search_at_its_first_failed_trial(tmp_path, capsys, monkeypatch, pruner):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))  # the user's file is cached here
    (tmp_path / "train.py").write_text(FAILS)
    trainer = 'function = "train.py:fails_at_high_lr"'
    (tmp_path / "ff.toml").write_text(SEARCH.format(trainer=trainer, seeds=2, pruner=pruner))
    assert main(["run", str(tmp_path / "ff.toml"), "--store", str(tmp_path / "store"), "--fail-fast"]) == 1
    said = "".join(capsys.readouterr())
    assert "ValueError: lr too high" in said and "lr=0.1" not in said and "Traceback" not in said, said
    assert STOPPED in said, said
    left = statuses(tmp_path / "store")
    assert len(left) == 2 and "failed" in left.values() and "done" not in left.values(), left


def test_serve_answers_an_orphan_trial_with_the_damaged_store_line(stored, tmp_path):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from nnstudy.serve import make_app

    store = _edited(stored, tmp_path / "store", EDITS["orphan"][0])
    before = _sha(store / "nnstudy.sqlite")
    client = TestClient(make_app(store))
    for path in ("/api/studies", "/api/study?name=damage"):
        got = client.get(path)
        assert got.status_code == 503 and "the id of no stored study" in got.json()["error"], (path, got.text)
    assert _sha(store / "nnstudy.sqlite") == before


SEED_ONE_FAILS = '''
def fails_at_high_lr_on_seed_1(config, seed, data, report):
    report(1, val_accuracy=0.5)
    if config["train"]["lr"] > 1 and seed == 1:
        raise ValueError("lr too high")
    return {"val_accuracy": 0.5 + seed / 10, "test_accuracy": 0.5}
'''


def test_fail_fast_says_it_stopped_a_race_whose_round_ended_at_the_failed_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))  # the user's file is cached here
    (tmp_path / "train.py").write_text(SEED_ONE_FAILS)
    (tmp_path / "race.toml").write_text("""
[study]
name = "race"
[data]
name = "moons"
n_samples = 100
[train]
function = "train.py:fails_at_high_lr_on_seed_1"
epochs = 1
[sweep]
"train.lr" = [0.1, 0.05, 2.0]
[trials]
seeds = { min = 2, max = 4, alpha = 0.1 }
""")  # one worker: the first round trains 3 x 2 seeds in order, and the last of them fails: nothing left pending
    code = main(["run", str(tmp_path / "race.toml"), "--store", str(tmp_path / "store"), "--workers", "1",
                 "--fail-fast"])
    said = "".join(capsys.readouterr())
    assert code == 1 and "ValueError: lr too high" in said and "Traceback" not in said, said
    left = statuses(tmp_path / "store")
    assert sorted(left.values()) == ["done"] * 5 + ["failed"], left  # the round ran whole: no seed pending
    assert STOPPED in said and "race over" not in said, said
