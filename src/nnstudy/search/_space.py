"""[search.space] as Optuna distributions, and Optuna's parameters back into dotted-key values."""

from __future__ import annotations

import json
from typing import Any

import optuna.distributions as od

from ..spec._search import Choices, Layers, Range, SearchConfig


def _range(r: Range) -> od.BaseDistribution:
    if r.int:
        return od.IntDistribution(int(r.low), int(r.high), log=r.log, step=int(r.step or 1))
    return od.FloatDistribution(r.low, r.high, log=r.log, step=r.step)


def _shown(value: Any) -> Any:
    """Optuna's categorical choices are scalars: lists and tables are kept as their JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def distributions(search: SearchConfig) -> dict[str, od.BaseDistribution]:
    """Optuna parameter name -> distribution; a Layers key gives two parameters, `key:width`, `key:depth`."""
    out: dict[str, od.BaseDistribution] = {}
    for key, dim in search.space.items():
        if isinstance(dim, Choices):
            out[key] = od.CategoricalDistribution([_shown(c) for c in dim.choices])
        elif isinstance(dim, Layers):
            out[f"{key}:width"], out[f"{key}:depth"] = _range(dim.width), _range(dim.depth)
        else:
            out[key] = _range(dim)
    return out


def fully_proposed(params: dict[str, Any], search: SearchConfig) -> bool:
    """Whether Optuna stored every parameter of a proposal (a run killed inside `ask` leaves only some)."""
    return distributions(search).keys() <= params.keys()


def point_of(params: dict[str, Any], search: SearchConfig) -> dict[str, Any]:
    """Optuna's parameters -> {dotted key: value} in [search.space] order."""
    point: dict[str, Any] = {}
    for key, dim in search.space.items():
        if isinstance(dim, Choices):
            point[key] = next(c for c in dim.choices if _shown(c) == params[key])
        elif isinstance(dim, Layers):
            point[key] = [int(params[f"{key}:width"])] * int(params[f"{key}:depth"])
        else:
            point[key] = int(params[key]) if dim.int else float(params[key])
    return point


def params_of(point: dict[str, Any], search: SearchConfig) -> dict[str, Any]:
    """The inverse of `point_of` (grid points -> GridSampler's search space)."""
    params: dict[str, Any] = {}
    for key, dim in search.space.items():
        if isinstance(dim, Layers):
            params[f"{key}:width"], params[f"{key}:depth"] = point[key][0], len(point[key])
        else:
            params[key] = _shown(point[key])
    return params
