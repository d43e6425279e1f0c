"""The K starts of a stacked MLP drawn straight into stacked tensors equal the modules built one by one."""

from __future__ import annotations

import pytest
import torch

from nnstudy.engines._torch import _stack_init, _stack_train
from nnstudy.engines._torch._mlp import build_trainable
from nnstudy.engines._torch._stack_init import draw_stack, drawable, shell, stack_modules
from nnstudy.engines._torch._stack_net import StackedMLP
from nnstudy.engines._torch._stack_train import FixedRate, LearningRates, train_group

from test_stack import trials_of


# tiny tensors: one intra-op thread is faster on a shared machine (the draws still use two workers)
pytestmark = pytest.mark.usefixtures("one_thread")


def model_section(**over) -> dict:
    return {"kind": "mlp", "hidden": [7, 5], "activation": "relu", "dropout": 0.0, "norm": "none",
            "input_norm": "none", **over}


def one_by_one(mcs, seeds, n_in, n_out, dtype):
    """What the stacked trainer did before: each trial's module after its seed, on the device's dtype."""
    models = []
    for mc, seed in zip(mcs, seeds):
        torch.manual_seed(seed)
        models.append(build_trainable(mc, n_in, n_out).to(dtype=dtype))
    return models


def stacked(layers, mcs, seeds, dtype):
    return StackedMLP(layers, mcs[0], seeds, torch.zeros(len(seeds), 1, 1, dtype=dtype), torch.device("cpu"), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mcs,n_in,n_out", [
    ([model_section()] * 3, 4, 3),
    ([model_section(hidden=[200, 200])] * 2, 784, 10),  # the default MLP on 28 x 28 pictures
    ([model_section(norm="batch", dropout=d) for d in (0.0, 0.3, 0.0, 0.5)], 6, 2),  # layouts differ per trial
    ([model_section(norm="layer", activation="identity", dropout=0.2)] * 2, 3, 1),
    ([{"kind": "logistic"}] * 3, 5, 1),
    ([{"kind": "perceptron"}] * 2, 4, 3),
])
def test_drawn_starts_equal_the_modules_bit_for_bit(mcs, n_in, n_out, dtype):
    seeds = [11, 0, 2**31 + 5, 7][:len(mcs)]
    models = one_by_one(mcs, seeds, n_in, n_out, dtype)
    after_loop = torch.get_rng_state()
    torch.manual_seed(123)  # somewhere else, so that only draw_stack can put it back
    layers = draw_stack(mcs, seeds, n_in, n_out, workers=3)
    assert layers is not None and drawable(mcs[0])
    assert torch.equal(torch.get_rng_state(), after_loop)  # the global generator as the loop left it
    drawn, built = stacked(layers, mcs, seeds, dtype), stacked(stack_modules(models), mcs, seeds, dtype)
    assert drawn.names == built.names
    for (attr, a, t), (_, b, _) in zip(drawn.named, built.named, strict=True):
        assert a.dtype == dtype and a.is_contiguous() and torch.equal(a, b), attr
    for k, model in enumerate(models):
        own = model.state_dict()
        assert drawn.trial_state(k).keys() == own.keys()
        for name, value in drawn.trial_state(k).items():
            assert torch.equal(value, own[name]), name
    if mcs[0]["kind"] == "mlp":
        assert len({drawn.layers[0]["W"][k].sum().item() for k in range(len(seeds))}) == len(seeds)


def test_a_draw_that_differs_from_the_module_is_refused(monkeypatch):
    real = _stack_init._draw_trials

    def off_by_one_draw(linears, seeds, trials):
        real(linears, [s + 1 for s in seeds], trials)

    monkeypatch.setattr(_stack_init, "_draw_trials", off_by_one_draw)
    assert draw_stack([model_section()] * 2, [1, 2], 4, 3) is None


def test_what_is_not_drawn_and_the_shell():
    assert not drawable(model_section(input_norm="batch"))
    assert not drawable(model_section(init_weights="w.pt"))
    assert not drawable({"kind": "cnn"})
    before = torch.get_rng_state()
    empty = shell(model_section(dropout=0.5), 4, 3)
    assert torch.equal(torch.get_rng_state(), before)  # no random numbers drawn
    assert empty[0].weight.device.type == "meta" and empty.linear_names == ["hidden1", "hidden2", "output"]


def test_training_from_drawn_starts_equals_training_from_built_modules(monkeypatch):
    """The whole stacked run, float64: every epoch's metrics and the artifacts identical either way."""
    data, trials = trials_of({"optimizer": "adam", "lr": 0.01, "epochs": 1, "save_weights": True},
                             {"norm": "batch"}, {"model.dropout": [0.0, 0.3]},
                             {"name": "moons", "n_samples": 64}, seeds=1)
    drawn = train_group(trials, data, lambda *a: None)
    monkeypatch.setattr(_stack_train, "drawable", lambda mc: False)
    built = train_group(trials, data, lambda *a: None)
    for a, b in zip(drawn, built, strict=True):
        assert [{k: v for k, v in r.items() if k != "time_s"} for r in a.history] == \
               [{k: v for k, v in r.items() if k != "time_s"} for r in b.history]
        assert a.artifacts.keys() == b.artifacts.keys() and a.artifacts == b.artifacts


def test_a_stack_without_schedules_keeps_its_rates_without_torch_optimizers():
    tc = {"lr": 0.1, "epochs": 3, "steps": None, "schedule": {"kind": "none"}, "early_stopping": None}
    lrs = LearningRates([tc, {**tc, "lr": 0.5, "schedule": {"kind": "cosine"}}], 10)
    assert isinstance(lrs.opts[0], FixedRate) and isinstance(lrs.opts[1], torch.optim.SGD)
    lrs.step()
    assert lrs.current() == [0.1, pytest.approx(0.5 * 0.75)]  # cosine over 3 epochs, after the first
    old = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.03).state_dict()  # an older checkpoint's
    lrs.opts[0].load_state_dict(old)
    assert lrs.current()[0] == 0.03 and lrs.opts[0].state_dict()["param_groups"][0]["lr"] == 0.03
