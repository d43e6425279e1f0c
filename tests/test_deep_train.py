"""Every image-classifier kind trains a tiny study on the CPU and its report has its figures;
transfer from a weight file (linear probe leaves the body unchanged); train.save_weights."""

from __future__ import annotations

import struct

import pytest
import torch
from safetensors.torch import load as load_safetensors

import nnstudy
from nnstudy.data import load
from nnstudy.engines._torch._train import train_trial
from nnstudy.errors import StudyError
from nnstudy.spec import expand, read_study
from nnstudy.spec._schema import DataConfig

KINDS = {
    "cnn": {"kind": "cnn", "blocks": [{"channels": 6, "padding": "same", "pool": "max", "batch_norm": True}]},
    "resnet18": {"kind": "resnet18", "width": 4},
    "vit": {"kind": "vit", "patch": 4, "dim": 16, "depth": 1, "heads": 2, "mlp_dim": 32},
    "mlp": {"kind": "mlp", "hidden": [32]},
}


def study(model: dict, **train) -> dict:
    return {"study": {"name": f"deep-{model['kind']}"},
            "data": {"name": "digits", "train_size": 300, "augment": ["crop"]},
            "model": model,
            "train": {"optimizer": "adam", "lr": 0.003, "epochs": 1, "batch_size": 32, **train},
            "sweep": {"train.lr": [0.003, 1e-5]}}


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind_trains_and_the_report_has_its_figures(kind, tmp_path):
    epochs = 4 if kind == "resnet18" else 1  # batch-norm statistics need a few more steps
    s = nnstudy.run(study(KINDS[kind], epochs=epochs), store=tmp_path / "runs", workers=1, device="cpu")
    trials = s.trials()
    assert (trials["status"] == "done").all() and len(trials) == 2
    figures = s.report_dir / "figures"
    expected = ["class_errors.png", "misclassified.png", "right_vs_wrong.png", "first_layer_weights.png"]
    for name in expected:
        w, h = png_size(figures / name)
        assert w >= 300 and h >= 150, (name, w, h)
    html = (s.report_dir / "report.html").read_text()
    assert "Confusion matrix of the best configuration" in html and "gets wrong" in html


def trial_of(model: dict, **train):
    raw = study(model, **train)
    raw.pop("sweep")
    raw["data"].pop("augment")
    s, _, _ = read_study(raw)
    return expand(s)[0]


def run_trial(trial):
    data = load(DataConfig.model_validate(trial.config["data"]))
    return train_trial(trial, data, lambda epoch, metrics: None)


def test_cnn_loss_falls_over_epochs():
    result = run_trial(trial_of(KINDS["cnn"], epochs=4))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert result.final["test_accuracy"] > 0.7


def test_linear_probe_trains_only_the_head_and_fine_tuning_everything(tmp_path):
    first = run_trial(trial_of(KINDS["cnn"], save_weights=True))
    blob = first.artifacts["weights.safetensors"]
    start = load_safetensors(blob)
    path = tmp_path / "start.safetensors"
    path.write_bytes(blob)
    for finetune in ("head", "all"):
        model = {**KINDS["cnn"], "weights": str(path), "finetune": finetune}
        result = run_trial(trial_of(model, save_weights=True, epochs=2))
        after = load_safetensors(result.artifacts["weights.safetensors"])
        head = [k for k in start if k.startswith("6.")]  # the output layer: unflatten, conv, bn, relu, pool, flatten
        assert sorted(head) == ["6.bias", "6.weight"]
        body_same = all(torch.equal(start[k], after[k]) for k in start if k not in head)
        assert body_same == (finetune == "head")
        assert not torch.equal(start["6.weight"], after["6.weight"])


def test_torch_state_dict_and_bad_weight_files(tmp_path):
    pt = tmp_path / "w.pt"
    first = run_trial(trial_of(KINDS["cnn"], save_weights=True))
    torch.save(load_safetensors(first.artifacts["weights.safetensors"]), pt)
    model = {**KINDS["cnn"], "weights": str(pt), "finetune": "head"}
    assert run_trial(trial_of(model)).status == "done"
    with pytest.raises(StudyError, match="model.weights: no such weights file 'nope.pt'"):
        read_study({**study(model), "model": {**model, "weights": "nope.pt"}})
    other = {"kind": "cnn", "blocks": [{"channels": 3}], "weights": str(pt)}
    with pytest.raises(ValueError, match="does not fit this model"):
        run_trial(trial_of(other))


def test_save_weights_off_stores_no_weights_and_keeps_trial_ids():
    t = trial_of(KINDS["mlp"])
    assert "save_weights" not in t.config["train"] and "augment" not in t.config["data"]
    assert "weights.safetensors" not in run_trial(t).artifacts
