"""TOML values are typed: a number is not read from a string, nor a boolean from a number or a string.

pydantic's lax mode read ``lr = "0.1"`` as 0.1, ``epochs = true`` as 1 and ``save_weights = "yes"`` or ``1`` as
true, while ``batch_size = "32"`` was refused. Each key's annotation says which scalars it takes."""

from __future__ import annotations

import functools
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationInfo, field_validator

NUMBER, BOOL, TEXT, ANY = "a number", "true or false", "text", "any"
NAMED = "="  # prefix of a string a Literal names: "=auto"


class TypedScalars(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _typed_scalars(cls, v: Any, info: ValidationInfo) -> Any:
        admits_bool, takes_scalar, takes_element = _takes(cls, info.field_name)
        values = v if isinstance(v, list) else [v]
        if not admits_bool and any(isinstance(x, bool) for x in values):
            got = "true" if True in values else "false"
            raise ValueError(f"input should be a number, not a boolean (got {got})")
        takes = takes_element if isinstance(v, list) else takes_scalar
        if ANY in takes or TEXT in takes or not takes & {NUMBER, BOOL}:
            return v  # text, or no scalar at all (a table, a list): pydantic's own message
        for x in values:
            if (isinstance(x, str) and NAMED + x not in takes) or (_is_number(x) and NUMBER not in takes):
                want = [t for t in (NUMBER, BOOL) if t in takes] + sorted(repr(t[1:]) for t in takes if t[0] == NAMED)
                what = "a string" if isinstance(x, str) else "a number"
                raise ValueError(f"input should be {' or '.join(want)}, not {what} (got {x!r})")
        return v


@functools.cache
def _takes(cls: type[BaseModel], field: str) -> tuple[bool, frozenset[str], frozenset[str]]:
    """Whether a field takes a boolean, and which scalars it takes alone and in a list (read once per field)."""
    annotation = cls.model_fields[field].annotation
    return _admits_bool(annotation), frozenset(scalars(annotation)), frozenset(elements(annotation))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _admits_bool(annotation: Any) -> bool:
    """Whether a field's type takes a boolean anywhere in it (bool, Any, a Literal of booleans)."""
    if annotation is bool or annotation is Any:
        return True
    if get_origin(annotation) is Literal:
        return any(isinstance(a, bool) for a in get_args(annotation))
    return any(_admits_bool(a) for a in get_args(annotation))


def scalars(annotation: Any) -> set[str]:
    """What a scalar value of this type may be: NUMBER, BOOL, TEXT, ANY or a NAMED string (none: a list, a table)."""
    if annotation is Any:
        return {ANY}
    if annotation is bool:
        return {BOOL}
    if annotation in (int, float):
        return {NUMBER}
    if annotation is str:
        return {TEXT}
    origin = get_origin(annotation)
    if origin is Literal:
        return {BOOL if isinstance(a, bool) else NAMED + a if isinstance(a, str) else NUMBER
                for a in get_args(annotation)}
    if origin in (list, dict, tuple, set) or isinstance(annotation, type):
        return set()
    return set().union(*(scalars(a) for a in get_args(annotation)))  # Union, Optional, Annotated


def elements(annotation: Any) -> set[str]:
    """What an element of a list of this type may be."""
    if annotation is Any:
        return {ANY}
    origin = get_origin(annotation)
    if origin is list:
        args = get_args(annotation)
        return scalars(args[0]) if args else {ANY}
    if origin in (Literal, dict, tuple, set) or isinstance(annotation, type):
        return set()
    return set().union(*(elements(a) for a in get_args(annotation)))
