"""Tables derived from one declaration at the source, so a new optimizer, kind or field cannot leave them stale:
the optimizers' train keys (engines/_common.OPTIMIZER_KEYS, read by the report's empty cells), the kinds that
fit without an optimizer (Kind.optimizer), and what a checkpoint keeps of the epoch log (its dataclass fields)."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import torch

from nnstudy.engines._checkpoint import kept_fields, log_state, restore_log
from nnstudy.engines._common import OPTIMIZER_KEYS, EarlyStopper, EpochLog
from nnstudy.kinds import registry
from nnstudy.spec._unused import OPTIMIZER_KEYS as UNUSED_KEYS, no_optimizer_kinds, unused
from nnstudy.spec._schema import TrainConfig

HYPER = {k for read in OPTIMIZER_KEYS.values() for k in read}  # momentum, beta1, beta2, rho, eps, weight_decay


class Reads(dict):
    """A train section that records the keys read from it."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def train_section(optimizer: str) -> Reads:
    return Reads(TrainConfig(optimizer=optimizer).model_dump(mode="json") | {"rho": 0.9})


@pytest.mark.parametrize("optimizer", typing.get_args(TrainConfig.model_fields["optimizer"].annotation))
def test_every_optimizer_of_the_schema_reads_the_keys_it_declares(optimizer):
    from nnstudy.engines._numpy._optim import make_optimizer as numpy_optimizer
    from nnstudy.engines._torch._optim import make_optimizer as torch_optimizer

    tc = train_section(optimizer)
    torch_optimizer([torch.nn.Parameter(torch.zeros(2))], tc)
    assert tc.read & HYPER == set(OPTIMIZER_KEYS[optimizer])
    if optimizer != "lbfgs":  # the NumPy engine has no L-BFGS
        tc = train_section(optimizer)
        numpy_optimizer(tc, lambda epoch: 0.1)
        assert tc.read & HYPER == set(OPTIMIZER_KEYS[optimizer])
    for key, readers in UNUSED_KEYS.items():  # the report's table is the same declaration
        spec = {"model": {"kind": "mlp"}, "train": {"optimizer": optimizer}}
        assert unused({}, key, spec) is (optimizer not in readers)


def test_kinds_without_an_optimizer_are_declared_by_the_kinds():
    kinds = registry()
    assert no_optimizer_kinds() >= {"pca", "som", "ols", "ard", "svr", "random_forest", "xgboost"}
    for name in no_optimizer_kinds():  # none of them trains through the engines' optimizers: each has its own loop
        assert set(kinds[name].engines) <= set(kinds[name].train), name  # classical, or given's evaluation
        assert unused({}, "train.lr", {"model": {"kind": name}})
    assert not unused({}, "train.lr", {"model": {"kind": "rbm"}})  # contrastive divergence at train.lr


def test_a_checkpoint_keeps_every_field_of_the_epoch_log_but_its_settings():
    tc = {"early_stopping": {"patience": 2, "min_delta": 0.0, "restore_best": True}, "log_every_steps": 2}
    log = EpochLog(tc, lambda *a: None)
    for obj in (log, log.stopper):  # every attribute set is a declared field: a new one cannot be forgotten
        assert set(vars(obj)) == {f.name for f in dataclasses.fields(obj)}, type(obj).__name__
    assert set(kept_fields(log.stopper)) == {"best", "best_epoch", "wait", "state"}
    model = torch.nn.Linear(2, 1)
    for epoch, loss in enumerate([1.0, 0.5, 0.75], start=1):
        log.record_steps(epoch, [loss, loss / 2, loss / 4], lr=0.1 * epoch)
        log.record(epoch, {"train_loss": loss, "val_loss": loss}, 0.01 * epoch, model)
    fresh = EpochLog(tc, lambda *a: None)
    restore_log(fresh, log_state(log))
    for name in kept_fields(log):
        if name != "stopper":
            assert getattr(fresh, name) == getattr(log, name), name
    assert (fresh.stopper.best, fresh.stopper.best_epoch, fresh.stopper.wait) == (0.5, 2, 1)
    assert fresh.step_rows == log.step_rows and fresh.step_rows[0] == (2, 1, 0.75, 0.1)
    assert isinstance(EarlyStopper(tc["early_stopping"]), EarlyStopper)


def test_scikit_learns_mlp_reads_the_optimizer_keys_of_its_solver():
    from nnstudy.engines._classical._sklearn_mlp import build

    tc = Reads(TrainConfig().model_dump(mode="json") | {"batch_size": 8, "epochs": 1})
    for solver in ("adam", "sgd", "lbfgs"):
        spec = {"model": {"kind": "sklearn_mlp", "solver": solver}, "train": {"optimizer": "sgd"}}
        mlp = build({"hidden": [4], "activation": "relu", "solver": solver, "alpha": 1e-4}, tc, "classification", 0, 8)
        read = {"momentum": mlp.momentum, "beta1": mlp.beta_1, "beta2": mlp.beta_2, "eps": mlp.epsilon}
        assert read == {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # passed through, as declared
        for key in ("momentum", "beta1", "beta2", "eps", "weight_decay", "rho"):
            assert unused({}, f"train.{key}", spec) is (key not in {"adam": ("beta1", "beta2", "eps"),
                                                                     "sgd": ("momentum",), "lbfgs": ()}[solver])
        assert mlp.learning_rate_init == tc["lr"]
        assert unused({}, "train.lr", spec) is (solver == "lbfgs")  # scikit-learn: "only used when solver is sgd or adam"
    assert not unused({}, "train.eps", {"model": {"kind": "sklearn_mlp"}, "train": {}})  # solver adam by default
    assert not unused({}, "train.lr", {"model": {"kind": "mlp"}, "train": {"optimizer": "lbfgs"}})  # torch's takes lr
