"""Which torch trials can share one stacked program, and how many at once."""

from __future__ import annotations

import json
from typing import Any

from ...spec import Trial
from ._stack_optim import STACKABLE

STACKABLE_KINDS = ("mlp", "logistic", "perceptron")
MAX_STACK = {"cuda": 256, "cpu": 64}
PER_TRIAL = ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "l1", "l2", "grad_noise",
             "early_stopping", "schedule", "epochs")  # train keys each trial of a stack keeps for itself


def stack_key(trial: Trial) -> Any:
    """Equal keys: same tensor shapes and program (data, architecture, batch size, dtype, optimizer).
    None: this trial trains alone (another model kind, L-BFGS)."""
    mc, tc = trial.config["model"], trial.config["train"]
    if mc["kind"] not in STACKABLE_KINDS or tc["optimizer"] not in STACKABLE:
        return None
    model = {k: v for k, v in mc.items() if k != "dropout"}
    train = {k: v for k, v in tc.items() if k not in PER_TRIAL}
    return json.dumps([trial.config["data"], model, train], sort_keys=True)


def max_stack(device: str) -> int:
    return MAX_STACK["cuda" if device.startswith("cuda") else "cpu"]
