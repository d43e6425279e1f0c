"""Stored JSON columns read back, each checked for the kind nnstudy writes there: a row edited by hand or
half-overwritten is a `DamagedRow`, which `resilient` (store/_retry.py) says as the damaged-store line."""

from __future__ import annotations

import json
from typing import Any, Mapping


class DamagedRow(ValueError):
    """A stored value that nnstudy never writes; ``str(e)`` names the table, the row and the column."""


def decoded(text: Any, kind: type, where: str) -> Any:
    """`text` (column `where`, e.g. "trials.final_json of trial 3a8a...") decoded, when it is JSON of this kind."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise DamagedRow(f"{where} is not valid JSON: {getattr(e, 'msg', e)}") from None
    if not isinstance(value, kind):
        raise DamagedRow(f"{where} is {_shown(value)}, not a JSON {_NAMES[kind]}")
    return value


def names(text: Any, where: str) -> list[str]:
    """A stored list of names (metrics, swept keys, trial ids)."""
    value = decoded(text, list, where)
    if not all(isinstance(v, str) for v in value):
        raise DamagedRow(f"{where} is {_shown(value)}, not a list of names")
    return value


def final_metrics(text: Any, where: str) -> dict[str, float | None]:
    """A stored {metric: number or null} (final_json)."""
    value = decoded(text, dict, where)
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value.values()):
        raise DamagedRow(f"{where} holds a value that is not a number")
    return value


def require_trials(rows: Mapping[str, Any], ids: list[str], study: str) -> None:
    """Every trial the study lists is among the rows read for it."""
    missing = next((i for i in ids if i not in rows), None)
    if missing is not None:
        raise DamagedRow(f"studies.trial_ids_json of {study!r} names trial {missing[:16]!r}, not in its trials")


def orphan(trial_id: str, study_id: Any) -> DamagedRow:
    """A trial whose study row is gone."""
    return DamagedRow(f"trials.study_id of trial {trial_id} is {study_id}, the id of no stored study")


_NAMES = {dict: "object", list: "array", str: "string"}


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 12 else text[:11] + "…"
