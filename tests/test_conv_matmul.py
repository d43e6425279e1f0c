"""The stacked CNN's convolutions as windows x weight (CONV = "unfold") equal the grouped ones and each trial alone."""

from __future__ import annotations

import pytest
import torch

from nnstudy.engines._torch import _conv_matmul, _stack_vmap
from nnstudy.engines._torch._cnn import CNN
from nnstudy.engines._torch._stack_vmap import VmapNet
from test_stack import trials_of, worst_difference

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCKS = [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1},
          {"channels": 3, "kernel": 3, "dilation": 2, "batch_norm": True},  # its input lies channels-last
          {"channels": 2, "kernel": 4, "padding": "same", "dilation": 2, "pool": "max"},
          {"channels": 2, "branches": [1, 3], "dilation": 2, "activation": "tanh"},
          {"channels": 3, "kernel": 2, "dilation": 2}]


def stack(input_shape: tuple[int, ...], k: int = 3, pool: str = "none") -> tuple[list[CNN], VmapNet]:
    """pool: after the last block; "global_avg" (an adaptive pool) turns channels-last outputs off."""
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(CNN(input_shape, [*BLOCKS[:-1], {**BLOCKS[-1], "pool": pool}], [5], 4).double())
    return models, VmapNet(models, torch.zeros((), dtype=torch.int64))


def outputs_and_grads(net: VmapNet, x: torch.Tensor, conv: str, monkeypatch) -> list[torch.Tensor]:
    monkeypatch.setattr(_stack_vmap, "CONV", conv)
    start = [b.clone() for b in net.buffers]  # batch-norm statistics as the other variant found them
    out = net.forward(x)
    grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)).sum(),
                                [*net.params, x])
    evaluated = net.forward(x[0], train=False)
    for b, s in zip(net.buffers, start):
        b.copy_(s)
    return [out, *grads, evaluated]


@pytest.mark.parametrize("pool", ["none", "global_avg"])
@pytest.mark.parametrize("input_shape", [(2, 21, 20), (23,)], ids=["image", "signal"])
def test_unfolded_convolutions_equal_grouped_ones_and_alone(input_shape, pool, monkeypatch):
    """stride 2 with padding, dilation on a channels-last input, "same" with an even kernel and dilation 2,
    Inception branches; Conv2d and Conv1d: outputs, every parameter's and the input's gradient, evaluation on
    a shared batch."""
    models, net = stack(input_shape, pool=pool)
    x = torch.randn(3, 4, torch.Size(input_shape).numel(), dtype=torch.float64, requires_grad=True)
    grouped = outputs_and_grads(net, x, "grouped", monkeypatch)
    unfold = outputs_and_grads(net, x, "unfold", monkeypatch)
    for g, u in zip(grouped, unfold, strict=True):
        assert g.shape == u.shape
        assert torch.allclose(g, u, rtol=0, atol=1e-12 * max(1.0, g.abs().max().item()))
    for i, model in enumerate(models):  # alone: the trial's own module, untouched by the stack
        assert "_conv_forward" not in vars(model[1])
        alone = model.train()(x[i].detach())
        assert torch.allclose(alone, unfold[0][i], rtol=0, atol=1e-12)
    assert grouped[0].abs().max() > 0.01 and unfold[1].abs().max() > 1e-4  # real numbers, not zeros


def test_other_kinds_keep_the_grouped_convolution(monkeypatch):
    """Only the cnn kind's convolutions are unfolded: a ResNet-18 (or ViT, user module) stays as vmap writes it."""
    seen = []
    monkeypatch.setattr(_stack_vmap, "CONV", "unfold")
    monkeypatch.setattr(_stack_vmap, "convs_by_matmul", lambda module: seen.append(module))
    conv = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 5, 5)), torch.nn.Conv2d(1, 2, 3))
    conv.linears = lambda: [conv[1]]
    net = VmapNet([conv, conv], torch.zeros((), dtype=torch.int64))
    assert net.forward(torch.randn(2, 3, 25)).shape == (2, 3, 2, 3, 3)
    assert seen == []


def test_windows_over_the_limit_stay_a_grouped_convolution(monkeypatch):
    """A convolution whose windows would pass MAX_WINDOW_VALUES (all trials together) is left to vmap."""
    models, net = stack((2, 21, 20))
    x = torch.randn(3, 4, 2 * 21 * 20, dtype=torch.float64)
    grouped = outputs_and_grads(net, x.requires_grad_(), "grouped", monkeypatch)
    monkeypatch.setattr(_conv_matmul, "MAX_WINDOW_VALUES", 0)
    for g, u in zip(grouped, outputs_and_grads(net, x, "unfold", monkeypatch), strict=True):
        assert torch.equal(g, u)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"), pytest.mark.xfail(
    reason="on an H200 the CUDA-graph capture failed at the batch norm after an unfolded (channels-last) "
           "convolution: NYI: querying is_contiguous inside of vmap; why CONV defaults to grouped")])])
def test_an_unfolded_stack_trains_as_each_trial_alone(device, monkeypatch):
    """Two epochs of a stack (the device-indexed step on the CPU, the CUDA graph on a GPU), float64: every
    per-epoch metric as alone, with strided, dilated and Inception convolutions, batch norm and dropout."""
    monkeypatch.setattr(_stack_vmap, "CONV", "unfold")
    blocks = [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1, "batch_norm": True, "dropout": 0.1},
              {"channels": 2, "branches": [1, 3], "dilation": 2, "pool": "max"}]
    data, trials = trials_of({"optimizer": "momentum", "lr": 0.05, "epochs": 2},
                             {"kind": "cnn", "blocks": blocks, "hidden": [8]}, {"train.lr": [0.05, 0.01]},
                             {"name": "digits", "train_size": 96}, seeds=1)
    assert worst_difference(data, trials, "graph" if device == "cuda" else "indexed", device) < 1e-9
