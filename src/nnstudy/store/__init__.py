"""The store: SQLite by default (WAL), PostgreSQL for teams (any SQLAlchemy URL)."""

from ._engine import resolve_url
from ._snapshot import Artifact, StudySnapshot
from ._store import Store, store_dir

__all__ = ["Artifact", "StudySnapshot", "Store", "resolve_url", "store_dir"]
