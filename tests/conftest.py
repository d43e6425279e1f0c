import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "runs"


def write_study(path, text: str):
    path.write_text(text)
    return path
