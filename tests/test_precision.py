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


def trials_of(train: dict, seeds: int = 1, model: dict | None = None):
    raw = {"study": {"name": "precision"}, "data": MOONS, "model": model or {"hidden": [32, 32]},
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


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_a_bf16_stack_equals_its_trials_alone_within_bf16(norm):
    """The hand-batched MLP stack; with a norm, its bfloat16 activations are normalized in float32 as one trial's
    norm does (a batch norm's stack raised before: its bfloat16 mean could not update float32 statistics)."""
    data, trials = trials_of({"precision": "bf16"}, seeds=3, model={"hidden": [32, 32], "norm": norm})
    stacked = train_group(trials, data, lambda *a: None)
    for t, s in zip(trials, stacked):
        alone = run(t, data)
        for row_s, row_a in zip(s.history, alone.history):
            # bfloat16 roundings apart grow over 4 epochs: with a norm up to 2.5 % (8 seeds, before and after)
            assert row_s["train_loss"] == pytest.approx(row_a["train_loss"], rel=2e-2 if norm == "none" else 4e-2)


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


USER_NET = """
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):  # convolution, transposed convolution, three norms, PReLU, attention, linear with a bias
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.up, self.gn, self.act = nn.ConvTranspose2d(4, 4, 2, stride=2), nn.GroupNorm(2, 4), nn.PReLU()
        self.fc, self.ln, self.out = nn.Linear(4 * 16 * 16, 32), nn.LayerNorm(32), nn.Linear(32, n_classes)

    def forward(self, x):
        h = self.act(self.gn(self.up(torch.relu(self.bn(self.conv(x))))))
        h = self.ln(self.fc(h.flatten(1)))
        q = h.view(h.shape[0], 4, 8)
        return self.out(F.scaled_dot_product_attention(q, q, q).flatten(1) + h)
"""


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("model", [
    {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max", "batch_norm": True}], "hidden": [8]},  # grouped: BN
    {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max"}], "hidden": [8]},  # grouped-cl
    {"kind": "resnet18", "width": 4},  # grouped on every device
    {"kind": "vit", "patch": 4, "dim": 16, "depth": 1, "heads": 2, "mlp_dim": 16},
    {"kind": "module", "module": "net.py:Net"},
], ids=["cnn-bn", "cnn", "resnet18", "vit", "module"])
def test_a_bf16_stack_computes_each_layer_in_the_dtype_of_each_trial_alone(model, device, tmp_path, monkeypatch):
    """Under vmap many ops escape autocast (convolutions, a linear layer with a bias, PReLU, attention; norms
    answer float32 to a bfloat16 input): a stacked bf16 model computed nearly all in float32. Every layer's
    output of a training step now has the dtype it has in each trial alone, and the losses agree."""
    from torch.nn.modules.module import register_module_forward_hook

    (tmp_path / "net.py").write_text(USER_NET)
    monkeypatch.chdir(tmp_path)
    raw = {"study": {"name": "bf16-stack"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 64},
           "model": model, "train": {"batch_size": 16, "epochs": 2, "lr": 0.05, "precision": "bf16"},
           "trials": {"seeds": 2}}
    study, _, _ = read_study(raw)
    data, trials = load(study.data), expand(study)
    seen: set[tuple[str, torch.dtype]] = set()

    def layer_dtype(module, inputs, out):
        if torch.is_grad_enabled() and isinstance(out, torch.Tensor) and not list(module.children()):
            seen.add((type(module).__name__, out.dtype))  # a training step's leaf layers, not the evaluation's

    hook = register_module_forward_hook(layer_dtype)
    try:
        stacked = train_group(trials, data, lambda *a: None, device=device)
        in_stack = set(seen)
        seen.clear()
        alone = [train_trial(t, data, lambda e, m: None, device) for t in trials]
    finally:
        hook.remove()
    assert in_stack == seen, sorted(in_stack ^ seen, key=str)
    assert (model["kind"] == "vit" and ("LayerNorm", torch.float32) in seen or
            {d for name, d in seen if name in ("Conv2d", "Linear")} == {torch.bfloat16})
    deep = model["kind"] in ("resnet18", "module")
    for s, a in zip(stacked, alone):
        for row_s, row_a in zip(s.history, a.history):
            # ResNet-18's batch norms on batches of 16 part stacked from alone by 1e-3 in float32 already
            assert row_s["train_loss"] == pytest.approx(row_a["train_loss"], rel=2e-2 if deep else 2e-3)


def _op_cases() -> dict:
    import torch.nn.functional as F

    def r(*shape):
        return torch.randn(*shape, generator=torch.Generator().manual_seed(len(shape)))

    return {  # op: (function of one trial's tensors, those tensors)
        "linear with bias": (lambda x, w, b: F.linear(x, w, b), (r(4, 8), r(5, 8), r(5))),
        "conv2d": (lambda x, w: F.conv2d(x, w), (r(2, 3, 6, 6), r(4, 3, 3, 3))),
        "conv_transpose1d": (lambda x, w: F.conv_transpose1d(x, w), (r(2, 3, 9), r(3, 4, 3))),
        "prelu": (lambda x, w: F.prelu(x, w), (r(4, 8), r(1))),
        "baddbmm": (lambda x, y: torch.baddbmm(y, x, y), (r(2, 4, 4), r(2, 4, 8))),
        "attention": (lambda q, k: F.scaled_dot_product_attention(q, k, k), (r(2, 5, 8), r(2, 5, 8))),
        "matmul": (lambda x, y: x @ y, (r(4, 8), r(8, 5))),
        "layer_norm of bf16": (lambda x, w: F.layer_norm(x.bfloat16(), (8,), w), (r(4, 8), r(8))),
        "group_norm of bf16": (lambda x, w: F.group_norm(x.bfloat16(), 2, w), (r(2, 4, 5), r(4))),
        "batch_norm of bf16": (lambda x, w: F.batch_norm(x.bfloat16(), None, None, w, training=True),
                               (r(4, 8), r(8))),
        "softmax of bf16": (lambda x, y: (x.bfloat16() * y.bfloat16()).softmax(-1), (r(4, 8), r(8))),
        "l1_loss of bf16": (lambda x, y: F.l1_loss(x.bfloat16(), y.bfloat16()), (r(4, 8), r(4, 8))),
        "bce with logits of bf16": (
            lambda x, y: F.binary_cross_entropy_with_logits(x.bfloat16(), y.sigmoid().bfloat16()), (r(4, 8), r(4, 8))),
        "exp of bf16": (lambda x, y: (x.bfloat16() + y.bfloat16()).exp(), (r(4, 8), r(4, 8))),
    }


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("op", list(_op_cases()))
def test_vmap_autocast_gives_each_op_the_dtype_autocast_gives_one_trial(op, device):
    """VmapAutocast's op lists against torch's own autocast on one trial, op by op (a torch whose lists moved
    fails here, not silently in a stack)."""
    from torch.func import vmap

    from nnstudy.engines._torch._precision import vmap_autocast

    fn, tensors = _op_cases()[op]
    tensors = [t.to(device) for t in tensors]
    with torch.autocast(device, dtype=torch.bfloat16, cache_enabled=False):
        alone = fn(*tensors)

        def one(*ts):
            with vmap_autocast(device):
                return fn(*ts)

        stacked = vmap(one)(*(t.expand(3, *t.shape) for t in tensors))
    assert stacked.dtype == alone.dtype
    tol = 1e-6 if alone.dtype == torch.float32 and "norm" not in op else 2e-2  # batched sums may round apart
    torch.testing.assert_close(stacked[0], alone, rtol=tol, atol=tol)
