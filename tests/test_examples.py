"""The example notebooks run top to bottom on small settings (NNSTUDY_EXAMPLE_QUICK=1); outputs are not committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import execute_notebook, notebook_tools

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_there_are_examples_and_none_has_committed_outputs():
    assert {p.stem for p in NOTEBOOKS} >= {"quick-tour", "regularization", "compare"}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        assert all(not c.get("outputs") and not c.get("execution_count") for c in cells if c["cell_type"] == "code"), path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    _, nbformat = notebook_tools("ipykernel")
    monkeypatch.setenv("NNSTUDY_EXAMPLE_QUICK", "1")
    monkeypatch.setenv("NNSTUDY_STORE", str(tmp_path / "runs"))
    nb = nbformat.read(path, as_version=4)
    execute_notebook(nb, tmp_path)  # raises on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    if path.stem == "compare":
        assert any("verdict" in h for h in html)
    else:  # a Study shows its table with inline figures; plot() shows a PNG
        assert any("±" in h and "data:image/png;base64," in h for h in html)
        assert pngs
