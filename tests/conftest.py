"""Fixtures and plain helpers that several test files share (``from conftest import write_study``)."""

import importlib
import json
import os
import re
from pathlib import Path

import pytest

from cluster_fixtures import any_store, pg_server, pg_url, ray_address  # noqa: F401  (PostgreSQL, Ray)

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "runs"


@pytest.fixture
def one_thread():
    """One intra-op torch thread for the test (tiny tensors train faster so on a shared machine); use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toml_text(spec: dict) -> str:
    """A study given as a dict (tables of numbers, strings, lists and inline tables) as TOML text."""
    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(map(value, v)) + "]"
        return repr(v)  # int, float

    return "".join(f"[{table}]\n" + "".join(f"{key(k)} = {value(v)}\n" for k, v in body.items())
                   for table, body in spec.items())


def write_study(folder: Path, spec: dict | str, file_name: str | None = None) -> Path:
    """The study (a dict, or TOML text as a user writes it) as a file in ``folder``, named after the study
    unless ``file_name`` is given."""
    text = spec if isinstance(spec, str) else toml_text(spec)
    name = file_name or (spec["study"]["name"] + ".toml" if isinstance(spec, dict) else "study.toml")
    path = Path(folder) / name
    path.write_text(text)
    return path


def run_cli(*args) -> int:
    """``nnstudy run ARGS`` in this process; its exit code."""
    from nnstudy.cli import main

    return main(["run", *map(str, args)])


def notebook_tools(*also: str):
    """(nbclient, nbformat), with the modules ``also`` names importable: the test extra installs them; a test
    that needs one fails on CI without it and is skipped elsewhere."""
    try:
        for name in also:
            importlib.import_module(name)
        import nbclient
        import nbformat
    except ImportError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{e.name} is not installed (scripts/setup.sh installs the test extra)")
        pytest.skip(f"{e.name} is not installed: pip install -e '.[test]'")
    return nbclient, nbformat


def execute_notebook(nb, folder: Path, **options) -> None:
    """Run every cell of ``nb`` in a fresh python3 kernel working in ``folder``; raises on a cell's error."""
    nbclient, _ = notebook_tools("ipykernel")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                            **options).execute()
