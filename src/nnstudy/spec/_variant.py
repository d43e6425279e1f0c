"""A study's identity: a run with ``--set`` / ``--sweep`` (or ``set=`` / ``sweep=``) is a variant with a name
of its own (``batch-size@epochs=1``, or ``--as NAME``), so it never touches the original's trials or report."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..errors import StudyError
from ._schema import VARIANT_PATTERN

MAX_NAME = 100  # the store's column


def variant_name(base: str, overrides: dict[str, Any] | None, sweep: dict[str, list[Any]] | None,
                 as_name: str | None, label: str) -> tuple[str, str | None]:
    """(the name the run is stored under, the study it is a variant of or None). Keys of [study] (a name, a
    description) do not make a variant; any other ``--set`` or ``--sweep`` does."""
    if as_name is not None:
        if not isinstance(as_name, str) or not re.match(VARIANT_PATTERN, as_name) or len(as_name) > MAX_NAME:
            raise StudyError(f"{label}: --as {as_name!r}: use lowercase letters, digits and dashes, "
                             f'e.g. --as quick-try (at most {MAX_NAME} characters)')
        return as_name, (None if as_name == base else base)
    entries = [(k, _slug(v)) for k, v in (overrides or {}).items() if not k.startswith("study.")]
    entries += [(k, "+".join(_slug(v) for v in values)) for k, values in (sweep or {}).items()]
    if not entries:
        return base, None
    last = [k.rsplit(".", 1)[-1] for k, _ in entries]
    suffix = ",".join(f"{short if last.count(short) == 1 else key}={value}"
                      for (key, value), short in zip(entries, last))
    name = f"{base}@{suffix}"
    if len(name) > MAX_NAME:  # long values: a readable start and a hash of the whole
        digest = hashlib.sha256(suffix.encode()).hexdigest()[:10]
        name = f"{base}@{suffix[:max(1, MAX_NAME - len(base) - 13)].rstrip('.,=+-')}-{digest}"
    return name, base


def as_validated(overrides: dict[str, Any] | None, validated: Any) -> dict[str, Any] | None:
    """An override the study holds as a yes/no or a whole number, named so (``no`` -> false, ``1.0`` epochs -> 1):
    two spellings of one value name one variant. Anything else keeps its spelling (a whole number the study holds
    as a float, ``train_size=2000``, stays 2000), as variant names had it. ``validated``: the validated study
    (its fields, also those its dump leaves out at their defaults, such as ``save_weights = false``), or a dict."""
    if not overrides:
        return overrides
    out = {}
    for key, value in overrides.items():
        node: Any = validated
        for part in key.split("."):
            if isinstance(node, dict):
                node = node.get(part)
            else:  # a pydantic section: its field (None for anything else)
                node = getattr(node, part, None) if hasattr(type(node), "model_fields") else None
        spelled = (isinstance(node, bool) and not isinstance(value, bool)) or (
            type(node) is int and isinstance(value, float) and node == value)
        out[key] = node if spelled else value
    return out


def _slug(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True).lower().replace("e+", "e")
    return re.sub(r"[^a-z0-9.-]+", "-", text).strip("-") or "none"
