"""The PyTorch engine on its own: optimizers, penalties, schedules, early stopping, determinism."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_moons

from nnstudy.data._dataset import Dataset
from nnstudy.engines import get_engine
from nnstudy.spec import expand, read_study

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "lbfgs"]


@pytest.fixture(scope="module")
def moons():
    x, y = make_moons(600, noise=0.2, random_state=0)
    x = x.astype(np.float32)
    return Dataset("moons", "classification", x[:400], y[:400], x[400:500], y[400:500], x[500:], y[500:],
                   (2,), ["upper", "lower"])


def trial(**train):
    model = train.pop("model", {"hidden": [16]})
    study, _, _ = read_study({"study": {"name": "t"}, "data": {"name": "moons"}, "model": model,
                              "train": {"epochs": 5, "batch_size": 32, **train}})
    return expand(study)[0]


def train(data, **kw):
    epochs = []
    result = get_engine("torch").train(trial(**kw), data, lambda e, m: epochs.append(e), "cpu")
    assert epochs == list(range(1, len(result.history) + 1))
    return result


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(moons, optimizer):
    lr = {"adam": 0.01, "adamw": 0.01, "rmsprop": 0.01, "adadelta": 1.0, "lbfgs": 0.5}.get(optimizer, 0.1)
    batch = "full" if optimizer == "lbfgs" else 32  # L-BFGS line-searches: a full batch per step
    r = train(moons, optimizer=optimizer, lr=lr, epochs=6, batch_size=batch)
    losses = [h["train_loss"] for h in r.history]
    assert r.status == "done"
    assert losses[-1] < losses[0] * 0.9 or losses[-1] < 0.35, losses
    assert r.final["test_accuracy"] > 0.75


def test_same_seed_same_numbers_other_seed_other_numbers(moons):
    a = train(moons, grad_noise=0.01, model={"hidden": [16], "dropout": 0.2})
    b = train(moons, grad_noise=0.01, model={"hidden": [16], "dropout": 0.2})
    strip = [{k: v for k, v in h.items() if k != "time_s"} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if k != "time_s"} for h in b.history]
    study, _, _ = read_study({"study": {"name": "t"}, "data": {"name": "moons"}, "trials": {"seeds": [0, 1]},
                              "train": {"epochs": 2}})
    t0, t1 = expand(study)
    r0 = get_engine("torch").train(t0, moons, lambda e, m: None, "cpu")
    r1 = get_engine("torch").train(t1, moons, lambda e, m: None, "cpu")
    assert r0.final["train_loss"] != r1.final["train_loss"]


def test_step_and_cosine_schedules(moons):
    r = train(moons, epochs=6, lr=0.1, schedule={"kind": "step", "step_size": 2, "gamma": 0.5})
    assert [h["lr"] for h in r.history] == pytest.approx([0.1 * 0.5 ** (e // 2) for e in range(1, 7)])
    r = train(moons, epochs=4, lr=0.1, schedule={"kind": "cosine"})
    expected = [0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(1, 5)]
    assert [h["lr"] for h in r.history] == pytest.approx(expected, abs=1e-12)


def test_early_stopping_restores_the_best_epoch(moons):
    r = train(moons, epochs=60, lr=0.5, optimizer="momentum",
              early_stopping={"patience": 3, "min_delta": 0.0, "restore_best": True})
    val = [h["val_loss"] for h in r.history]
    best = int(np.argmin(val))
    assert len(r.history) < 60 and len(r.history) == best + 1 + 3
    assert r.final["val_loss"] == val[best]
    assert r.final["epochs_run"] == len(r.history)
    no_restore = train(moons, epochs=60, lr=0.5, optimizer="momentum",
                       early_stopping={"patience": 3, "restore_best": False})
    assert no_restore.final["val_loss"] == no_restore.history[-1]["val_loss"]


def test_l2_and_l1_penalties_pull_against_the_data_loss(moons):
    plain = train(moons, epochs=8)
    l2 = train(moons, epochs=8, l2=0.2)
    l1 = train(moons, epochs=8, l1=0.05)
    assert l2.final["train_loss"] > plain.final["train_loss"] + 0.02
    assert l1.final["train_loss"] > plain.final["train_loss"] + 0.02


def test_norms_full_batch_float64_and_gradient_norms(moons):
    for norm in ("batch", "layer"):
        r = train(moons, model={"hidden": [16, 16], "norm": norm}, epochs=4)
        assert r.status == "done" and r.final["train_loss"] < r.history[0]["train_loss"] * 1.01
    r = train(moons, batch_size="full", epochs=10, lr=0.5, dtype="float64")
    assert r.status == "done"
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    assert {"grad_norm/hidden1", "grad_norm/output"} <= set(r.history[0])
    assert all(h["grad_norm/output"] > 0 for h in r.history)


def test_divergence_is_reported_not_raised(moons):
    r = train(moons, lr=1e15, epochs=5)
    assert r.status == "diverged" and "epoch" in r.error
    assert not math.isfinite(r.history[-1]["train_loss"])


def test_decision_boundary_artifact_for_2d_inputs(moons):
    r = train(moons, epochs=3)
    z = np.load(__import__("io").BytesIO(r.artifacts["decision_boundary.npz"]), allow_pickle=False)
    assert z["zz"].shape == (200, 200) and set(np.unique(z["zz"])) <= {0, 1}
    assert z["x"].shape == (100, 2) and list(z["classes"]) == ["upper", "lower"]
