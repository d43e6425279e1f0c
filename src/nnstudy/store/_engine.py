"""From a store argument to a SQLAlchemy engine: SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL (psycopg).

SQLAlchemy is imported where an engine is made: a report read by store/_read.py never loads it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .._paths import unusable
from .._text import cap
from ..errors import StudyError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

CONNECT_TIMEOUT_S = 5
# SQLite's own wait for a file another connection has locked; it holds Ctrl-C off, so it is short and the wait
# goes on in Python, for up to store/_retry.RETRY_FOR_S (retrying)
BUSY_TIMEOUT_MS = 250


def resolve_url(store: str | Path | None) -> str:
    store = str(store or os.environ.get("NNSTUDY_STORE") or "runs")
    if "://" not in store:
        return _usable(store, f"sqlite:///{Path(store) / 'nnstudy.sqlite'}")
    if store.startswith("sqlite:///"):
        return _usable(store, store)
    for plain in ("postgresql://", "postgres://"):  # psycopg 3 is the driver nnstudy installs
        if store.startswith(plain):
            return "postgresql+psycopg://" + store.removeprefix(plain)
    return store


def _usable(store: str, url: str) -> str:
    """`url`, unless its file's path is one the system refuses (too long, a NUL character in it)."""
    why = unusable(url.removeprefix("sqlite:///"))
    if why:
        raise StudyError(f"--store {cap(store, 80)}: {why}")
    return url


def store_dir(store: str | Path | None) -> Path:
    """Where reports go: the store folder for SQLite, ./runs otherwise."""
    url = resolve_url(store)
    return Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else Path("runs")


def shown(url: str) -> str:
    """The store for messages: a SQLite file's path as the user wrote it (not sqlite:///a%20b), else the URL
    without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and not u.query:
            return u.database
        return u.render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def make_engine(url: str, readonly: bool = False) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StudyError(f"--store {url!r}: not a folder or a database URL (e.g. postgresql://user@host/db)")
    if parsed.get_backend_name() == "sqlite" and readonly:
        return _readonly_sqlite(Path(url.removeprefix("sqlite:///")))
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Write transactions take the lock at BEGIN, so concurrent drivers wait instead of failing.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    args = {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {}
    try:  # pre-ping: a connection that died while the server restarted is replaced, not used
        return create_engine(url, pool_pre_ping=True, pool_size=2, connect_args=args)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        hint = " (pip install 'nnstudy[cluster]')" if parsed.get_backend_name() == "postgresql" else ""
        raise StudyError(f"--store {shown(url)}: no database driver for it: {e}{hint}")


def sqlite_uri(path: Path, readonly: bool) -> str:
    """The sqlite3 URI of an existing store file, never created by opening it. A store this process cannot write
    (a read-only folder or file) is read as it is: without a write-ahead log beside it the file is complete and
    opened immutable (no lock, no -shm file to create)."""
    flags = "mode=rw" if not readonly else "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    return f"file:{quote(str(path.resolve()))}?{flags}"


def _readonly_sqlite(path: Path) -> Engine:
    """A store this process cannot write: read it as it is (`sqlite_uri`)."""
    from sqlalchemy import create_engine, event

    uri = sqlite_uri(path, readonly=True)
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
    event.listen(engine, "connect", lambda conn, _r: setattr(conn, "isolation_level", None))
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by the "begin" listener
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
