"""Linear probe: logistic regression on the hidden features of another study's trained torch MLP."""

import io
import json

import numpy as np
import pytest
import torch

import nnstudy
from nnstudy._sources import weights_path
from nnstudy.engines._classical._probe import features
from nnstudy.engines._torch._mlp import build_model
from nnstudy.errors import StudyError

DATA = {"name": "iris"}


def source_study(tmp_path, save=True):
    spec = {"study": {"name": "src"}, "data": DATA,
            "model": {"kind": "mlp", "hidden": [16, 8], "activation": "tanh"},
            "train": {"optimizer": "adam", "lr": 0.01, "epochs": 30, "save_weights": save},
            "sweep": {"model.hidden": [[16, 8], [4, 2]]}}
    return nnstudy.run(spec, store=tmp_path / "runs", workers=1)


def probe(tmp_path, **model):
    spec = {"study": {"name": "probe"}, "data": DATA,
            "model": {"kind": "linear_probe", "source": "src", **model}, "train": {"engine": "classical"},
            "sweep": {"model.layer": [1, -1]}}
    return nnstudy.run(spec, store=tmp_path / "runs", workers=1)


def test_probe_reads_the_best_source_trial_and_classifies(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    src = source_study(tmp_path)
    best = src.results().sort_values("rank").iloc[0]["model.hidden"]
    p = probe(tmp_path)
    t = p.trials()
    assert (t["status"] == "done").all() and (t["test_accuracy"] >= 0.8).all()
    predictions = {a.trial_id: np.load(io.BytesIO(a.data)) for a in p.snapshot().artifacts
                   if a.name == "predictions.npz"}  # the report's per-class table and confusion matrix
    for tid, acc in zip(t["trial_id"], t["test_accuracy"]):
        assert np.mean(predictions[tid]["y_pred"] == predictions[tid]["y_true"]) == pytest.approx(acc)
    cfg = p.snapshot().spec
    assert cfg["model"]["source"] == "src"
    from nnstudy.store import Store

    stored = Store(tmp_path / "runs", create=False).find_trials(t["trial_id"].iloc[0])[0]
    model = json.loads(stored["config_json"])["model"]
    expected = json.loads(best) if isinstance(best, str) else list(best)
    assert model["source_model"]["hidden"] == expected
    assert weights_path(model["source_sha256"]).is_file()


def test_features_are_the_hidden_activations(tmp_path):
    mc = {"kind": "mlp", "hidden": [5, 3], "activation": "relu", "dropout": 0.0, "norm": "none"}
    torch.manual_seed(0)
    model = build_model(mc, 4, 3).eval()
    x = torch.randn(6, 4)
    h1 = torch.relu(model[0](x))
    h2 = torch.relu(model[2](h1))
    assert torch.allclose(torch.as_tensor(features(model, x.numpy(), 1)).float(), h1, atol=1e-6)
    assert torch.allclose(torch.as_tensor(features(model, x.numpy(), -1)).float(), h2, atol=1e-6)
    with pytest.raises(ValueError, match="has 2 hidden layers"):
        features(model, x.numpy(), 3)


def test_missing_source_and_missing_weights_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    with pytest.raises(StudyError, match="model.source: no store"):
        probe(tmp_path)
    source_study(tmp_path, save=False)
    with pytest.raises(StudyError, match="stored no trained weights: run it with train.save_weights = true"):
        probe(tmp_path)
    with pytest.raises(StudyError, match="model.source: no study 'other'"):
        probe(tmp_path, source="other")
    from nnstudy.store import Store

    assert [s["name"] for s in Store(tmp_path / "runs", create=False).studies()] == ["src"]
