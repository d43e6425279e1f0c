"""Random, Bayesian (TPE) and grid search with Optuna on a seed-averaged objective (the [search] table).

Optuna is imported only when a search runs (the `search` extra); reading a search's history needs none.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StudyError
from ._objective import objective_value, seed_stats


OPTUNA_SCHEMA = "nnstudy_optuna"  # in a PostgreSQL store, Optuna's tables (which clash with ours) live here


def optuna_path(store: str | Path | None, name: str) -> Path:
    """Where a study's Optuna history lives beside a folder store: <store folder>/<study>.optuna.sqlite3."""
    from ..store import store_dir

    return store_dir(store) / f"{name}.optuna.sqlite3"


def optuna_url(store: str | Path | None, name: str) -> str:
    """The database of a study's Optuna history: a SQLite file beside a folder store; the store's own
    database (schema OPTUNA_SCHEMA) for PostgreSQL, so every driver of a team shares it."""
    from ..store._engine import resolve_url

    url = resolve_url(store)
    return url if url.startswith("postgresql") else f"sqlite:///{optuna_path(store, name)}"


def run_search(*args, **kwargs):
    """See `_run.run_search`."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise StudyError("a [search] table needs Optuna: pip install 'nnstudy[search]'") from None
    from ._run import run_search as run

    return run(*args, **kwargs)


__all__ = ["OPTUNA_SCHEMA", "objective_value", "optuna_path", "optuna_url", "run_search", "seed_stats"]
