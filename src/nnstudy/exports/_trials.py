"""A study's trials as every export target sees them: id, seed, status, resolved config, final metrics,
per-epoch history and the conditions it ran under, read from the store (never written)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..store import Store, StudySnapshot


@dataclass
class ExportTrial:
    trial_id: str
    seed: int
    status: str  # pending | running | done | failed | diverged
    error: str | None
    config: dict[str, Any]  # the resolved config, as stored
    final: dict[str, float]  # final metrics (NaN where not finite)
    history: pd.DataFrame  # epoch, metric, value (this trial's rows, by epoch)
    started_at: str | None
    # what its timing depends on (device, threads, host, versions, executor: executor/_threads.conditions);
    # empty for a trial stored without them (not finished, or a store from before v3)
    conditions: dict[str, Any] = field(default_factory=dict)

    @property
    def started_ms(self) -> int:
        """When the trial started, in milliseconds since 1970 (0 when unknown): the time MLflow wants."""
        try:
            then = datetime.fromisoformat(self.started_at) if self.started_at else None
        except ValueError:
            return 0
        if then is None:
            return 0
        return int((then if then.tzinfo else then.replace(tzinfo=timezone.utc)).timestamp() * 1000)


# the snapshot's columns that are no final metric: label ([[sweep]] label = "...", text) and fold (data.folds)
NOT_METRICS = ("trial_id", "seed", "status", "error", "started_at", "finished_at", "label", "fold")


def read_trials(db: Store, name: str) -> tuple[StudySnapshot, list[ExportTrial]]:
    """The study (unknown name: StudyError) and its trials that have started, in the study's order."""
    snap = db.snapshot(name, artifacts=False)
    history = {tid: h[["epoch", "metric", "value"]].reset_index(drop=True)
               for tid, h in snap.history.groupby("trial_id", sort=False)}
    empty = pd.DataFrame({"epoch": pd.Series(dtype="int64"), "metric": pd.Series(dtype="object"),
                          "value": pd.Series(dtype="float64")})
    metrics = [c for c in snap.trials.columns if c not in (*NOT_METRICS, *snap.swept_keys)]
    out = []
    for row in snap.trials.to_dict(orient="records"):
        if row["status"] == "pending":
            continue
        stored = next(t for t in db.find_trials(row["trial_id"]) if t["study"] == name)
        final = {m: float(row[m]) for m in metrics if row.get(m) is not None and not pd.isna(row[m])}
        out.append(ExportTrial(row["trial_id"], int(row["seed"]), row["status"], row["error"] or None,
                               json.loads(stored["config_json"]), final, history.get(row["trial_id"], empty),
                               row["started_at"], snap.conditions.get(row["trial_id"], {})))
    return snap, out


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys, e.g. {"train": {"lr": 0.1}} -> {"train.lr": 0.1}; lists stay lists."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def condition_items(t: ExportTrial) -> dict[str, Any]:
    """The trial's conditions under ``conditions.<key>`` (e.g. conditions.device), apart from its config keys."""
    return {f"conditions.{k}": v for k, v in t.conditions.items()}


def as_text(value: Any) -> str | int | float | bool:
    """A config value as a scalar a tracking tool takes: numbers, booleans and strings as they are, anything else
    (lists, tables, None) as JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)
