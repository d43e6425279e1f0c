"""The torch engine's step hands its gradients to the optimizer itself (SGD's update written out), and gives
the very numbers of the loop people write: zero_grad, backward, the gradient norms from p.grad, step. Bitwise,
in float32 and float64, for every optimizer, with weight decay, penalties, gradient noise, a frozen body and
a schedule; and a checkpoint's optimizer state is the one torch.optim keeps."""

import itertools

import pytest
import torch

from nnstudy.engines._torch import _rng
from nnstudy.engines._torch._mlp import NOISE_STREAM, build_model
from nnstudy.engines._torch._optim import make_optimizer, make_schedule
from nnstudy.engines._torch._tensors import loss_fn
from nnstudy.engines._torch._train import make_step
from nnstudy.spec._schema import TrainConfig

N, D, BATCH, STEPS = 64, 6, 16, 12
pytestmark = pytest.mark.filterwarnings("error::UserWarning")  # e.g. a schedule told of no optimizer step
MC = {"kind": "mlp", "hidden": [16, 12], "activation": "tanh", "dropout": 0.0, "norm": "none"}


def reference_step(model, opt, tc, seed, counter):
    """The textbook step (the engine's before it took its gradients itself)."""
    weights = [lin.weight for lin in model.linears()]
    params = [p for p in model.parameters() if p.requires_grad]
    keys = [_rng.stream_key(torch.tensor(seed), NOISE_STREAM + j) for j in range(len(params))]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        value = loss_fn(model(xb), yb, "cross_entropy", "mean")
        if tc["l2"]:
            value = value + tc["l2"] * sum((w * w).sum() for w in weights)
        if tc["l1"]:
            value = value + tc["l1"] * sum(w.abs().sum() for w in weights)
        value.backward()
        norms = torch._foreach_norm([w.grad if w.grad is not None else torch.zeros_like(w) for w in weights])
        if tc["grad_noise"]:
            for p, key in zip(params, keys):
                p.grad.add_(_rng.normal(key, counter, tuple(p.shape), p.dtype), alpha=tc["grad_noise"])
        opt.step()
        return value, norms
    return step


def run(train: dict, dtype, reference: bool, head_only: bool = False):
    tc = TrainConfig(**{"epochs": 3, **train}).model_dump()
    torch.manual_seed(0)
    model = build_model(MC, D, 3).to(dtype)
    if head_only:
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.linears()[-1].parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, tc)
    schedule = make_schedule(opt, {"kind": "step", "step_size": 1, "gamma": 0.5}, 3)
    counter = torch.zeros((), dtype=torch.int64)
    step = (reference_step(model, opt, tc, 7, counter) if reference
            else make_step(model, opt, model.linears(), tc, "cross_entropy", 7, counter))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(N, D, generator=gen, dtype=dtype)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    seen = []
    for i in range(STEPS):
        idx = torch.randperm(N, generator=gen)[:BATCH]
        value, norms = step(x[idx], y[idx], True) if not reference else step(x[idx], y[idx])
        counter += 1
        seen.append((value.detach(), torch.stack(norms)))
        if i % 4 == 3:
            schedule.step()
    return seen, [p.detach().clone() for p in model.parameters()], opt.state_dict()


CASES = [{"optimizer": o, "lr": lr, **extra} for (o, lr), extra in itertools.product(
    [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05), ("adam", 0.01), ("adamw", 0.01), ("rmsprop", 0.01),
     ("adagrad", 0.1), ("adadelta", 1.0)],
    [{}, {"weight_decay": 0.01}, {"l2": 1e-3, "l1": 1e-3}, {"grad_noise": 0.01}])]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("train", CASES, ids=lambda t: "-".join(f"{k}={v}" for k, v in t.items()))
def test_the_step_equals_torch_optims_bitwise(train, dtype):
    got, got_params, got_state = run(train, dtype, reference=False)
    want, want_params, want_state = run(train, dtype, reference=True)
    for (gv, gn), (wv, wn) in zip(got, want, strict=True):
        assert torch.equal(gv, wv) and torch.equal(gn, wn)
    assert all(torch.equal(a, b) for a, b in zip(got_params, want_params, strict=True))
    assert got_state["param_groups"] == want_state["param_groups"]  # the schedule's lr included
    assert got_state["state"].keys() == want_state["state"].keys()
    for k, slots in want_state["state"].items():
        for name, value in slots.items():
            assert torch.equal(torch.as_tensor(got_state["state"][k][name]), torch.as_tensor(value)), name


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_a_frozen_body_is_left_alone_and_measured_as_zero(optimizer):
    got, got_params, _ = run({"optimizer": optimizer, "lr": 0.1}, torch.float64, reference=False, head_only=True)
    want, want_params, _ = run({"optimizer": optimizer, "lr": 0.1}, torch.float64, reference=True, head_only=True)
    assert all(torch.equal(a, b) for a, b in zip(got_params, want_params, strict=True))
    assert all(torch.equal(gn, wn) for (_, gn), (_, wn) in zip(got, want))
    assert got[0][1][0] == 0 and got[0][1][-1] > 0  # the frozen first layer: no gradient; the head: one
