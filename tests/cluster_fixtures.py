"""Fixtures for the PostgreSQL and Ray tests: one throwaway server and one local cluster per session.

Under CI=true a fixture that cannot start fails the test; elsewhere it skips with the reason.
"""

from __future__ import annotations

import os

import pytest

from pg_server import remove, start_server
from ray_cluster import start_cluster


def unavailable(what: str, reason: Exception) -> None:
    message = f"{what} unavailable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def started(what: str, start):
    try:
        return start()
    except Exception as e:
        unavailable(what, e)


@pytest.fixture(scope="session")
def pg_server():
    server = started("PostgreSQL", start_server)
    yield server
    remove(server)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path) -> str:
    """A `--store` value: a SQLite folder, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "runs")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def ray_address():
    """HOST:PORT of a two-node local Ray cluster; its token is in the environment while it runs."""
    cluster = started("Ray", start_cluster)
    saved = {k: os.environ.get(k) for k in cluster.env}
    os.environ.update(cluster.env)
    yield cluster.address
    cluster.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
