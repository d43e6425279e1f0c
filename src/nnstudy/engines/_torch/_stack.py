"""Which torch trials can share one stacked program, and how many at once.

A kind says whether it stacks (``Kind.stacking``: "mlp" hand-batched matmuls, _stack_net; "vmap"
torch.func over copies of one module, _stack_vmap) and may refine the key per trial (``Kind.stack_key``).
"""

from __future__ import annotations

import json
from typing import Any

from ...kinds import of
from ...spec import Trial

STACKABLE = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")  # elementwise
MAX_STACK = {"cuda": 256, "cpu": 64}
MAX_DEEP_BATCH = 256  # above this a vmapped convolution is no faster than one trial after another
PER_TRIAL = ("lr", "momentum", "beta1", "beta2", "eps", "rho", "weight_decay", "l1", "l2", "grad_noise",
             "early_stopping", "schedule", "epochs", "log_every_steps")  # train keys each trial of a stack keeps
# for itself; train.steps is shared: the trials of a stack take their steps together


def stack_key(trial: Trial) -> Any:
    """Equal keys: same tensor shapes and program (data, architecture, batch size, dtype, optimizer).
    None: this trial trains alone (a kind that does not stack, L-BFGS, augmented batches, transfer)."""
    kind = of(trial.config["model"])
    if kind.stack_key is not None:
        return kind.stack_key(trial)
    if kind.stacking == "mlp":
        return _key(trial, hand_batched=True)
    if kind.stacking == "vmap":
        return vmap_stack_key(trial)
    return None


def hand_batched_key(trial: Trial) -> Any:
    """The key of a kind stacked as hand-batched matmuls (None: alone)."""
    return _key(trial, hand_batched=True)


def vmap_stack_key(trial: Trial) -> Any:
    """The key of a kind stacked by torch.func.vmap (None: alone)."""
    tc = trial.config["train"]
    if tc["batch_size"] == "full" or tc["batch_size"] > MAX_DEEP_BATCH:
        return None
    return _key(trial, hand_batched=False)


def _key(trial: Trial, hand_batched: bool) -> Any:
    mc, tc = trial.config["model"], trial.config["train"]
    if tc["optimizer"] not in STACKABLE or trial.config["data"].get("augment") or mc.get("weights"):
        return None
    model = {k: v for k, v in mc.items() if k != "dropout"}  # the rate is per trial; its layers' presence is not
    if not hand_batched:
        model["dropout_layers"] = mc.get("dropout", 0.0) > 0
    train = {k: v for k, v in tc.items() if k not in PER_TRIAL}
    return json.dumps([trial.config["data"], model, train], sort_keys=True)


def max_stack(device: str) -> int:
    return MAX_STACK["cuda" if device.startswith("cuda") else "cpu"]
