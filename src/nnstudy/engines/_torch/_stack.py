"""Which torch trials can share one stacked program, and how many at once."""

from __future__ import annotations

import json
from typing import Any

from ...spec import Trial
from ._stack_optim import STACKABLE

MLP_KINDS = ("mlp", "logistic", "perceptron")  # hand-batched matmuls (_stack_net)
STACKABLE_KINDS = (*MLP_KINDS, "cnn", "resnet18", "vit")  # the deep kinds by torch.func.vmap (_stack_vmap)
MAX_STACK = {"cuda": 256, "cpu": 64}
MAX_DEEP_BATCH = 256  # above this a vmapped convolution is no faster than one trial after another
PER_TRIAL = ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "l1", "l2", "grad_noise",
             "early_stopping", "schedule", "epochs")  # train keys each trial of a stack keeps for itself


def stack_key(trial: Trial) -> Any:
    """Equal keys: same tensor shapes and program (data, architecture, batch size, dtype, optimizer).
    None: this trial trains alone (another model kind, L-BFGS, augmented batches, transfer)."""
    mc, tc = trial.config["model"], trial.config["train"]
    if (mc["kind"] not in STACKABLE_KINDS or tc["optimizer"] not in STACKABLE or trial.config["data"].get("augment")
            or mc.get("weights")):
        return None
    if mc["kind"] not in MLP_KINDS and (tc["batch_size"] == "full" or tc["batch_size"] > MAX_DEEP_BATCH):
        return None
    model = {k: v for k, v in mc.items() if k != "dropout"}  # the rate is per trial; its layers' presence is not
    if mc["kind"] not in MLP_KINDS:
        model["dropout_layers"] = mc.get("dropout", 0.0) > 0
    train = {k: v for k, v in tc.items() if k not in PER_TRIAL}
    return json.dumps([trial.config["data"], model, train], sort_keys=True)


def max_stack(device: str) -> int:
    return MAX_STACK["cuda" if device.startswith("cuda") else "cpu"]
