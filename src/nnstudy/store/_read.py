"""An SQLite store read with the standard library's sqlite3 alone: what a report (and a notebook's Study) reads,
without importing SQLAlchemy and compiling its statements (a quarter of a second of `nnstudy report`).

`open_for_reading` gives a `SqliteReader` for an SQLite store file, the `Store` for any other database. The reader
runs the statements Store runs (the same SELECTs, so the same rows in the same order) in one read transaction, and
only on a store it can read as it is: a file of this schema version. Anything else (a store Store would migrate
or refuse, a study that is not there, a damaged file or row, a trial of any study whose study row is gone) goes
to Store, which opens the store as it always did and says what is wrong in its one line.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ._engine import resolve_url, sqlite_uri
from ._rows import names, require_trials
from ._snapshot import StudySnapshot, snapshot_of
from ._version import SCHEMA_VERSION

if TYPE_CHECKING:
    from ._store import Store

T = TypeVar("T")
BUSY_TIMEOUT_MS = 60_000  # a reader waits out a writer here, in SQLite (Store waits in Python: store/_retry.py)

STUDY_IDS = "SELECT studies.id, studies.trial_ids_json FROM studies WHERE studies.name = ?"
STUDY = ("SELECT studies.id, studies.name, studies.description, studies.spec_json, studies.source, studies.task, "
         "studies.metrics_json, studies.swept_keys_json, studies.trial_ids_json, studies.environment_json, "
         "studies.created_at, studies.updated_at FROM studies WHERE studies.id = ?")
TRIALS = ("SELECT trials.id, trials.study_id, trials.trial_id, trials.seed, trials.config_json, trials.point_json, "
          "trials.status, trials.owner, trials.attempts, trials.error, trials.final_json, trials.started_at, "
          "trials.finished_at, trials.conditions_json FROM trials "
          "WHERE trials.study_id = ? AND trials.trial_id IN ({})")
EPOCHS = "SELECT epochs.trial_pk, epochs.epoch, epochs.metric, epochs.value FROM epochs WHERE epochs.trial_pk IN ({})"
ORPHAN = "SELECT trials.trial_id FROM trials WHERE trials.study_id NOT IN (SELECT studies.id FROM studies) LIMIT 1"
ARTIFACTS = ("SELECT artifacts.trial_pk, artifacts.name, artifacts.data FROM artifacts "
             "WHERE artifacts.trial_pk IN ({}) AND artifacts.name NOT LIKE ?")


def open_for_reading(store: str | Path | None) -> SqliteReader | Store:
    """What reads a study from `store`: a `SqliteReader` for an existing SQLite file, else the `Store`."""
    url = resolve_url(store)
    path = Path(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:///") and path.is_file():
        return SqliteReader(url, path)
    from ._store import Store

    return Store(store, create=False)


class SqliteReader:
    """Store's reading of a study (``require_study``, ``snapshot``; ``url``) by sqlite3, with Store behind it."""

    def __init__(self, url: str, path: Path):
        self.url = url
        readonly = not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))  # as Store decides
        self._uri = sqlite_uri(path, readonly)
        self._store: Store | None = None

    def require_study(self, name: str) -> None:
        """Nothing when the store holds a study of this name; else Store says why, in one line."""
        if self.read(lambda c: _study_ids(c, name)) is None:
            self.store().require_study(name)

    def snapshot(self, name: str, artifacts: bool = True) -> StudySnapshot:
        """Store.snapshot's snapshot: the same rows, in the same order."""
        snap = self.read(lambda c: _snapshot(c, name, artifacts))
        return snap if snap is not None else self.store().snapshot(name, artifacts)

    def read(self, read: Callable[[sqlite3.Connection], T | None]) -> T | None:
        """`read(connection)` in one read transaction of a store of this schema version; None where Store must
        read instead (another version, an error of any kind, or `read` said None)."""
        try:
            c = sqlite3.connect(self._uri, uri=True, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            c.row_factory = sqlite3.Row
            c.execute("BEGIN")
            version = c.execute("SELECT meta.value FROM meta WHERE meta.key = 'schema_version'").fetchone()
            if version is None or version[0] != str(SCHEMA_VERSION):
                return None
            return read(c)
        except (sqlite3.Error, ValueError, TypeError, KeyError, AttributeError):  # Store says what is wrong
            return None
        finally:
            c.close()

    def store(self) -> Store:
        """The Store of the same file, opened when first needed."""
        if self._store is None:
            from ._store import Store

            self._store = Store(self.url, create=False)
        return self._store


def _study_ids(c: sqlite3.Connection, name: str) -> tuple[int, list[str]] | None:
    row = c.execute(STUDY_IDS, (name,)).fetchone()
    return None if row is None else (row["id"], names(row["trial_ids_json"], f"studies.trial_ids_json of {name!r}"))


def _snapshot(c: sqlite3.Connection, name: str, artifacts: bool) -> StudySnapshot | None:
    found = _study_ids(c, name)
    if found is None:
        return None
    if c.execute(ORPHAN).fetchone() is not None:  # a damaged store: Store refuses it in its one line
        return None
    sid, ids = found
    st = c.execute(STUDY, (sid,)).fetchone()
    rows: dict[str, Any] = {}
    if ids:
        rows = {r["trial_id"]: r for r in c.execute(TRIALS.format(_marks(ids)), (sid, *ids))}
    require_trials(rows, ids, name)
    pks = list({rows[i]["id"]: i for i in ids})  # as Store.snapshot
    hist = c.execute(EPOCHS.format(_marks(pks)), pks).fetchall() if pks else []
    arts = (c.execute(ARTIFACTS.format(_marks(pks)), (*pks, "checkpoint.%")).fetchall()
            if pks and artifacts else [])
    return snapshot_of(st, ids, rows, hist, arts)


def _marks(values: list) -> str:
    return ", ".join("?" * len(values))
