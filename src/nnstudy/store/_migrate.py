"""Schema versions. A new store gets the current tables; an older one gets each missing step, in order.

To change the schema: edit _schema.py, bump SCHEMA_VERSION (_version.py) and append the step that takes a store of
the previous version there (plain DDL that SQLite and PostgreSQL both accept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.engine import Connection

from ..errors import StudyError
from . import _schema as s
from ._engine import shown
from ._retry import damaged

log = logging.getLogger("nnstudy.store")
LOCK_KEY = 0x6E6E7374  # PostgreSQL advisory lock: drivers opening one database at once take turns


@dataclass(frozen=True)
class Migration:
    version: int  # the version this step reaches
    what: str
    step: Callable[[Connection], None]


def _v2_attempts(c: Connection) -> None:
    c.exec_driver_sql("ALTER TABLE trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    c.exec_driver_sql("UPDATE trials SET attempts = 1 WHERE status <> 'pending'")


def _v3_conditions(c: Connection) -> None:
    c.exec_driver_sql("ALTER TABLE trials ADD COLUMN conditions_json TEXT")


MIGRATIONS = [
    Migration(2, "trials.attempts: how many times each trial was started", _v2_attempts),
    Migration(3, "trials.conditions_json: the device, threads, host and versions each trial ran under",
              _v3_conditions),
]
assert [m.version for m in MIGRATIONS] == list(range(2, s.SCHEMA_VERSION + 1))


def open_schema(c: Connection, url: str, create: bool) -> list[Migration]:
    """In one transaction: create the tables, or check the version and migrate. Returns the steps applied."""
    if c.dialect.name == "postgresql":
        c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    if not inspect(c).has_table("meta"):
        if not create:
            raise StudyError(f"no nnstudy store at {shown(url)} (run a study first, or pass --store)")
        s.metadata.create_all(c)
        c.execute(insert(s.meta).values(key="schema_version", value=str(s.SCHEMA_VERSION)))
        return []
    row = c.execute(select(s.meta.c.value).where(s.meta.c.key == "schema_version").with_for_update()).first()
    if row is None or not row[0].isdigit():
        raise StudyError(f"store {shown(url)} has no schema version: not an nnstudy store")
    version = int(row[0])
    if version > s.SCHEMA_VERSION:
        raise StudyError(f"store {shown(url)} has schema version {version}; this nnstudy reads up to "
                         f"{s.SCHEMA_VERSION} (upgrade nnstudy)")
    missing = [t for t in s.metadata.tables if not inspect(c).has_table(t)]
    if missing and url.startswith("sqlite:///"):  # checked before anything is written into the file
        raise damaged(url, f"no such table: {', '.join(missing)}")
    steps = [m for m in MIGRATIONS if m.version > version]
    for m in steps:
        m.step(c)
        log.warning("nnstudy: store %s: schema version %d -> %d (%s)", shown(url), m.version - 1, m.version, m.what)
    if steps:
        c.execute(update(s.meta).where(s.meta.c.key == "schema_version").values(value=str(s.SCHEMA_VERSION)))
    return steps
