"""train.precision: bf16 autocast of the training step's forward pass (CPU and CUDA), tf32 on CUDA only;
float32 stays exact and keeps its trial ids; the study file refuses it where it cannot apply."""

from __future__ import annotations

import pytest
import torch

from nnstudy.data import load
from nnstudy.engines._torch._precision import trial_precision
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.engines._torch._train import train_trial
from nnstudy.errors import StudyError
from nnstudy.spec import expand, read_study

MOONS = {"name": "moons", "n_samples": 200, "noise": 0.2, "validation": 0.2}


def trials_of(train: dict, seeds: int = 1):
    raw = {"study": {"name": "precision"}, "data": MOONS, "model": {"hidden": [32, 32]},
           "train": {"batch_size": 16, "epochs": 4, "lr": 0.2, **train}, "trials": {"seeds": seeds}}
    study, _, _ = read_study(raw)
    return load(study.data), expand(study)


def run(trial, data):
    return train_trial(trial, data, lambda e, m: None)


def numbers(result) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time_s"} for row in result.history]


def test_float32_written_out_keeps_the_trial_id_and_tf32_on_the_cpu_is_float32():
    data, (plain,) = trials_of({})
    _, (written,) = trials_of({"precision": "float32"})
    _, (tf32,) = trials_of({"precision": "tf32"})
    assert written.trial_id == plain.trial_id and tf32.trial_id != plain.trial_id
    assert "precision" not in plain.config["train"] and tf32.config["train"]["precision"] == "tf32"
    assert numbers(run(tf32, data)) == numbers(run(plain, data))  # no TF32 on the CPU: the same numbers


def test_bf16_trains_and_changes_the_numbers():
    data, (plain,) = trials_of({})
    _, (bf16,) = trials_of({"precision": "bf16"})
    a, b = run(plain, data), run(bf16, data)
    assert b.status == "done"
    assert b.final["train_loss"] < b.history[0]["train_loss"] or b.history[0]["train_loss"] < 0.5
    assert b.final["train_loss"] != a.final["train_loss"]  # bfloat16 products round differently
    assert abs(b.final["val_accuracy"] - a.final["val_accuracy"]) <= 0.1  # but learn the same problem


def test_a_bf16_stack_equals_its_trials_alone_within_bf16():
    data, trials = trials_of({"precision": "bf16"}, seeds=3)
    stacked = train_group(trials, data, lambda *a: None)
    for t, s in zip(trials, stacked):
        alone = run(t, data)
        for row_s, row_a in zip(s.history, alone.history):
            assert row_s["train_loss"] == pytest.approx(row_a["train_loss"], rel=2e-2)


def test_tf32_is_switched_on_for_cuda_only_and_back_after():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with trial_precision({"precision": "tf32"}, torch.device("cuda")):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with trial_precision({"precision": "tf32"}, torch.device("cpu")):
        assert torch.backends.cuda.matmul.allow_tf32 == before[0]


def test_float32_on_cuda_turns_off_cudnns_default_tf32_convolutions_and_back_after():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True  # torch's default
    try:
        for tc in ({}, {"precision": "float32"}, {"precision": "bf16"}):  # bf16: its evaluation is float32
            with trial_precision(tc, torch.device("cuda")):
                assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            assert torch.backends.cudnn.allow_tf32
        with trial_precision({"precision": "float32"}, torch.device("cpu")):
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize("train, said", [
    ({"precision": "bf16", "engine": "numpy"}, 'engine = "numpy"'),
    ({"precision": "bf16", "dtype": "float64"}, 'dtype = "float64"'),
    ({"precision": "fp8"}, "precision"),
])
def test_precision_where_it_cannot_apply_is_a_study_file_error(train, said):
    with pytest.raises(StudyError, match=said):
        trials_of(train)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("model", [
    {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max", "batch_norm": True}], "hidden": [8]},  # grouped: BN
    {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max"}], "hidden": [8]},  # grouped-cl
    {"kind": "resnet18", "width": 4},  # grouped on every device
])
def test_a_bf16_cnn_stack_convolves_in_bfloat16_as_each_trial_alone(model, device, monkeypatch):
    """vmap's batched convolutions escape autocast (conv1d/2d under vmap stay float32 where one trial's is
    bfloat16): a stacked bf16 CNN casts them as autocast does, so its trials train as they do alone."""
    raw = {"study": {"name": "cnn-bf16"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 64},
           "model": model, "train": {"batch_size": 16, "epochs": 2, "lr": 0.05, "precision": "bf16"},
           "trials": {"seeds": 2}}
    study, _, _ = read_study(raw)
    data, trials = load(study.data), expand(study)
    dtypes, resnet = [], model["kind"] == "resnet18"
    conv2d = torch.nn.functional.conv2d

    def spy(*args, **kwargs):
        out = conv2d(*args, **kwargs)
        if torch.is_grad_enabled():  # a training step's, not the evaluation's
            dtypes.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.functional, "conv2d", spy)
    stacked = train_group(trials, data, lambda *a: None, device=device)
    assert dtypes and set(dtypes) == {torch.bfloat16}, dtypes
    dtypes.clear()
    for t, s in zip(trials, stacked):
        alone = train_trial(t, data, lambda e, m: None, device)
        assert set(dtypes) == {torch.bfloat16}
        for row_s, row_a in zip(s.history, alone.history):
            # ResNet-18's batch norms on batches of 16 part stacked from alone by 1e-3 in float32 already
            assert row_s["train_loss"] == pytest.approx(row_a["train_loss"], rel=2e-2 if resnet else 2e-3)
