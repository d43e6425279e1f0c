"""NumPy engine vs PyTorch engine: same initial weights, same batches, float64 -> the same loss at every
step (relative difference < 1e-9), the same gradient norms and the same final weights. One table over
optimizer x activation x loss x penalty, one over normalization; dropout is off (its masks differ)."""

import itertools

import numpy as np
import pytest
import torch

from nnstudy.engines._numpy._losses import make_loss
from nnstudy.engines._numpy._network import build_network
from nnstudy.engines._numpy._optim import lr_schedule, make_optimizer
from nnstudy.engines._numpy._step import Objective, make_step
from nnstudy.engines._torch._mlp import build_model
from nnstudy.engines._torch._optim import make_optimizer as torch_optimizer
from nnstudy.engines._torch._optim import make_schedule
from nnstudy.engines._torch._train import make_step as torch_step
from nnstudy.spec._schema import ACTIVATIONS, NUMPY_OPTIMIZERS, TrainConfig

TOL = 1e-9
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01,
      "adagrad": 0.1, "adadelta": 1.0}
PENALTIES = {"none": {}, "l1": {"l1": 1e-3}, "l2": {"l2": 1e-3}, "weight_decay": {"weight_decay": 0.05}}
LOSSES = ("cross_entropy", "binary", "mse", "perceptron")
N, D, BATCH, STEPS = 40, 5, 8, 8


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: threads only cost time here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def problem(loss: str, rng: np.random.Generator):
    """x (N, D), targets for the loss, and the output width."""
    x = rng.standard_normal((N, D))
    if loss == "mse":
        return x, np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2]], 1), 2
    if loss == "binary":
        return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64), 1
    return x, np.digitize(x[:, 0] - x[:, 2], [-0.5, 0.5]).astype(np.int64), 3


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def run_both(mc: dict, loss: str, train: dict, measure: bool = True):
    """Per step: (torch objective, numpy objective, torch norms, numpy norms); torch's weights, numpy's net.
    measure False: the NumPy steps measure no norms (plain SGD then descends inside the Linears' products)."""
    rng = np.random.default_rng(0)
    x, y, n_out = problem(loss, rng)
    tc = TrainConfig(**train).model_dump()
    torch.manual_seed(0)
    model = build_model(mc, D, n_out).double()
    net = build_network(mc, D, n_out, np.float64, np.random.default_rng(1), np.random.default_rng(2))
    for p, q in zip(net.params, model.parameters(), strict=True):
        np.copyto(p, q.detach().numpy().T)  # the numpy engine keeps weights as (in, out)
    t_step = torch_step(model, torch_optimizer(list(model.parameters()), tc), model.linears(), tc, loss)
    n_step = make_step(Objective(net, make_loss(loss), tc["l1"], tc["l2"]),
                       make_optimizer(tc, lambda count: tc["lr"]), 0.0, None)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    rows = []
    for _ in range(STEPS):
        idx = rng.choice(N, BATCH, replace=False)
        t_value, t_norms = t_step(xt[idx], yt[idx], True)
        n_value, n_norms = n_step(x[idx], y[idx], measure, want_value=True)
        rows.append((t_value.item(), n_value, torch.stack(t_norms).numpy(), n_norms))
    return rows, [p.detach().numpy().T for p in model.parameters()], net


def assert_parity(mc: dict, loss: str, train: dict, ignore: tuple[str, ...] = (), measure: bool = True):
    rows, torch_params, net = run_both(mc, loss, train, measure)
    for step, (t_value, n_value, t_norms, n_norms) in enumerate(rows, 1):
        assert rel(t_value, n_value) < TOL, f"step {step}: torch {t_value!r} numpy {n_value!r}"
        if measure:
            np.testing.assert_allclose(n_norms, t_norms, rtol=TOL, atol=0)
    for name, t, n in zip(net.param_names, torch_params, net.params, strict=True):
        if name not in ignore:
            assert np.abs(t - n).max() <= TOL * max(np.abs(t).max(), 1e-12), name
    values = [r[0] for r in rows]
    assert len(set(values)) > 1  # the weights moved: the steps compared different models
    return net


TABLE = list(itertools.product(NUMPY_OPTIMIZERS, ACTIVATIONS, LOSSES, PENALTIES))


@pytest.mark.parametrize("optimizer,activation,loss,penalty", TABLE, ids=["-".join(c) for c in TABLE])
def test_per_step_loss_matches_torch(optimizer, activation, loss, penalty):
    mc = {"kind": "mlp", "hidden": [6, 4], "activation": activation, "dropout": 0.0, "norm": "none"}
    assert_parity(mc, loss, {"optimizer": optimizer, "lr": LR[optimizer], **PENALTIES[penalty]})


NORMS = list(itertools.product(("batch", "layer"), NUMPY_OPTIMIZERS, LOSSES))


@pytest.mark.parametrize("norm,optimizer,loss", NORMS, ids=["-".join(c) for c in NORMS])
def test_normalization_layers_match_torch(norm, optimizer, loss):
    mc = {"kind": "mlp", "hidden": [6, 4], "activation": "tanh", "dropout": 0.0, "norm": norm}
    # a bias right before batch norm has no effect and a zero gradient up to rounding, which adaptive
    # optimizers blow up into full steps: its value is noise in both engines
    ignore = ("hidden1.bias", "hidden2.bias") if norm == "batch" else ()
    assert_parity(mc, loss, {"optimizer": optimizer, "lr": LR[optimizer], "l2": 1e-3}, ignore)


DESCENT = [*itertools.product(("none", "batch", "layer"), LOSSES, ("none",)),
           *itertools.product(("none",), LOSSES, ("l2",))]


@pytest.mark.parametrize("norm,loss,penalty", DESCENT, ids=["-".join(c) for c in DESCENT])
def test_sgd_descending_inside_the_weight_products_matches_torch(norm, loss, penalty):
    """Steps that measure no gradient norm: SGD's weight step is one gemm per Linear ((1 - 2 lr l2) w - lr x^T dy
    over w), the other parameters step as before; the gradients are never written."""
    mc = {"kind": "mlp", "hidden": [6, 4], "activation": "tanh", "dropout": 0.0, "norm": norm}
    ignore = ("hidden1.bias", "hidden2.bias") if norm == "batch" else ()
    train = {"optimizer": "sgd", "lr": LR["sgd"], **{k: 10 * v for k, v in PENALTIES[penalty].items()}}
    net = assert_parity(mc, loss, train, ignore, measure=False)
    assert all(not lin.dw.any() for lin in net.linears())  # each step descended in place, not through dw


@pytest.mark.parametrize("kind,loss", [("logistic", "binary"), ("logistic", "cross_entropy"),
                                       ("perceptron", "perceptron")])
def test_linear_kinds_match_torch(kind, loss):
    assert_parity({"kind": kind}, loss, {"optimizer": "sgd", "lr": 0.5})


@pytest.mark.parametrize("kind,extra", [("step", {"step_size": 2, "gamma": 0.5}), ("cosine", {})])
def test_lr_schedules_match_torch(kind, extra):
    tc = TrainConfig(lr=0.3, epochs=7, schedule={"kind": kind, **extra}).model_dump()
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tc["lr"])
    sched = make_schedule(opt, tc["schedule"], tc["epochs"])
    lr_at = lr_schedule(tc)
    for epoch in range(tc["epochs"]):
        assert lr_at(epoch) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        opt.step()
        sched.step()
    assert lr_at(tc["epochs"]) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-15)


def test_perceptron_update_is_mistake_driven():
    """Zero weights, lr 1, one sample: the true class gains the input, the predicted class loses it."""
    net = build_network({"kind": "perceptron"}, 3, 4, np.float64, None, None)
    tc = TrainConfig(optimizer="sgd", lr=1.0).model_dump()
    step = make_step(Objective(net, make_loss("perceptron"), 0.0, 0.0), make_optimizer(tc, lambda c: 1.0), 0.0, None)
    x = np.array([[1.0, -2.0, 0.5]])
    step(x, np.array([2]), False)  # all scores tie: class 0 is predicted, a mistake
    w, b = net.linears()[0].w.T, net.linears()[0].b  # (classes, inputs)
    np.testing.assert_array_equal(w, [[-1.0, 2.0, -0.5], [0, 0, 0], [1.0, -2.0, 0.5], [0, 0, 0]])
    np.testing.assert_array_equal(b, [-1.0, 0, 1.0, 0])
    before = w.copy()
    step(x, np.array([2]), False)  # now right: no change
    np.testing.assert_array_equal(w, before)
