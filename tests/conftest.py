import os

import pytest

from cluster_fixtures import any_store, pg_server, pg_url, ray_address  # noqa: F401  (PostgreSQL, Ray)

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "runs"


def write_study(path, text: str):
    path.write_text(text)
    return path
