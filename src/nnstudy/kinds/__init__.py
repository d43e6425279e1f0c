"""Model kinds: one module per kind (or per family of kinds), found by a lazy registry.

To add a kind, write ONE module ``src/nnstudy/kinds/<name>.py`` (or, in an installed package, any
module named by an entry point of the group ``nnstudy.models``, ``mine = "my_package.my_kind"``) holding
its ``[model]`` class and declaring::

    class MineConfig(ModelBase):          # nnstudy.spec._schema.ModelBase: unknown keys are errors
        kind: Literal["mine"] = "mine"
        width: int = 16

    def build(mc, n_in, n_out, input_shape=()):   # mc: the resolved [model] section (a dict)
        from torch import nn                      # heavy imports inside the functions
        return nn.Sequential(nn.Linear(n_in, mc["width"]), nn.ReLU(), nn.Linear(mc["width"], n_out))

    KIND = Kind("mine", MineConfig, build={"torch": build}, stacking="vmap",
                example={"data": {"name": "iris"}, "model": {}, "train": {"epochs": 1}})

(or ``KINDS = [Kind(...), ...]`` for a family). Nothing else lists kinds: built-in modules are found by
scanning this package (modules whose names start with "_" are helpers), plugins by their entry points,
and every engine, validator, report and summary asks the registry; tests/test_kinds_conformance.py
trains every registered kind's example. A kind module must import cheaply (the study-file validator
reads it): no torch at import time. See ``Kind`` for everything a kind can declare.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import StudyError

if TYPE_CHECKING:
    from ..data._dataset import Dataset
    from ..engines._common import Head
    from ..spec import StudyFile, Trial

ENTRY_POINT_GROUP = "nnstudy.models"
BOTH_TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Kind:
    """What makes a model kind special. Every field but ``name`` and ``config`` has a neutral default.

    Functions receive the resolved ``[model]`` section (``mc``: the JSON dict stored with the trial;
    ``kind.typed(mc)`` gives the kind's pydantic config) unless said otherwise.
    """

    name: str  # the value of model.kind
    config: type  # pydantic class of the [model] section (a spec._schema.ModelBase)
    # engine name -> builder. torch: build(mc, n_in, n_out, input_shape) -> nn.Module (ValueError: one
    # line, it cannot fit the data; a plain module is wrapped for the shared loops, engines/_torch/_mlp.py);
    # numpy: build(mc, n_in, n_out, dtype, init_rng, dropout_rng, exact_init) -> engines/_numpy Network (a
    # builder with an ``input_shape`` keyword also gets the data's sample shape: the ViT's patches need it)
    build: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # engine name -> its own loop train(trial, data, on_epoch, device) -> TrialResult; an engine without
    # an entry here trains the kind with its shared loop and ``build[engine]``
    train: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    tasks: tuple[str, ...] = BOTH_TASKS  # dataset tasks it accepts
    metrics: Callable[[str], tuple[str, ...]] = lambda task: ()  # task -> metrics it adds to the fixed ones
    default_metrics: Mapping[str, list[str]] = field(default_factory=dict)  # task -> report.metrics when unset
    # output layer for the shared loops: head(mc, data) -> engines._common.Head; None: the task's default
    head: Callable[[dict, "Dataset"], "Head"] | None = None
    batch_norm: Callable[[dict], bool] = lambda mc: mc.get("norm") == "batch"  # a batch of 1 breaks it
    # stacking on one device: "mlp" (hand-batched matmuls), "vmap" (torch.func over copies), None (alone)
    stacking: str | None = None
    # refines stacking per trial: stack_key(trial) -> a key (equal keys share a program) or None (alone);
    # None here: the engine's key for ``stacking``
    stack_key: Callable[["Trial"], Any] | None = None
    scales_targets: bool = True  # takes data.normalize_target = "standard" on regression data
    # trained by a gradient-descent optimizer (train.optimizer at train.lr, momentum, beta1, ..., schedule);
    # False: it fits without one and none of those keys reaches it (the report leaves their cells empty)
    optimizer: bool = True
    # optimizer_keys(mc) -> the optimizer's train keys (engines/_common.OPTIMIZER_KEYS' names, and "lr") a kind
    # that picks its optimizer in [model] reads; None: those train.optimizer's declares (the report leaves the
    # rest empty)
    optimizer_keys: Callable[[dict], tuple[str, ...]] | None = None
    check: Callable[["StudyFile", str], None] | None = None  # rules across sections; StudyError (one line)
    # check_data(mc, data, label[, train]) on the loaded data, before the store (StudyError, one line); train:
    # training_numerics(...), for a check_data that takes a fourth argument (check_on_data)
    check_data: Callable[..., None] | None = None
    # what it does with its inputs' layout ("convolves images and signals"): it needs images or signals, and flat
    # inputs (a table's columns) are refused before check_data; a time series' windows (data.lags) are a signal
    laid_out: str | None = None
    # summary(trial, data) -> the nn.Module `nnstudy summary` shows; None: build["torch"]
    summary: Callable[["Trial", "Dataset"], Any] | None = None
    # a tiny study (a dict with data, model and train tables; no study name) that trains it in seconds on
    # the CPU: the conformance suite runs it, and `figures` are what its report draws
    example: Mapping[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()  # figures/*.png its example's report draws beyond the learning curves
    figure_module: str | None = None  # module with jobs(analysis) and PATTERNS that draws them
    code_files: Callable[[dict], list[str]] = lambda mc: []  # files of user code it runs (the start line)
    # stack_note(trials of this kind) -> one line for the start of a run when some that could stack cannot
    stack_note: Callable[[list["Trial"]], str | None] | None = None
    early_stopping: bool = True  # its training reads train.early_stopping (False: a study setting it is refused)
    # the train keys among spec._unread.LOOP_KEYS (epochs, batch_size, l1, l2, grad_noise, dtype, checkpoint_every)
    # that its own loop reads; None: all of them (the shared loops). A study setting one that none of its trials
    # reads is refused
    reads: tuple[str, ...] | None = None
    # its trials draw from their seed (False: a seed changes nothing but a split it draws, data.split_seed =
    # "seed"; several seeds say so at the start: spec/_unread.unseeded_note)
    seeded: bool = True
    # size(mc, n_in, n_out) -> (the [model] key its size grows with, its parameters counted from the config
    # without building it); the validator refuses a model no machine holds. None: a fixed size (resnet18) or
    # the user's own network
    size: Callable[[dict, int, int], tuple[str, int]] | None = None
    # pretraining_epochs(mc) -> the epochs its history counts before train.epochs (stacked_ae's layer-wise
    # pre-training): a progress line's total counts them too
    pretraining_epochs: Callable[[dict], int] = lambda mc: 0

    @property
    def engines(self) -> tuple[str, ...]:
        """Engines that train it: those with its own loop or a builder for their shared loop."""
        return tuple(dict.fromkeys([*self.train, *self.build]))

    def typed(self, mc: dict) -> Any:
        """The resolved [model] section as this kind's pydantic config."""
        return self.config.model_validate(mc)


def dense_parameters(widths: list[int]) -> int:
    """Weights and biases of dense layers through ``widths`` (inputs first, outputs last)."""
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


_registry: dict[str, Kind] | None = None


def _kinds_of(module: ModuleType | Kind, where: str) -> list[Kind]:
    if isinstance(module, Kind):
        return [module]
    found = getattr(module, "KINDS", None) or ([module.KIND] if hasattr(module, "KIND") else [])
    if not found or not all(isinstance(k, Kind) for k in found):
        raise StudyError(f"model kinds: {where} declares no KIND = Kind(...) nor KINDS = [Kind(...)]")
    return list(found)


def _discover() -> dict[str, Kind]:
    from importlib.metadata import entry_points

    out: dict[str, Kind] = {}
    sources: list[tuple[str, Callable[[], Any]]] = [
        (f"{__name__}.{m.name}", lambda m=m: importlib.import_module(f"{__name__}.{m.name}"))
        for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    sources += [(f"entry point {ep.name} = {ep.value}", ep.load) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    for where, load in sources:
        try:
            module = load()
        except Exception as e:  # a broken plugin is named in one line, not a traceback
            raise StudyError(f"model kinds: {where} cannot be loaded: {type(e).__name__}: {e} (fix or uninstall "
                             "the package that declares it)") from None
        for kind in _kinds_of(module, where):
            if kind.name in out:
                raise StudyError(f"model kinds: {kind.name!r} is declared twice (again by {where})")
            out[kind.name] = kind
    return out


def registry() -> dict[str, Kind]:
    global _registry
    if _registry is None:
        _registry = _discover()
    return _registry


def names() -> list[str]:
    return list(registry())


def get(name: str) -> Kind:
    try:
        return registry()[name]
    except KeyError:
        raise StudyError(f"unknown model kind {name!r} (allowed: {', '.join(names())})") from None


class ConfigClasses(Mapping[str, type]):
    """name -> the kind's [model] class, read from the registry when first used (spec.MODEL_KINDS)."""

    def __getitem__(self, name: str) -> type:
        return registry()[name].config

    def __iter__(self):
        return iter(registry())

    def __len__(self) -> int:
        return len(registry())


def added_metrics() -> tuple[str, ...]:
    """Every metric some kind adds, for either task, in registry order."""
    return tuple(dict.fromkeys(m for k in registry().values() for task in BOTH_TASKS for m in k.metrics(task)))


def of(mc: dict) -> Kind:
    """The kind of a resolved [model] section."""
    return get(mc["kind"])


def fits_once(kind: Kind) -> bool:
    """It trains no epochs: one fit (``reads`` without epochs), whatever rows its history gets."""
    return kind.reads is not None and "epochs" not in kind.reads


def planned_epochs(config: dict, n_train: int | None = None) -> int:
    """The units of work a trial of the resolved ``config`` reports as it trains (a run's progress and ETA): its
    epochs, pre-training included; with ``train.steps``, the epochs that budget takes on ``n_train`` training
    samples (``train.epochs`` while that is unknown); 1 for a kind that fits once."""
    mc, tc = config["model"], config["train"]
    kind = of(mc)
    if fits_once(kind):
        return 1
    epochs = tc["epochs"]
    if tc.get("steps") is not None and n_train:
        from ..engines._common import batch_plan

        _, per_epoch = batch_plan(n_train, tc["batch_size"], "batch" if kind.batch_norm(mc) else "none")
        epochs = math.ceil(tc["steps"] / per_epoch)  # as engines/_common.planned_epochs: the last may be partial
    return epochs + kind.pretraining_epochs(mc)


def stored_planned_epochs(config: dict) -> int | None:
    """``planned_epochs`` of a config read back from a store; its ``train.epochs`` alone where its kind cannot
    count its pre-training (a plugin no longer installed, a hand-edited [model] section). None where it plans
    no epochs: its kind trains none (it fits once; ``reads`` without epochs), it holds no train.epochs, or a
    ``train.steps`` budget makes them depend on the training data's size, which the store does not keep."""
    try:
        kind = of(config["model"])
    except (StudyError, LookupError, TypeError, ValueError, AttributeError):
        kind = None
    if kind is not None and fits_once(kind):
        return None
    train = config.get("train")
    if isinstance(train, dict) and train.get("steps") is not None:  # its epochs depend on the data's size
        return None
    try:
        return int(planned_epochs(config))
    except (StudyError, LookupError, TypeError, ValueError, AttributeError):
        train = config.get("train")
        epochs = train.get("epochs") if isinstance(train, dict) else None
        return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else None


def training_numerics(tc: dict[str, Any]) -> dict[str, Any]:
    """What of a trial's resolved [train] section ``Kind.check_data`` is given: engine, dtype and precision."""
    return {"engine": tc["engine"], "dtype": tc.get("dtype", "float32"), "precision": tc.get("precision") or "float32"}


def machine_memory() -> int | None:
    """Bytes of memory this machine (or the container's cgroup limit, when lower) has; None where unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def check_weights_fit(mc: dict, data: "Dataset", label: str, numerics: dict[str, Any], trained: bool = False) -> None:
    """A network whose weights alone (trained by gradients: and their gradients, the least its training holds)
    exceed this machine's memory, counted on the loaded data's input size (a user's file or a transform decides
    it), is refused before training: built, it ran out of memory."""
    kind = of(mc)
    memory = machine_memory()
    if kind.size is None or memory is None:
        return
    n_in = math.prod(data.input_shape)
    key, parameters = kind.size(mc, n_in, max(data.n_outputs, 1))
    dtype = numerics.get("dtype", "float32")
    copies = 2 if trained and kind.optimizer else 1
    need = copies * parameters * (8 if dtype == "float64" else 4)
    if need > memory:
        shown = json.dumps(mc[key])
        shown = shown if len(shown) < 80 else shown[:76] + " ..."
        raise StudyError(f"{label}: model.{key}: {shown} needs {need / 1e9:,.1f} GB for its weights"
                         f"{' and their gradients' if copies == 2 else ''} ({parameters:,} "
                         f"{dtype} parameters on {n_in:,} inputs), more than this machine's {memory / 1e9:,.1f} GB "
                         "of memory")


def check_on_data(mc: dict, data: "Dataset", label: str, numerics: dict[str, Any], trained: bool = False) -> None:
    """The model kind's ``check_data`` on the loaded data, given ``training_numerics``; one of three arguments (a
    plugin's, say) without them. First, that its weights (`trained`: and their gradients) fit in this machine's
    memory."""
    kind = of(mc)
    if kind.laid_out is not None and len(data.input_shape) == 1 and not data.series:
        raise StudyError(f'{label}: model.kind = "{kind.name}" {kind.laid_out}; {data.name} has flat inputs '
                         f"({data.input_shape[0]} features)")
    check_weights_fit(mc, data, label, numerics, trained)
    check = kind.check_data
    if check is None:
        return
    if len(inspect.signature(check).parameters) >= 4:
        check(mc, data, label, numerics)
    else:
        check(mc, data, label)


__all__ = ["ConfigClasses", "Kind", "added_metrics", "fits_once", "get", "names", "of", "planned_epochs", "registry",
           "stored_planned_epochs", "check_on_data", "check_weights_fit", "machine_memory", "training_numerics",
           "ENTRY_POINT_GROUP"]
