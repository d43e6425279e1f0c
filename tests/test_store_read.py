"""store/_read.py: an SQLite store read by sqlite3 alone gives exactly Store's snapshot, and gives way to Store
(its one-line errors, its migrations) for anything it cannot read as it is."""

import math
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from nnstudy import StudyError
from nnstudy.api import Study
from nnstudy.spec import Trial
from nnstudy.store import Store, open_for_reading
from nnstudy.store._read import SqliteReader, _snapshot

SPEC = {"study": {"name": "s"}, "sweep": {"train.lr": [0.1, 0.01]}}


def _trial(i: int, lr: float, label: str | None = None) -> Trial:
    config = {"data": {"fold": i % 2} if i % 2 else {}, "model": {}, "train": {"epochs": 2, "lr": lr}}
    return Trial(f"t{i:03d}", i, config, {"train.lr": lr}, label=label)


@pytest.fixture
def stored(tmp_path):
    """A store with two studies: trials done (history with NaN and inf, artifacts and a checkpoint, conditions),
    failed, pending; a [[sweep]] label and a fold."""
    store = Store(tmp_path)
    ts = [_trial(0, 0.1, "fast"), _trial(1, 0.1), _trial(2, 0.01), _trial(3, 0.01)]
    store.register("s", "a study", SPEC, "source", "classification", ["test_accuracy"], ["train.lr"], ts,
                   {"device": "cpu"})
    store.register("other", "", SPEC, "", "classification", ["test_accuracy"], ["train.lr"], [_trial(9, 0.1)], {})
    for t, status in zip(ts[:3], ("done", "done", "failed")):
        assert store.claim("s", t.trial_id)
        store.save_checkpoint("s", t.trial_id, {"checkpoint.pt": b"ckpt"})
        history = [{"epoch": e, "train_loss": 1.0 / (e + t.seed), "val_loss": math.inf if e == 1 else 0.5,
                    "val_accuracy": math.nan if t.seed == 1 else 0.25 * e} for e in (2, 1)]
        store.finish("s", t.trial_id, status, {"test_accuracy": 0.5 + t.seed / 10, "val_loss": math.nan},
                     history, {"weights.npz": bytes([t.seed]) * 5, "a.npz": b"x"},
                     "Traceback\nboom" if status == "failed" else None,
                     {"device": "cpu", "threads": 1} if t.seed == 0 else None)
    return tmp_path


def _equal(a, b) -> None:
    for field in a.__dataclass_fields__:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        else:
            assert x == y, field


def test_the_same_snapshot_as_the_store(stored):
    reader = open_for_reading(stored)
    assert isinstance(reader, SqliteReader)
    store = Store(stored, create=False)
    for name in ("s", "other"):
        for artifacts in (True, False):
            fast = reader.read(lambda c: _snapshot(c, name, artifacts))  # read by sqlite3, not handed to Store
            assert fast is not None
            _equal(fast, store.snapshot(name, artifacts))
    snap = reader.read(lambda c: _snapshot(c, "s", True))
    assert [(a.trial_id, a.name) for a in snap.artifacts] == [(t, n) for t in ("t000", "t001", "t002")
                                                               for n in ("weights.npz", "a.npz")]
    assert list(snap.trials.status) == ["done", "done", "failed", "pending"] and snap.trials["fold"].iloc[1] == 1
    assert len(snap.history) == 18 and snap.history.value.isna().sum() == 3 + 2  # inf and NaN stored as NULL


def test_a_report_reads_without_sqlalchemy(stored):
    code = ("import sys; from nnstudy import api; s = api.load('s', store=sys.argv[1]).snapshot(); "
            "assert len(s.trials) == 4, s.trials; assert 'sqlalchemy' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code, str(stored)], check=True)


def test_ls_lists_without_pandas(stored):
    """`nnstudy ls` builds no table: it does not wait for pandas's import (a third of a second)."""
    code = ("import sys; from nnstudy.cli import main; assert main(['ls', '--store', sys.argv[1]]) == 0; "
            "assert 'pandas' not in sys.modules, 'imported'")
    out = subprocess.run([sys.executable, "-c", code, str(stored)], check=True, capture_output=True, text=True)
    assert "other" in out.stdout and "s " in out.stdout


def test_what_it_cannot_read_goes_to_the_store(stored):
    with pytest.raises(StudyError, match="no study named 'nope'"):
        Study("nope", stored)
    db = stored / "nnstudy.sqlite"
    c = sqlite3.connect(db)
    c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    c.commit()
    c.close()
    reader = open_for_reading(stored)
    assert reader.read(lambda c: _snapshot(c, "s", True)) is None  # another version: Store's to open
    with pytest.raises(StudyError, match="has schema version 99; this nnstudy reads up to 3"):
        Study("s", stored)
