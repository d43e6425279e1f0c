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
        leaves = list(_leaves(v, cls, info.field_name))
        if any(isinstance(x, bool) for x, _ in leaves) and not _admits(cls, info.field_name):
            got = "true" if any(x is True for x, _ in leaves) else "false"
            takes = frozenset().union(*(t for x, t in leaves if isinstance(x, bool)))
            raise ValueError(f"input should be {' or '.join(_wanted(takes, TEXT)) or 'a number'}, not a boolean "
                             f"(got {got})")
        for x, takes in leaves:
            if ANY in takes or TEXT in takes or not takes & {NUMBER, BOOL}:
                continue  # text, or no scalar at all (a table, a list): pydantic's own message
            if (isinstance(x, str) and NAMED + x not in takes) or (_is_number(x) and NUMBER not in takes):
                want = _wanted(takes, BOOL)
                what = "a string" if isinstance(x, str) else "a number"
                raise ValueError(f"input should be {' or '.join(want)}, not {what} (got {x!r})")
        return v


def _wanted(takes: frozenset[str], other: str) -> list[str]:
    """What a field takes, for its message: a number and `other` (text or a boolean) where it takes them, then
    the names it allows."""
    return [t for t in (NUMBER, other) if t in takes] + sorted(repr(t[1:]) for t in takes if t[0] == NAMED)


def _leaves(v: Any, cls: type[BaseModel], field: str, depth: int = 0):
    """Each scalar inside v (lists nested to any depth) with what the field's type allows at its depth."""
    if not isinstance(v, list):
        yield v, _takes(cls, field, depth)
        return
    for x in v:
        yield from _leaves(x, cls, field, depth + 1)


@functools.cache
def _admits(cls: type[BaseModel], field: str) -> bool:
    return _admits_bool(cls.model_fields[field].annotation)


@functools.cache
def _takes(cls: type[BaseModel], field: str, depth: int) -> frozenset[str]:
    """The scalars a field takes `depth` lists deep (read once per field and depth, not per value)."""
    types = [cls.model_fields[field].annotation]
    for _ in range(depth):
        types = [e for t in types for e in element_types(t)]
    return frozenset().union(*(scalars(t) for t in types))


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


def element_types(annotation: Any) -> list[Any]:
    """The types an element of a list of this type may have (none: not a list)."""
    if annotation is Any:
        return [Any]
    origin = get_origin(annotation)
    if origin is list:
        args = get_args(annotation)
        return [args[0] if args else Any]
    if origin in (Literal, dict, tuple, set) or isinstance(annotation, type):
        return []
    return [e for a in get_args(annotation) for e in element_types(a)]
