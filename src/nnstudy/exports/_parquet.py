"""The long history as one Parquet file: one row per (trial, epoch, metric), with the trial's config and the
conditions it ran under beside it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow  # noqa: F401  (the export's extra: said in one line when missing)

from ..errors import StudyError
from ..store import StudySnapshot
from ._trials import ExportTrial, condition_items, flat

FIXED = ["study", "trial_id", "seed", "status"]


def long_table(snap: StudySnapshot, trials: list[ExportTrial]) -> pd.DataFrame:
    """study, trial_id, seed, status, one column per config key (dotted, in first-seen order), one per condition
    (conditions.device, conditions.threads, ...: empty for a trial stored without them), epoch, metric, value.
    A config or condition column holds numbers, booleans or strings where all its values are of one such kind,
    else each value as JSON text (lists, tables, null)."""
    configs = [{**flat(t.config), **condition_items(t)} for t in trials]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    columns = {k: config_column([c.get(k) for c in configs]) for k in keys}
    parts = []
    for i, t in enumerate(trials):
        n = len(t.history)
        part = {"study": [snap.name] * n, "trial_id": [t.trial_id] * n, "seed": [t.seed] * n,
                "status": [t.status] * n, **{k: [col[i]] * n for k, col in columns.items()},
                "epoch": t.history["epoch"].astype("int64").tolist(), "metric": t.history["metric"].tolist(),
                "value": t.history["value"].astype("float64").tolist()}
        parts.append(pd.DataFrame(part))
    empty = pd.DataFrame({c: [] for c in [*FIXED, *keys, "epoch", "metric", "value"]})
    table = pd.concat(parts, ignore_index=True) if parts else empty
    return table.astype({"seed": "int64", "epoch": "int64", "value": "float64"})


def config_column(values: list) -> list:
    """One config key's values over the trials, of one type Parquet can hold."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:  # unset in every trial
        return values
    if kinds <= {int, float}:
        return [None if v is None else (float(v) if float in kinds else v) for v in values]
    if len(kinds) == 1 and kinds <= {bool, str}:
        return values
    return [json.dumps(v, sort_keys=True) for v in values]


def write(snap: StudySnapshot, trials: list[ExportTrial], path: Path) -> None:
    """The table to `path`, replaced whole (a temporary file beside it, then renamed)."""
    table = long_table(snap, trials)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:  # Python's open, not pyarrow's: a path in bytes that are not UTF-8 is a path
            table.to_parquet(f, index=False)
        os.replace(tmp, path)
    except OSError as e:
        raise StudyError(f"--to parquet {path}: cannot write it ({e.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
