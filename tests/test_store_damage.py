"""A store whose rows were edited by hand: report, export, show and ls say one damaged-store line (exit 2),
naming the table, row and column, and leave the store as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import warnings

import pandas as pd
import pytest

from nnstudy.cli import main
from nnstudy.report._stats import timing

STUDY = """
[study]
name = "damage"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 2
[trials]
seeds = 2
"""

EDITS = {  # name: (SQL, what the line names)
    "metrics": ("UPDATE studies SET metrics_json = '5'", "studies.metrics_json of 'damage' is 5"),
    "swept": ("UPDATE studies SET swept_keys_json = 'null'", "studies.swept_keys_json of 'damage' is null"),
    "trial_ids": ("UPDATE studies SET trial_ids_json = '[\"zz\"]'", "names trial 'zz'"),
    "orphan": ("UPDATE trials SET study_id = 99 WHERE id = 1", "is 99, the id of no stored study"),
    "missing": ("DELETE FROM trials WHERE id = 1", "studies.trial_ids_json of 'damage' names trial"),
    "conditions": ("UPDATE trials SET conditions_json = '[' WHERE id = 1", "trials.conditions_json of trial"),
    "epoch_text": ("UPDATE epochs SET value = 'abc' WHERE rowid IN (SELECT rowid FROM epochs LIMIT 3)",
                   "epochs of study 'damage' hold text"),
    "final_text": ("UPDATE trials SET final_json = '{\"test_accuracy\": \"x\"}' WHERE id = 1",
                   "trials.final_json of trial"),
}
COMMANDS = {
    "report": lambda store, tmp: ["report", "damage", "--store", str(store), "--out", str(tmp / "r")],
    "export": lambda store, tmp: ["export", "damage", "--to", "parquet", str(tmp / "e.parquet"),
                                  "--store", str(store)],
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("stored")
    (root / "damage.toml").write_text(STUDY)
    assert main(["run", str(root / "damage.toml"), "--store", str(root / "store"), "--workers", "1"]) == 0
    with sqlite3.connect(root / "store" / "nnstudy.sqlite") as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return root / "store"


def _edited(stored, dest, sql):
    shutil.copytree(stored, dest, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    c = sqlite3.connect(dest / "nnstudy.sqlite")
    c.execute(sql)
    c.commit()
    c.close()
    return dest


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damaged_line(capsys, code) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("nnstudy: error: damaged store (") and "the way out: correct that row with sqlite3 " in err, err
    return err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_hand_edited_row_is_one_damaged_line(stored, tmp_path, capsys, edit, command):
    sql, named = EDITS[edit]
    store = _edited(stored, tmp_path / "store", sql)
    before = _sha(store / "nnstudy.sqlite")
    line = _damaged_line(capsys, main(COMMANDS[command](store, tmp_path)))
    assert named in line
    assert _sha(store / "nnstudy.sqlite") == before
    assert not (tmp_path / "r").exists() and not (tmp_path / "e.parquet").exists()


@pytest.mark.parametrize("edit", ["conditions", "final_text"])
def test_show_names_the_damaged_column(stored, tmp_path, capsys, edit):
    sql, named = EDITS[edit]
    store = _edited(stored, tmp_path / "store", sql)
    c = sqlite3.connect(store / "nnstudy.sqlite")
    tid = c.execute("SELECT trial_id FROM trials WHERE id = 1").fetchone()[0]
    c.close()
    before = _sha(store / "nnstudy.sqlite")
    line = _damaged_line(capsys, main(["show", tid, "--store", str(store)]))
    assert named in line and tid in line
    assert _sha(store / "nnstudy.sqlite") == before


def test_null_epoch_values_are_not_damage(stored, tmp_path, capsys):
    store = _edited(stored, tmp_path / "store", "UPDATE epochs SET value = NULL")
    assert main(["report", "damage", "--store", str(store), "--out", str(tmp_path / "r")]) == 0


def test_hand_edited_times_are_missing_times_without_a_warning(stored, tmp_path, capfd):
    store = _edited(stored, tmp_path / "store", "UPDATE trials SET started_at = 'nope', finished_at = '1'")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' "could not infer format" would fail the report here
        code = main(["report", "damage", "--store", str(store), "--out", str(tmp_path / "r")])
    assert code == 0 and capfd.readouterr().err == ""
    wall, _ = timing(pd.DataFrame({"started_at": ["nope", "2026-01-01T00:00:00+00:00"],
                                   "finished_at": ["1", "2026-01-01T00:00:05+00:00"]}))
    assert wall == 5.0


@pytest.mark.parametrize("epoch", [-3, 99, "2", 1])
def test_a_checkpoint_whose_epoch_was_edited_is_one_line_and_the_trial_restarts(tmp_path, monkeypatch, capsys,
                                                                                 epoch):
    from test_checkpoints import counting_epochs, interrupted_study, query, run

    study, store, held = interrupted_study(tmp_path, monkeypatch)  # its checkpoint: after epoch 2
    con = sqlite3.connect(store / "nnstudy.sqlite")
    (data,) = con.execute("SELECT data FROM artifacts WHERE name = 'checkpoint.json'").fetchone()
    head = json.loads(data) | {"epoch": epoch}  # the JSON alone: the tensors' sha256 still matches
    with con:
        con.execute("UPDATE artifacts SET data = ? WHERE name = 'checkpoint.json'", (json.dumps(head).encode(),))
    con.close()
    capsys.readouterr()
    with monkeypatch.context() as m:
        seen = counting_epochs(m)
        assert run(study, store) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    lines = [line for line in (out.out + out.err).splitlines() if "checkpoint of" in line]
    assert len(lines) == 1, lines
    assert lines[0] == (f"checkpoint of trial {held} unreadable: checkpoint.json is damaged (its epoch {epoch!r} "
                        f"is not the last epoch of its history, 2); restarting from epoch 1")
    assert sorted(e for t, e in seen if t == held) == [1, 2, 3, 4, 5, 6]
    assert query(store, "SELECT status FROM trials WHERE trial_id = :a", held) == [("done",)]


def test_a_hand_edited_origin_is_one_damaged_line(stored, tmp_path, capsys):
    store = _edited(stored, tmp_path / "store", "UPDATE meta SET value = '5' WHERE key LIKE 'origin:%'")
    before = _sha(store / "nnstudy.sqlite")
    assert "meta origin of" in _damaged_line(capsys, main(["ls", "--store", str(store)]))
    assert _sha(store / "nnstudy.sqlite") == before
