"""The store: SQLite by default (WAL), any SQLAlchemy URL later."""

from ._snapshot import Artifact, StudySnapshot
from ._store import Store, resolve_url, store_dir

__all__ = ["Artifact", "StudySnapshot", "Store", "resolve_url", "store_dir"]
