"""Store faults (issue 17): a damaged, read-only or full store gives one line and exit 2; what was stored
is kept; a report is whole or absent (never a 0-byte report.html)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess

import pytest

from nnstudy.cli import main

STUDY = """
[study]
name = "faults"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
[trials]
seeds = 2
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store holding a finished two-trial study (closed cleanly: no -wal file beside it)."""
    root = tmp_path_factory.mktemp("stored")
    (root / "faults.toml").write_text(STUDY)
    assert main(["run", str(root / "faults.toml"), "--store", str(root / "store"), "--workers", "1"]) == 0
    with sqlite3.connect(root / "store" / "nnstudy.sqlite") as c:  # everything in the main file
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return root


def _copy(stored, dest):
    shutil.copytree(stored / "store", dest, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    return dest


def _trial(store) -> str:
    c = sqlite3.connect(f"file:{store / 'nnstudy.sqlite'}?immutable=1", uri=True)
    try:
        return c.execute("SELECT trial_id FROM trials").fetchone()[0]
    finally:
        c.close()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _drop(db):
    c = sqlite3.connect(db)
    c.execute("DROP TABLE epochs")
    c.commit()
    c.close()  # checkpointed into the file


def _truncate(db):
    os.truncate(db, db.stat().st_size // 2)


def _corrupt(db):
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)  # every page after the first overwritten
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_drop, _truncate, _corrupt], ids=["dropped-table", "truncated", "corrupted"])
@pytest.mark.parametrize("command", ["run", "report", "ls", "show"])
def test_damaged_store_one_line_naming_the_file_and_recover(stored, tmp_path, capsys, damage, command):
    store = _copy(stored, tmp_path / "store")
    tid = _trial(store)
    db = store / "nnstudy.sqlite"
    damage(db)
    before = _sha(db)
    argv = {"run": ["run", str(stored / "faults.toml")], "report": ["report", "faults"], "ls": ["ls"],
            "show": ["show", tid]}[command]
    assert main(argv + ["--store", str(store)]) == 2
    line = _one_line(capsys)
    assert "damaged store" in line and f'sqlite3 {db} ".recover"' in line
    assert _sha(db) == before  # nothing written into a damaged file


def _mount_tmpfs(where, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.fixture
def read_only(stored, tmp_path):
    """A copy of the store in a read-only folder: a tmpfs remounted read-only (root), else chmod -w."""
    where = tmp_path / "ro"
    mounted = os.geteuid() == 0 and _mount_tmpfs(where, "16m")
    if os.geteuid() == 0 and not mounted:
        pytest.skip("root without mount: chmod cannot make a folder read-only for root")
    store = _copy(stored, where / "store")
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    else:
        for p in (store / "nnstudy.sqlite", store):
            p.chmod(0o555 if p.is_dir() else 0o444)
    yield store
    if mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)
    else:
        store.chmod(0o755)


def test_read_only_store_is_still_read(read_only, stored, tmp_path, capsys):
    assert main(["ls", "--store", str(read_only)]) == 0
    assert "faults" in capsys.readouterr().out
    assert main(["show", _trial(read_only), "--store", str(read_only)]) == 0
    assert "status done" in capsys.readouterr().out
    assert main(["report", "faults", "--store", str(read_only), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").stat().st_size > 1000
    capsys.readouterr()
    assert main(["report", "faults", "--store", str(read_only)]) == 2  # into the read-only folder
    line = _one_line(capsys)
    assert "cannot write the report" in line and "--out" in line and "free some space" not in line
    assert main(["run", str(stored / "faults.toml"), "--store", str(read_only)]) == 2
    assert "read-only" in _one_line(capsys)


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    if not _mount_tmpfs(where, "16m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where, leave: int) -> None:
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    (where / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_full_disk_report_keeps_the_previous_one_whole(stored, small_disk, capsys):
    out = small_disk / "report"
    assert main(["report", "faults", "--store", str(stored / "store"), "--out", str(out)]) == 0
    html = (out / "report.html").read_bytes()
    capsys.readouterr()
    _fill(small_disk, 8 * 1024)
    assert main(["report", "faults", "--store", str(stored / "store"), "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "cannot write the report" in line and "results are kept in the store: free some space" in line
    assert (out / "report.html").read_bytes() == html  # the previous report, whole
    assert not [p for p in out.rglob("*") if p.is_file() and p.stat().st_size == 0]
    assert not list(out.glob(".*.tmp"))


def test_full_disk_while_training_one_line_and_nothing_lost(small_disk, capsys):
    store, study = small_disk / "store", small_disk / "more.toml"
    study.write_text(STUDY)
    assert main(["run", str(study), "--store", str(store), "--workers", "1"]) == 0  # two trials stored
    capsys.readouterr()
    study.write_text(STUDY.replace("seeds = 2", "seeds = 40"))  # the same study file, now 40 seeds
    _fill(small_disk, 40 * 1024)
    code = main(["run", str(small_disk / "more.toml"), "--store", str(store), "--workers", "1"])
    line = _one_line(capsys) if code == 2 else ""
    assert code == 2 and "full" in line and str(store) in line, line
    (small_disk / "filler").unlink()
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        kept = dict(c.execute("SELECT trial_id, final_json FROM trials WHERE status = 'done'").fetchall())
    assert len(kept) >= 2  # the two trials stored before, and any stored before the disk filled
    assert main(["run", str(small_disk / "more.toml"), "--store", str(store), "--workers", "1"]) == 0
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        rows = dict(c.execute("SELECT trial_id, final_json FROM trials").fetchall())
        assert c.execute("SELECT MAX(attempts) FROM trials WHERE trial_id IN (%s)" % ",".join(
            "?" * len(kept)), list(kept)).fetchone()[0] == 1  # not trained again
    assert len(rows) == 40 and all(rows[t] == kept[t] for t in kept)


def test_store_and_out_at_an_existing_file(stored, tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("x")
    assert main(["run", str(stored / "faults.toml"), "--store", str(file)]) == 2
    assert "is a file, not a folder" in _one_line(capsys)
    assert main(["report", "faults", "--store", str(stored / "store"), "--out", str(file)]) == 2
    assert "is a file, not a folder" in _one_line(capsys)
    assert file.read_text() == "x"


@pytest.mark.parametrize("command", ["report", "ls", "show"])
def test_a_hand_edited_row_is_a_damaged_store(stored, tmp_path, capsys, command):
    store = _copy(stored, tmp_path / "store")
    tid = _trial(store)
    c = sqlite3.connect(store / "nnstudy.sqlite")
    c.execute("UPDATE studies SET trial_ids_json = '[\"3a8a'")  # cut inside a string
    c.execute("UPDATE trials SET config_json = '{\"data\": '")
    c.commit()
    c.close()
    argv = {"report": ["report", "faults"], "ls": ["ls"], "show": ["show", tid]}[command]
    code = main(argv + ["--store", str(store)])
    out_err = capsys.readouterr()
    assert code == 2, out_err
    line = out_err.err.strip()
    assert len(line.splitlines()) == 1 and "not valid JSON" in line and "correct that row with sqlite3" in line
