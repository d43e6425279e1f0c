"""Random, Bayesian (TPE) and grid search with Optuna on a seed-averaged objective (the [search] table).

Optuna is imported only when a search runs (the `search` extra); reading a search's history needs none.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StudyError
from ._objective import objective_value, seed_stats


def optuna_path(store: str | Path | None, name: str) -> Path:
    """Where a study's Optuna history lives: <store folder>/<study>.optuna.sqlite3."""
    from ..store import store_dir

    return store_dir(store) / f"{name}.optuna.sqlite3"


def run_search(*args, **kwargs):
    """See `_run.run_search`."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise StudyError("a [search] table needs Optuna: pip install 'nnstudy[search]'") from None
    from ._run import run_search as run

    return run(*args, **kwargs)


__all__ = ["objective_value", "optuna_path", "run_search", "seed_stats"]
