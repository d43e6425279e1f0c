"""A search's history read back from the store: one row per configuration, in the order it was proposed."""

from __future__ import annotations

import json
import math

import pandas as pd

from ..spec._search import SearchConfig
from ..store._snapshot import StudySnapshot
from ._objective import objective_value, pooled_sd, seed_stats

PRUNED_AT = "pruned_at_epoch"  # a final metric of a seed the median pruner stopped


def search_of(snap: StudySnapshot) -> SearchConfig | None:
    raw = snap.spec.get("search")
    return SearchConfig.model_validate(raw) if raw and raw.get("space") else None


def history(snap: StudySnapshot, task: str | None = None) -> pd.DataFrame:
    """Columns: number (1-based), each searched key, n (seeds done), mean, sem, value (the objective),
    best_so_far, pruned (stopped before the planned epochs), epochs_run; empty without a [search]."""
    search = search_of(snap)
    if search is None or snap.trials is None or not len(snap.trials):
        return pd.DataFrame()
    task = task or snap.task
    metric, direction = search.resolved_metric(task), search.resolved_direction(task)
    train = snap.spec.get("train", {})
    marked = PRUNED_AT in snap.trials  # older stores kept no mark: a seed that ran fewer epochs was pruned
    planned = None if marked or train.get("steps") is not None or "train.steps" in search.space \
        else train.get("epochs")
    keys = list(search.space)
    t = snap.trials
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(t[keys].itertuples(index=False, name=None)):
        groups.setdefault(json.dumps(list(row), sort_keys=True, default=str), []).append(i)
    parts = [t.iloc[idx] for idx in groups.values()]
    dones = [part[part.status == "done"] for part in parts]
    seed_values = [[float(v) for v in done.get(metric, []) if math.isfinite(float(v))] for done in dones]
    pooled = pooled_sd(seed_values)  # a single seed's SE under lcb (search/_objective.py)
    rows = []
    for number, (part, done, values) in enumerate(zip(parts, dones, seed_values), 1):
        mean, sem = seed_stats(values)
        epochs = float(done["epochs_run"].max()) if "epochs_run" in done and len(done) else math.nan
        rows.append({"number": number, **{k: part.iloc[0][k] for k in keys}, "n": len(values), "mean": mean,
                     "sem": sem,
                     "value": objective_value(values, search.objective, direction, pooled) if values else math.nan,
                     "epochs_run": epochs,
                     "pruned": bool(done[PRUNED_AT].notna().any() if marked else
                                    planned and "train.epochs" not in keys and epochs < planned
                                    and search.pruner == "median")})
    out = pd.DataFrame(rows)
    complete = out["value"].where(~out["pruned"])
    out["best_so_far"] = (complete.cummax() if direction == "max" else complete.cummin()).ffill()
    return out
