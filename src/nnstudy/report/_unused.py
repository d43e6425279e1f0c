"""Which swept keys a configuration does not use (issue 19 item 10): momentum for Adam, lr for XGBoost. Their
cells are left empty in its row of the results table, so a row shows only what trained it."""

from __future__ import annotations

from typing import Any

# train keys read only by some optimizers (engines/_torch/_optim.py)
OPTIMIZER_KEYS = {"train.momentum": ("momentum", "nesterov"), "train.beta1": ("adam", "adamw"),
                  "train.beta2": ("adam", "adamw"), "train.rho": ("rmsprop", "adadelta")}
# classical kinds that fit without a gradient-descent optimizer: none of these train keys reaches them
NO_OPTIMIZER_KINDS = ("pca", "som", "ard", "ols", "svr", "random_forest", "xgboost")
OPTIMIZER_TRAIN_KEYS = ("train.lr", "train.optimizer", *OPTIMIZER_KEYS, "train.schedule.kind")


def _setting(config: dict[str, Any], spec: dict, dotted: str) -> Any:
    """A configuration's value of ``dotted``: swept (in ``config``), else the study file's."""
    if dotted in config and config[dotted] is not None:
        return config[dotted]
    node: Any = spec
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def unused(config: dict[str, Any], key: str, spec: dict) -> bool:
    """True when the configuration's training does not read swept key ``key``."""
    if key in OPTIMIZER_TRAIN_KEYS and _setting(config, spec, "model.kind") in NO_OPTIMIZER_KINDS:
        return True
    users = OPTIMIZER_KEYS.get(key)
    optimizer = _setting(config, spec, "train.optimizer")
    return users is not None and isinstance(optimizer, str) and optimizer not in users
