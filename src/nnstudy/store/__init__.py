"""The store: SQLite by default (WAL), PostgreSQL for teams (any SQLAlchemy URL)."""

from ._engine import resolve_url, store_dir
from ._read import open_for_reading
from ._snapshot import Artifact, StudySnapshot

__all__ = ["Artifact", "StudySnapshot", "Store", "open_for_reading", "resolve_url", "store_dir"]


def __getattr__(name: str):
    """`Store`, imported on first use: a study read by _read.py (nnstudy report) never imports SQLAlchemy."""
    if name == "Store":
        from ._store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
