"""Evaluation chunks on the CPU: as many rows as keep the model's widest activation within CPU_EVAL_VALUES (its
blocks are reused, not faulted in afresh), the same metrics as one large chunk, and a probe that leaves the
model and the random streams as they were."""

from __future__ import annotations

import pytest
import torch

from nnstudy.engines._torch import _tensors
from nnstudy.engines._torch._cnn import CNN
from nnstudy.engines._torch._mlp import MLP
from nnstudy.engines._torch._stack_vmap import VmapNet
from nnstudy.engines._torch._tensors import DeviceData, eval_chunk, evaluate, widest_activation

pytestmark = pytest.mark.usefixtures("one_thread")
BLOCKS = [{"channels": 8, "kernel": 3, "pool": "max"}, {"channels": 16, "kernel": 3, "pool": "max"}]


def cnn() -> CNN:
    torch.manual_seed(0)
    return CNN((12, 12), BLOCKS, [6], 3)


def test_a_cnns_chunk_holds_its_widest_activation_within_the_budget_and_an_mlp_keeps_its_own():
    x = torch.rand(50, 144)
    assert widest_activation(cnn(), x[:1]) == 8 * 10 * 10  # the first convolution's output
    assert eval_chunk(cnn(), x) == _tensors.CPU_EVAL_VALUES // 800
    mlp = MLP(144, [64], 3)
    assert widest_activation(mlp, x[:1]) == 144 and eval_chunk(mlp, x) == _tensors.EVAL_CHUNK
    small = cnn()
    small.eval_chunk = 7  # a model's own smaller chunk (a ResNet's) stays
    assert eval_chunk(small, x) == 7
    assert eval_chunk(cnn(), x.to("meta")) == _tensors.EVAL_CHUNK  # not the CPU: as before


def test_the_probe_leaves_the_models_mode_and_the_random_stream_as_they_were():
    class Noisy(torch.nn.Module):  # a user's module that draws even in evaluation
        def forward(self, x):
            return x + 0 * torch.rand_like(x)

    model, row = cnn().train(), torch.rand(1, 144)
    noisy = torch.nn.Sequential(Noisy(), model)
    state = torch.random.get_rng_state()
    assert widest_activation(noisy, row) == 800
    assert model.training and noisy.training and torch.equal(torch.random.get_rng_state(), state)


def test_small_chunks_give_one_large_chunks_metrics(monkeypatch):
    g = torch.Generator().manual_seed(1)
    splits = {name: (torch.rand(n, 144, generator=g), torch.randint(0, 3, (n,), generator=g))
              for name, n in (("train", 300), ("val", 70), ("test", 0))}
    dd = DeviceData(splits, regression=False)
    model = cnn()
    one = evaluate(model, dd, "cross_entropy")
    monkeypatch.setattr(_tensors, "CPU_EVAL_VALUES", 800 * 16)  # 16 rows a chunk
    monkeypatch.setattr(_tensors, "_widest", type(_tensors._widest)())
    assert eval_chunk(model, splits["train"][0]) == 16
    chunked = evaluate(model, dd, "cross_entropy")
    assert set(one) == set(chunked) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    for key in one:
        assert chunked[key].item() == pytest.approx(one[key].item(), rel=1e-6)
    assert 0 < one["train_accuracy"].item() < 1


def test_a_cpu_stacks_chunk_holds_the_k_trials_widest_activation():
    models = [cnn() for _ in range(4)]
    net = VmapNet(models, torch.zeros((), dtype=torch.int64))
    assert net.eval_rows(144) == _tensors.CPU_EVAL_VALUES // (4 * 800)


def test_a_cpu_mlp_stacks_chunk_holds_the_k_trials_widest_layer():
    from nnstudy.engines._torch._stack_init import draw_stack
    from nnstudy.engines._torch._stack_net import EVAL_VALUES, StackedMLP

    mc = {"kind": "mlp", "hidden": [300, 20], "activation": "relu", "dropout": 0.0, "norm": "none",
          "input_norm": "none"}
    layers = draw_stack([mc] * 3, [1, 2, 3], 100, 4)
    net = StackedMLP(layers, mc, [1, 2, 3], torch.zeros(3, 1, 1), torch.device("cpu"), torch.float32)
    assert net.eval_rows(100) == _tensors.CPU_EVAL_VALUES // (3 * 300) < EVAL_VALUES // (3 * 300)
