"""Optuna's RDBStorage with the store's patience: SQLite waits BUSY_TIMEOUT_MS for a locked file, and the rest
of the wait happens in Python (store/_retry.retrying), in short tries and pauses where Ctrl-C lands at once.
Optuna's own default (a 60 s SQLite timeout per statement) held an interrupt off for up to a minute."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import StorageInternalError
from sqlalchemy.exc import DBAPIError

from ..store._engine import BUSY_TIMEOUT_MS
from ..store._retry import RETRY_FOR_S, retrying
from . import OPTUNA_SCHEMA

# Every method of RDBStorage that opens a session, with the private ones optuna's _CachedStorage calls.
SESSION_METHODS = (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr", "get_study_id_from_name",
    "get_study_name_from_id", "get_study_directions", "get_study_user_attrs", "get_study_system_attrs",
    "get_trial_user_attrs", "get_trial_system_attrs", "get_all_studies", "create_new_trial", "_create_new_trial",
    "set_trial_param", "_set_trial_param", "get_trial_param", "set_trial_state_values",
    "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number", "get_trial", "get_all_trials", "_get_trials", "get_best_trial",
    "_get_best_trial_id", "record_heartbeat", "_get_stale_trial_ids",
)


def _patient(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        def once():
            try:
                return method(self, *args, **kwargs)
            except StorageInternalError as e:  # optuna wraps the database's error (rolled back): retried as it is
                if isinstance(e.__cause__, DBAPIError):
                    raise e.__cause__ from None
                raise

        return retrying(once, self.url, f"the search's history ({method.__name__.lstrip('_')})",
                        busy_for_s=RETRY_FOR_S)

    return wrapper


class PatientRDBStorage(optuna.storages.RDBStorage):
    """RDBStorage whose every session is retried while the database is locked or unreachable (each is one
    transaction, rolled back on error: trying it again writes nothing twice)."""


for _name in SESSION_METHODS:
    setattr(PatientRDBStorage, _name, _patient(getattr(optuna.storages.RDBStorage, _name)))


def rdb_storage(url: str) -> PatientRDBStorage:
    """Optuna's storage in the database `url`; makes the SQLite folder or the PostgreSQL schema."""
    url, kwargs = _rdb(url)
    return retrying(lambda: PatientRDBStorage(url, engine_kwargs=kwargs), url, "the search's history (open)",
                    busy_for_s=RETRY_FOR_S)


def _rdb(url: str) -> tuple[str, dict[str, Any]]:
    """(url, engine_kwargs) for Optuna's RDBStorage; makes the SQLite folder or the PostgreSQL schema."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return url, {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000}}
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}")
    finally:
        engine.dispose()
    return url, {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}}
