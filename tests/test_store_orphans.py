"""A trial whose study row is gone (an orphan, EDITS["orphan"]): every command that reads or runs the store says
the damaged-store line and leaves it as it was."""

from __future__ import annotations

import sqlite3

import pytest

from nnstudy.cli import main
from test_store_damage import EDITS, _damaged_line, _edited, _sha, stored  # noqa: F401  (stored: a fixture)

COMMANDS = {
    "ls": lambda store: ["ls", "--store", str(store)],
    "run": lambda store: ["run", str(store.parent / "damage.toml"), "--store", str(store), "--workers", "1"],
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
