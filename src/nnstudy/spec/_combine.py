"""Rules that span sections: which engine, model kind, optimizer and dataset go together.

What a kind itself requires is declared by the kind (nnstudy.kinds): its tasks, its engines, whether it
takes scaled targets, and its own rules (``Kind.check``).
"""

from __future__ import annotations

import json
import math

from .. import kinds
from ..errors import StudyError
from ._schema import NUMPY_OPTIMIZERS, StudyFile


def check_combination(study: StudyFile, label: str) -> None:
    """Raises StudyError (one line, naming the key) for a combination no engine can train."""
    from ..data import info

    model, train, data = study.model, study.train, study.data
    kind = kinds.get(model.kind)
    task = info(data).task
    if train.engine == "numpy" and train.optimizer not in NUMPY_OPTIMIZERS:
        raise StudyError(f"{label}: train.optimizer: {train.optimizer!r} is not available on the numpy engine "
                         f"(allowed: {', '.join(NUMPY_OPTIMIZERS)})")
    if task not in kind.tasks:
        raise StudyError(f"{label}: model.kind: {model.kind!r} needs a {' or '.join(kind.tasks)} dataset; "
                         f"{data.name} is a {task} dataset")
    if data.normalize_target == "standard" and (task != "regression" or not kind.scales_targets):
        why = f"{data.name} is a {task} dataset" if task != "regression" else f"not to {model.kind!r}"
        scaled = [k.name for k in kinds.registry().values() if k.engines == ("classical",) and k.scales_targets]
        raise StudyError(f"{label}: data.normalize_target: applies to regression with the torch and numpy "
                         f"engines and the classical {', '.join(scaled)}; {why}")
    _check_size(kind, model.model_dump(mode="json"), info(data), label)
    if kind.check is not None:
        kind.check(study, label)
    if train.batch_size == 1 and kind.batch_norm(model.model_dump(mode="json")):
        raise StudyError(f"{label}: train.batch_size: batch norm needs batches of two or more samples (it "
                         "normalizes over the batch): raise batch_size or leave batch norm out")
    _check_engine(kind, train.engine, label)
    _check_precision(train, label)
    _check_float32(train, label)
    _check_save_weights(kind, train, label)
    if data.augment and train.engine != "torch":  # the numpy engine trained on the images as they are, unsaid
        raise StudyError(f"{label}: data.augment: the {train.engine} engine does not augment images; leave augment "
                         "out or set engine = \"torch\"")
    if data.augment and train.engine in kind.train:  # autoencoders and GANs: their own loops never augment
        raise StudyError(f"{label}: data.augment: model kind {model.kind!r} trains with its own loop, which does not "
                         "augment images; leave augment out")
    _check_shared_loop(kind, train, label)


MAX_PARAMETERS = 2**31  # 8 GiB of float32 weights, before gradients and optimizer state: no study comes near


def _check_size(kind: kinds.Kind, mc: dict, data, label: str) -> None:
    """A model too large for any machine is refused here, counted from the config; built, it failed each trial."""
    if kind.size is None:
        return
    key, parameters = kind.size(mc, math.prod(data.input_shape), max(data.n_classes, 1))
    if parameters > MAX_PARAMETERS:
        shown = json.dumps(mc[key])
        shown = shown if len(shown) < 80 else shown[:76] + " ..."
        raise StudyError(f"{label}: model.{key}: {shown} gives a model of {_e(parameters)} parameters "
                         f"({4 * parameters / 1e9:,.0f} GB in float32); the limit is 2**31 ({_e(MAX_PARAMETERS)})")


def _e(count: int) -> str:
    return f"{count:.1e}".replace("e+", "e")


def _check_precision(train, label: str) -> None:
    if train.precision != "float32" and (train.engine != "torch" or train.dtype != "float32"):
        raise StudyError(f'{label}: train.precision = "{train.precision}": the torch engine\'s float32 training '
                         f'has it (found engine = "{train.engine}", dtype = "{train.dtype}")')


FLOAT32_MAX = 3.4028234663852886e38
SCALARS = ("lr", "l1", "l2", "weight_decay", "grad_noise", "eps")  # given to torch's float32 arithmetic as they are


def _check_float32(train, label: str) -> None:
    """A setting beyond float32's range is no number a float32 step can use (torch raised converting it)."""
    if train.dtype != "float32" or train.engine not in ("torch", "numpy") or train.function:
        return
    for key in SCALARS:
        value = getattr(train, key)
        if value > FLOAT32_MAX:
            raise StudyError(f"{label}: train.{key}: {value:g} is beyond float32 (at most {FLOAT32_MAX:.3g}), the "
                             f'dtype the study trains in; lower it or set train.dtype = "float64"')


def _check_save_weights(kind: kinds.Kind, train, label: str) -> None:
    """The torch engine's shared loop stores the weights; the numpy and classical engines and the kinds with a
    torch loop of their own (autoencoders, GANs) stored nothing, silently. A training function decides itself."""
    if not train.save_weights or train.engine == "function":
        return
    if train.engine != "torch":
        raise StudyError(f'{label}: train.save_weights: the torch engine stores the trained weights '
                         f'(weights.safetensors); the {train.engine} engine does not: leave save_weights out')
    if "torch" in kind.train:
        raise StudyError(f"{label}: train.save_weights: model kind {kind.name!r} trains with its own loop, which "
                         f"stores no weights: leave save_weights out")


def _check_shared_loop(kind: kinds.Kind, train, label: str) -> None:
    """Per-step records, a budget in steps and the plateau schedule live in the torch and numpy engines'
    shared loops; a kind with its own loop (autoencoders, GANs, given networks) or another engine refuses them."""
    asked = [key for key, on in (("train.steps", train.steps is not None),
                                 ("train.log_every_steps", train.log_every_steps is not None),
                                 ('train.schedule.kind = "plateau"', train.schedule.kind == "plateau"),
                                 (f'train.precision = "{train.precision}"', train.precision != "float32")) if on]
    if asked and (train.engine not in ("torch", "numpy") or train.engine in kind.train):
        where = (f"model kind {kind.name!r} trains with its own loop" if train.engine in kind.train
                 else f"the {train.engine} engine")
        raise StudyError(f"{label}: {asked[0]}: only the torch and numpy engines' shared training loop has it, "
                         f"not {where}")


def _check_engine(kind: kinds.Kind, engine: str, label: str) -> None:
    if engine in kind.engines:
        return
    trained_by = [k.name for k in kinds.registry().values() if engine in k.engines]
    if not trained_by:  # an engine of no kind (a training function) takes any section
        return
    if len(kind.engines) == 1:
        raise StudyError(f"{label}: train.engine: model kind {kind.name!r} is trained by the {kind.engines[0]} "
                         f"engine: set engine = \"{kind.engines[0]}\"")
    raise StudyError(f"{label}: model.kind: {kind.name!r} is not a {engine} method "
                     f"(engine \"{engine}\" trains: {', '.join(trained_by)})")
