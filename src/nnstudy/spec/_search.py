"""The ``[search]`` table: random, Bayesian (TPE) or grid search over dotted keys, on a seed-averaged objective.

    [search]
    method = "tpe"                       # random | tpe | grid
    trials = 30                          # configurations to try, each trained for every seed of [trials]
    metric = "val_accuracy"              # default: val_accuracy (classification), val_mse (regression)
    objective = "lcb"                    # mean | lcb (mean - SE when maximizing, mean + SE when minimizing)
    pruner = "median"                    # median: stop a configuration whose seed-mean validation curve
                                         # is below the median of the earlier ones; none
    [search.space]
    "train.lr" = { low = 1e-3, high = 1.0, log = true }
    "model.dropout" = { choices = [0.0, 0.2, 0.5] }
    "model.hidden" = { width = { low = 32, high = 512, int = true }, depth = { low = 1, high = 3, int = true } }
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ..errors import StudyError
from ._scalars import TypedScalars

PER_EPOCH_PREFIXES = ("train_", "val_", "test_")
MAX_GRID = 100_000


class _Table(TypedScalars):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Range(_Table):
    """Numbers from low to high: floats, or whole numbers with ``int = true``; ``log`` samples log-uniformly."""

    low: float
    high: float
    log: bool = False
    step: Annotated[float, Field(gt=0)] | None = None
    int: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "Range":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0 (got {self.low:g})")
        if self.int and (self.low != int(self.low) or self.high != int(self.high)
                         or (self.step is not None and self.step != int(self.step))):
            raise ValueError("int = true needs whole numbers for low, high and step")
        if self.log and self.step not in (None, 1):
            raise ValueError("log = true and step do not go together")
        if self.step is not None and self.step > self.high - self.low:
            raise ValueError(f"step ({self.step:g}) is more than high - low ({self.high - self.low:g}), so the range "
                             f"holds low alone: give a smaller step or {{ choices = [{self.low:g}] }}")
        return self

    def count(self) -> int | None:
        """How many values `values` lists, counted without listing them; None for a continuous range."""
        if self.int:
            return len(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        return int(math.floor(min((self.high - self.low) / self.step, 2.0 ** 63) + 1e-9)) + 1

    def values(self) -> list[float | int] | None:
        """Every value, when the range is finite (whole numbers, or a step); else None."""
        if self.int:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        return [round(self.low + i * self.step, 12) for i in range(self.count())]

    def ends(self) -> list[float | int]:
        return [int(self.low), int(self.high)] if self.int else [self.low, self.high]


class Choices(_Table):
    """One of the listed values (any TOML value: numbers, strings, lists such as hidden layer widths)."""

    choices: Annotated[list[Any], Field(min_length=1)]

    @field_validator("choices")
    @classmethod
    def _distinct(cls, v: list[Any]) -> list[Any]:
        shown = [json.dumps(c, sort_keys=True) for c in v]
        if len(set(shown)) != len(shown):
            raise ValueError("choices repeat")
        return v

    def count(self) -> int:
        return len(self.choices)

    def values(self) -> list[Any]:
        return list(self.choices)

    def ends(self) -> list[Any]:
        return list(self.choices)


class Layers(_Table):
    """A list of equal widths, e.g. ``model.hidden``: ``depth`` layers of ``width`` units."""

    width: Range
    depth: Range

    @model_validator(mode="after")
    def _whole(self) -> "Layers":
        for name, r in (("width", self.width), ("depth", self.depth)):
            if not r.int or r.low < 1:
                raise ValueError(f"{name}: give int = true and low >= 1")
        return self

    def count(self) -> int:
        return self.depth.count() * self.width.count()

    def values(self) -> list[list[int]]:
        return [[w] * d for d in self.depth.values() for w in self.width.values()]

    def ends(self) -> list[list[int]]:
        return [[w] * d for d in self.depth.ends() for w in self.width.ends()]


Dimension = Union[Range, Choices, Layers]


def _dimension(key: str, spec: Any) -> Dimension:
    from ._load import explain

    if not isinstance(spec, dict):
        raise ValueError(f"{key}: must be a table such as {{ low = 1e-4, high = 1, log = true }} or "
                         "{ choices = [...] }")
    cls = Choices if "choices" in spec else Layers if ("width" in spec or "depth" in spec) else Range
    try:
        return cls.model_validate(spec)
    except ValidationError as e:
        raise ValueError(f"{key}: {explain(e, root=cls).removeprefix('(top level): ')}") from None


class SearchConfig(_Table):
    """A search over ``space`` instead of a ``[sweep]`` grid; inactive while ``space`` is empty."""

    method: Literal["random", "tpe", "grid"] = "tpe"
    trials: Annotated[int, Field(ge=1, le=100_000)] = 20
    metric: str | None = None
    direction: Literal["max", "min"] | None = None
    objective: Literal["mean", "lcb"] = "mean"
    pruner: Literal["median", "none"] = "none"
    batch: Annotated[int, Field(ge=1, le=1000)] = 1
    sampler_seed: Annotated[int, Field(ge=0, lt=2**32)] = 0  # numpy seeds the sampler: below 2**32
    space: dict[str, Dimension] = {}

    @field_validator("space", mode="before")
    @classmethod
    def _dimensions(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {key: _dimension(key, spec) for key, spec in v.items()}

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None) -> str | None:
        from ._schema import CLASSIFICATION_METRICS, REGRESSION_METRICS

        known = list(dict.fromkeys(CLASSIFICATION_METRICS + REGRESSION_METRICS))
        if v is not None and v not in known:
            raise ValueError(f"unknown metric {v!r} (allowed: {', '.join(known)})")
        return v

    @field_validator("batch")
    @classmethod
    def _batch_within_trials(cls, v: int, info: ValidationInfo) -> int:
        trials = info.data.get("trials")
        if trials is not None and v > trials:
            raise ValueError(f"{v} configurations at once is more than the {trials} of search.trials: give "
                             "batch <= trials")
        return v

    @property
    def active(self) -> bool:
        return bool(self.space)

    def resolved_metric(self, task: str) -> str:
        return self.metric or ("val_mse" if task == "regression" else "val_accuracy")

    def resolved_direction(self, task: str) -> str:
        return self.direction or ("max" if self.resolved_metric(task).endswith("accuracy") else "min")

    def grid_size(self) -> int:
        return math.prod(d.count() for d in self.space.values())


def check_search(study, raw: dict, label: str) -> None:
    """The rules of a [search] table that need the rest of the file; one line naming the key."""
    search: SearchConfig = study.search
    if "search" in raw and not search.active:
        raise StudyError(f'{label}: search.space: name at least one key to search, e.g. '
                         '"train.lr" = { low = 1e-4, high = 1, log = true }')
    if not search.active:
        return
    if any(study.grids()):
        raise StudyError(f"{label}: search: a study has either [sweep] or [search], not both "
                         "(search a swept key with { choices = [...] })")
    from ..data import info
    from ._schema import CLASSIFICATION_METRICS, REGRESSION_METRICS

    task = info(study.data).task
    metric = search.resolved_metric(task)
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if metric not in allowed:
        raise StudyError(f"{label}: search.metric: {metric!r} is not a metric of a {task} study "
                         f"(allowed: {', '.join(allowed)})")
    if search.pruner == "median" and (not metric.startswith(PER_EPOCH_PREFIXES) or metric == "train_time_s"):
        raise StudyError(f"{label}: search.pruner: {search.metric!r} is not recorded per epoch; "
                         'use pruner = "none" or a train_/val_/test_ metric')
    if search.objective == "lcb" and len(study.trials.seed_list()) < 2:
        raise StudyError(f"{label}: search.objective: lcb needs at least 2 seeds to estimate a standard error, "
                         'and [trials] seeds gives 1 seed: give seeds >= 2 or objective = "mean"')
    if search.method == "grid":
        for key, dim in search.space.items():
            if dim.count() is None:
                raise StudyError(f"{label}: search.space.{key}: a grid needs choices, int = true or a step")
        if search.grid_size() > MAX_GRID:
            raise StudyError(f"{label}: search.space: the grid has {search.grid_size():,} points "
                             f"(at most {MAX_GRID:,})")
        if search.trials > search.grid_size():
            raise StudyError(f"{label}: search.trials: {search.trials} is more than the "
                             f"{search.grid_size()} points of the grid")
    base = base_config(study)
    for key, dim in search.space.items():
        check_key(base, key, label)
        resolved = [_resolved_end(base, key, value, label) for value in dim.ends()]
        if isinstance(dim, Range) and not dim.int:
            check_fractions_taken(resolved, key, dim, label)


def _resolved_end(base: dict, key: str, value: Any, label: str) -> dict[str, Any]:
    """The study at one of the key's choices or range ends; an error names the entry and the value."""
    from ._load import set_dotted, validate

    raw = copy.deepcopy(base)
    set_dotted(raw, key, value, label, origin="search.space")
    try:
        return validate(raw, label).model_dump(mode="json")
    except StudyError as e:
        said = str(e).removeprefix(f"{label}: ").removeprefix(f"{key}: ")
        raise StudyError(f"{label}: search.space.{key}: the value {json.dumps(value)}: {said}") from None


def check_fractions_taken(resolved: list[dict[str, Any]], key: str, dim: Range, label: str) -> None:
    """A range without int = true draws fractions: a key that holds whole numbers (train.epochs) would take
    its ends (1.0 reads as 1) and then fail on the first value drawn between them, after the run began."""
    from ._expand import lookup

    values = [lookup(point, key) for point in resolved]
    if any(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise StudyError(f"{label}: search.space.{key}: {key} takes whole numbers, and this range draws fractions "
                         f"between {dim.low:g} and {dim.high:g}: give int = true")


def base_config(study) -> dict[str, Any]:
    """The study as a dict without its sweep and search: what a point's values are written into."""
    raw = study.model_dump(mode="json")
    raw.pop("sweep", None)
    raw.pop("search", None)
    return raw


def check_key(base: dict, key: str, label: str) -> None:
    from ._expand import own_keyword

    parts = key.split(".")
    if parts[0] not in ("data", "model", "train") or len(parts) < 2:
        raise StudyError(f"{label}: search.space.{key}: only data, model and train keys can be searched "
                         "(e.g. train.lr, model.hidden)")
    if own_keyword(base, key):
        return
    node: Any = base
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise StudyError(f"{label}: search.space.{key}: no such key in the study (e.g. train.lr, model.hidden)")
        node = node[part]


def resolve_point(base: dict, point: dict[str, Any], label: str) -> dict[str, Any]:
    """The validated study (as a dict) with the point's values set, like ``--set`` would."""
    from ._load import set_dotted, validate

    raw = copy.deepcopy(base)
    for key, value in point.items():
        set_dotted(raw, key, value, label, origin="search.space")
    try:
        return validate(raw, label).model_dump(mode="json")
    except StudyError as e:
        where = ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())
        raise StudyError(f"{e} (in the search point {where})") from None


def grid_points(search: SearchConfig) -> list[dict[str, Any]]:
    keys = list(search.space)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(d.values() for d in search.space.values()))]
