"""Which swept keys a configuration does not use (issue 19 item 10): momentum for Adam, lr for XGBoost. Their
cells are left empty in its row of the results table, so a row shows only what trained it; a study that sets
such a key where no trial reads it is refused (spec/_unread.py)."""

from __future__ import annotations

import json
from typing import Any

from ..engines._common import OPTIMIZER_KEYS as READS


def _readers() -> dict[str, tuple[str, ...]]:
    """train key read only by some optimizers -> those optimizers, from the engines' table."""
    keys = dict.fromkeys(k for read in READS.values() for k in read)
    return {f"train.{k}": tuple(name for name, read in READS.items() if k in read) for k in keys}


OPTIMIZER_KEYS = _readers()  # e.g. "train.momentum" -> ("momentum", "nesterov")
OPTIMIZER_TRAIN_KEYS = ("train.lr", "train.optimizer", *OPTIMIZER_KEYS, "train.schedule.kind")


def no_optimizer_kinds() -> frozenset[str]:
    """Model kinds that fit without a gradient-descent optimizer (Kind.optimizer False: PCA, SOM, OLS, ...):
    none of the OPTIMIZER_TRAIN_KEYS reaches them."""
    from ..kinds import registry

    return frozenset(name for name, kind in registry().items() if not kind.optimizer)


def _setting(config: dict[str, Any], spec: dict, dotted: str) -> Any:
    """A configuration's value of ``dotted``: swept (in ``config``), else the study file's."""
    if dotted in config and config[dotted] is not None:
        return config[dotted]
    node: Any = spec
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def unused(config: dict[str, Any], key: str, spec: dict) -> bool:
    """True when the configuration's training does not read swept key ``key``: an optimizer's key, or a [model]
    key its network leaves unread (spec/_unread.UNREAD_MODEL_KEYS: the channels of an MLP autoencoder, ...)."""
    from ._unread import MODEL_KEYS

    if key in MODEL_KEYS:
        return _model_unread(config, key, spec)
    kind = _setting(config, spec, "model.kind")
    if key in OPTIMIZER_TRAIN_KEYS and kind in no_optimizer_kinds():
        return True
    own = own_optimizer_keys(kind)
    if own is not None and (key in OPTIMIZER_KEYS or key == "train.lr"):
        # the kind picks its optimizer in [model] (scikit-learn's MLP: model.solver; L-BFGS takes no rate)
        model = {**spec.get("model", {}), **{k.removeprefix("model."): v for k, v in config.items()
                                             if k.startswith("model.") and v is not None}}
        return key.removeprefix("train.") not in own(model)
    users = OPTIMIZER_KEYS.get(key)
    if users is None:
        return False
    optimizer = _setting(config, spec, "train.optimizer")
    return isinstance(optimizer, str) and optimizer not in users


def own_optimizer_keys(kind: Any):
    from ..kinds import registry

    found = registry().get(kind) if isinstance(kind, str) else None
    return found.optimizer_keys if found is not None else None


def _model_unread(config: dict[str, Any], key: str, spec: dict) -> bool:
    """Whether the configuration's [model] section, with its kind's defaults, builds nothing that reads ``key``
    (False where the section does not validate alone, e.g. a swept kind beside another kind's base keys)."""
    from ..kinds import registry
    from ._unread import _unread_by

    swept = {k.removeprefix("model."): held(v) for k, v in config.items() if k.startswith("model.") and v is not None}
    section = {"kind": "mlp", **spec.get("model", {}), **swept}
    kind = registry().get(section["kind"]) if isinstance(section["kind"], str) else None
    if kind is None:
        return False
    try:
        model = kind.typed(section).model_dump()
    except ValueError:
        return False
    return _unread_by({**model, "kind": section["kind"]}, key) is not None


def held(v: Any) -> Any:
    """A swept value as the study held it: the report's tables keep lists and tables as JSON text."""
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v
