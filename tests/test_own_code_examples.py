"""examples/own-code: each study (own model, own CSV, own loader, own training loop) runs as shipped, one
epoch and one seed per configuration, and every trial is done."""

from pathlib import Path

import pytest

import nnstudy

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "own-code").glob("*.toml"))


def test_every_kind_of_own_code_has_an_example():
    text = {p.stem: p.read_text() for p in EXAMPLES}
    assert {"quickstart", "my-model", "my-csv", "my-loader", "my-train"} <= set(text)
    assert 'kind = "module"' in text["my-model"] and 'name = "file"' in text["my-csv"]
    assert "loader = " in text["my-loader"] and "function = " in text["my-train"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    study = nnstudy.run(path, store=tmp_path / "runs", set={"train.epochs": 1, "trials.seeds": 1}, workers=1)
    trials = study.trials()
    assert len(trials) >= 2 and set(trials["status"]) == {"done"}
    assert trials["test_accuracy"].between(0.0, 1.0).all()
    assert (study.report_dir / "report.html").stat().st_size > 10_000
