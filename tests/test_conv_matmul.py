"""The stacked CNN's convolutions as windows x weight (CONV = "unfold") equal the grouped ones and each trial alone."""

from __future__ import annotations

import pytest
import torch

from nnstudy.engines._torch import _conv_matmul, _stack_vmap
from nnstudy.engines._torch._cnn import CNN, PooledFirst
from nnstudy.engines._torch._stack_vmap import VmapNet
from test_stack import trials_of, worst_difference

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCKS = [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1},
          {"channels": 3, "kernel": 3, "dilation": 2},  # its input lies channels-last
          {"channels": 2, "kernel": 4, "padding": "same", "dilation": 2, "pool": "max"},
          {"channels": 2, "branches": [1, 3], "dilation": 2, "activation": "tanh"},
          {"channels": 3, "kernel": 2, "dilation": 2}]


def stack(input_shape: tuple[int, ...], k: int = 3, pool: str = "none",
          batch_norm: bool = False) -> tuple[list[CNN], VmapNet]:
    """pool: after the last block; "global_avg" (an adaptive pool) or a batch norm (in the second block) turns
    channels-last outputs off."""
    blocks = [BLOCKS[0], {**BLOCKS[1], "batch_norm": batch_norm}, *BLOCKS[2:-1], {**BLOCKS[-1], "pool": pool}]
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(CNN(input_shape, blocks, [5], 4).double())
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


@pytest.mark.parametrize("pool, batch_norm", [("none", False), ("global_avg", False), ("none", True)])
@pytest.mark.parametrize("input_shape", [(2, 21, 20), (23,)], ids=["image", "signal"])
def test_unfolded_convolutions_equal_grouped_ones_and_alone(input_shape, pool, batch_norm, monkeypatch):
    """stride 2 with padding, dilation on a channels-last input, "same" with an even kernel and dilation 2,
    Inception branches, batch norm; Conv2d and Conv1d: outputs, every parameter's and the input's gradient,
    evaluation on a shared batch."""
    models, net = stack(input_shape, pool=pool, batch_norm=batch_norm)
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


@pytest.mark.parametrize("reader", ["none", "global_avg", "batch_norm"])
def test_unfolded_outputs_lie_channels_last_unless_a_batch_norm_or_adaptive_pool_reads_them(reader):
    """vmap cannot ask a batched tensor whether it is channels-last, which cuDNN's batch norm does (the CUDA
    graph's capture failed on an H200), and has no batching rule for the adaptive pool's channels-last backward."""
    (model,), _ = stack((2, 21, 20), k=1, pool="global_avg" if reader == "global_avg" else "none",
                        batch_norm=reader == "batch_norm")
    outputs = []
    for conv in filter(_conv_matmul.matmul_ready, model.modules()):
        conv.register_forward_hook(lambda module, args, out: outputs.append(out))
    with _conv_matmul.convs_by_matmul(model, 1):
        model(torch.randn(4, 2 * 21 * 20, dtype=torch.float64))
    assert len(outputs) == 6  # the last one's output is 1 x 1: contiguous in either layout
    assert [o.is_contiguous() for o in outputs[:5]] == [reader != "none"] * 5


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


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
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


@pytest.mark.parametrize("input_shape", [(2, 16, 14), (29,)], ids=["image", "signal"])
def test_evaluation_pools_before_the_bias_and_relu_with_the_same_values(input_shape):
    """PooledFirst (the stacked evaluation): conv -> ReLU -> max pool as conv -> max pool -> + bias -> ReLU,
    equal bit for bit to the bias added after the convolution, ties included (inputs on a coarse grid give
    equal maxima); to the convolution that adds its bias itself, within rounding."""
    blocks = [{"channels": 4, "kernel": 3, "pool": "max"}, {"channels": 3, "kernel": 2, "pool": "max"},
              {"channels": 2, "kernel": 1, "activation": "tanh", "pool": "max"}]
    torch.manual_seed(0)
    cnn = CNN(input_shape, blocks, [5], 3).double().eval()
    x = torch.randint(-2, 3, (6, torch.Size(input_shape).numel())).double()
    pooled = PooledFirst(cnn)
    assert pooled.fused == {1, 4}  # the tanh block keeps its order
    with torch.no_grad():
        fused, plain = pooled(x), cnn(x)
        assert torch.allclose(fused, plain, rtol=0, atol=1e-15) and plain.abs().max() > 0.01
        for conv in (cnn[i] for i in pooled.fused):
            conv.forward = lambda h, c=conv: c._conv_forward(h, c.weight, None) + c.bias.view(-1, *[1] * (h.dim() - 2))
        assert torch.equal(fused, cnn(x))
