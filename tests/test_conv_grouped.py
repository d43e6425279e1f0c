"""The stacked CNN's convolutions and max pools as one grouped channels-last convolution (CONV = "grouped-cl"):
the same numbers as vmap's grouped convolution and each trial alone, on side-by-side NHWC tensors; chosen where
it applies, except on CUDA in float32 and TF32 (unfolded there)."""

from __future__ import annotations

import pytest
import torch

from nnstudy.engines._torch import _conv_grouped, _stack_vmap
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.engines._torch._stack_vmap import VmapNet
from nnstudy.engines._torch._train import train_trial
from test_conv_matmul import outputs_and_grads, stack
from test_stack import trials_of, worst_difference

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not _conv_grouped.AVAILABLE, reason="needs torch >= 2.5 (register_vmap)")]


def recorded_convs(monkeypatch) -> list[tuple]:
    """(channels-last input?, groups, input shape, dtype) of every F.conv2d call from here on."""
    seen, conv2d = [], torch.nn.functional.conv2d

    def conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        seen.append((x.is_contiguous(memory_format=torch.channels_last), groups, tuple(x.shape), x.dtype))
        return conv2d(x, w, b, stride, padding, dilation, groups)

    monkeypatch.setattr(torch.nn.functional, "conv2d", conv)
    return seen


@pytest.mark.parametrize("pool", ["none", "max"])
def test_grouped_channels_last_equals_vmaps_grouped_convolution_and_each_trial_alone(pool, monkeypatch):
    """stride 2 with padding, dilation, "same" with an even kernel, Inception branches, max pools: outputs,
    every parameter's and the input's gradient, and the evaluation on a shared batch (each trial's filters on
    one batch: groups = 1); every convolution reads the K trials' channels side by side, channels-last."""
    models, net = stack((2, 41, 40), pool=pool)
    x = torch.randn(3, 4, 2 * 41 * 40, dtype=torch.float64, requires_grad=True)
    grouped = outputs_and_grads(net, x, "grouped", monkeypatch)
    seen = recorded_convs(monkeypatch)
    side_by_side = outputs_and_grads(net, x, "grouped-cl", monkeypatch)
    for g, s in zip(grouped, side_by_side, strict=True):
        assert g.shape == s.shape
        assert torch.allclose(g, s, rtol=0, atol=1e-12 * max(1.0, g.abs().max().item()))
    assert len(seen) == 12 and all(last for last, *_ in seen)  # 6 convolutions, trained then evaluated
    assert [groups for _, groups, *_ in seen] == [3] * 6 + [1] + [3] * 5
    assert seen[0][2] == (4, 3 * 2, 43, 42)  # the batch, the trials' channels side by side, padded
    for i, model in enumerate(models):
        assert not any("_conv_forward" in vars(m) or "forward" in vars(m) for m in model.modules())
        alone = model.train()(x[i].detach())
        assert torch.allclose(alone, side_by_side[0][i], rtol=0, atol=1e-12)
    assert grouped[0].abs().max() > 0.01 and side_by_side[1].abs().max() > 1e-4


@pytest.mark.parametrize("input_shape, pool, batch_norm", [((23,), "none", False), ((2, 21, 20), "global_avg", False),
                                                           ((2, 21, 20), "none", True)],
                         ids=["signal", "adaptive pool", "batch norm"])
def test_models_it_cannot_feed_keep_vmaps_grouped_convolution_and_cuda_unfolds_them(input_shape, pool,
                                                                                     batch_norm, monkeypatch):
    _, net = stack(input_shape, pool=pool, batch_norm=batch_norm)
    net.precision = "bf16"
    monkeypatch.setattr(_stack_vmap, "CONV", "grouped-cl")
    assert net.conv_form(torch.device("cpu")) == "grouped"
    monkeypatch.setattr(_stack_vmap, "CONV", "auto")
    assert net.conv_form(torch.device("cuda")) == "unfold" and net.conv_form(torch.device("cpu")) == "grouped"


@pytest.mark.parametrize("precision, device, form", [("bf16", "cuda", "grouped-cl"), ("tf32", "cuda", "unfold"),
                                                     ("float32", "cuda", "unfold"), ("bf16", "cpu", "grouped-cl"),
                                                     ("float32", "cpu", "grouped-cl")])
def test_auto_sides_the_trials_by_side_except_on_cuda_in_float32_and_tf32(precision, device, form):
    """On an H200, bf16: 1.30 ms a step grouped channels-last against 1.68 unfolded; TF32: 1.91 against 1.73.
    On 2 CPU cores, float32, K = 8: 23.4 ms against grouped's 39.8."""
    _, net = stack((2, 21, 20))
    net.precision = precision
    assert net.conv_form(torch.device(device)) == form
    other = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 5, 5)), torch.nn.Conv2d(1, 2, 3))  # a kind not cnn
    other.linears = lambda: [other[1]]
    assert VmapNet([other, other], torch.zeros((), dtype=torch.int64), precision).conv_form(
        torch.device(device)) == "grouped"


BLOCKS = [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1, "dropout": 0.1},
          {"channels": 2, "branches": [1, 3], "dilation": 2, "pool": "max"}]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_a_grouped_channels_last_stack_trains_as_each_trial_alone(device, monkeypatch):
    """Two epochs (the device-indexed step on the CPU, the CUDA graph on a GPU), float64: every per-epoch metric
    as alone, with strided and Inception convolutions, a max pool and dropout."""
    monkeypatch.setattr(_stack_vmap, "CONV", "grouped-cl")
    data, trials = trials_of({"optimizer": "momentum", "lr": 0.05, "epochs": 2},
                             {"kind": "cnn", "blocks": BLOCKS, "hidden": [8]}, {"train.lr": [0.05, 0.01]},
                             {"name": "digits", "train_size": 96}, seeds=1)
    assert worst_difference(data, trials, "graph" if device == "cuda" else "indexed", device) < 1e-9


def test_a_bf16_stack_side_by_side_equals_its_trials_alone_within_bf16(monkeypatch):
    """Autocast reaches the convolutions inside the batching rules: bfloat16 products, as alone."""
    monkeypatch.setattr(_stack_vmap, "CONV", "grouped-cl")
    data, trials = trials_of({"optimizer": "sgd", "lr": 0.05, "epochs": 2, "dtype": "float32", "precision": "bf16"},
                             {"kind": "cnn", "blocks": BLOCKS, "hidden": []}, {"train.lr": [0.05, 0.02]},
                             {"name": "digits", "train_size": 96}, seeds=1)
    seen = recorded_convs(monkeypatch)
    stacked = train_group(trials, data, lambda *a: None, mode="indexed")
    stepped = [call for call in seen if call[1] == 2]  # the models' construction convolves one trial alone
    assert stepped and all(last for last, *_ in stepped)
    assert {dtype for *_, dtype in stepped} == {torch.float32, torch.bfloat16}  # autocast casts the first input
    monkeypatch.undo()
    for t, s in zip(trials, stacked):
        alone = train_trial(t, data, lambda e, m: None)
        assert s.history[-1]["train_loss"] < s.history[0]["train_loss"] * 1.5
        for row_s, row_a in zip(s.history, alone.history):
            assert row_s["train_loss"] == pytest.approx(row_a["train_loss"], rel=2e-2)
