"""A study as the report sees it: everything read from the store, nothing else."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ._rows import DamagedRow, decoded, final_metrics, names

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Artifact:
    trial_id: str
    name: str  # e.g. "decision_boundary.npz"
    data: bytes


@dataclass
class StudySnapshot:
    name: str
    description: str
    spec: dict[str, Any]  # the validated study file, JSON-able (sections study/data/model/train/sweep/trials/report)
    source: str  # the study file's text as the user wrote it ("" when run from a dict)
    task: str  # "classification" | "regression"
    metrics: list[str]  # report metrics, first one ranks
    swept_keys: list[str]  # dotted keys, in study-file order
    trials: pd.DataFrame  # trial_id, seed, status, error, <swept keys>, <final metrics>, started_at, finished_at
    history: pd.DataFrame  # long: trial_id, epoch, metric, value
    artifacts: list[Artifact] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)  # nnstudy / torch / numpy versions, device
    created_at: str = ""
    updated_at: str = ""
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)  # trial id -> device, threads, host, ...
    # trial id -> the model and train sections of its resolved config (one dict for the trials of a configuration;
    # None: a config without them), for the keys a configuration does not read (spec/_unread.unread)
    sections: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def snapshot_of(st: Mapping[str, Any], ids: list[str], rows: Mapping[str, Mapping[str, Any]],
                hist: Sequence[Sequence[Any]], arts: Sequence[Sequence[Any]]) -> StudySnapshot:
    """The snapshot of the rows a store returned (Store.snapshot, and store/_read.py with the same statements):
    `st` the study's row and `rows` {trial id: its row}, by column name; `ids` the study's trials in order;
    `hist` (trial pk, epoch, metric, value) and `arts` (trial pk, name, data) rows, in the order read."""
    import pandas as pd  # here, not on import: `nnstudy ls` never builds a table

    pks = {rows[i]["id"]: i for i in ids}
    study = f"of {st['name']!r}"
    swept = names(st["swept_keys_json"], f"studies.swept_keys_json {study}")
    records, conditions, sections, read = [], {}, {}, {}
    for tid in ids:
        r = rows[tid]
        where = f"of trial {tid}"
        point = decoded(r["point_json"], dict, f"trials.point_json {where}")
        if r["config_json"] not in read:  # the seeds of a configuration share one config: read once
            config = decoded(r["config_json"], dict, f"trials.config_json {where}")
            model, train = config.get("model"), config.get("train")
            whole = isinstance(model, dict) and "kind" in model and isinstance(train, dict)  # not: a test's {}
            read[r["config_json"]] = ({"model": model, "train": train} if whole else None,
                                      (config.get("data") or {}).get("fold"))
        sections[tid], fold = read[r["config_json"]]  # fold: the one data.folds holds out
        final = final_metrics(r["final_json"], f"trials.final_json {where}") if r["final_json"] else {}
        records.append({"trial_id": tid, "seed": r["seed"], "status": r["status"], "error": r["error"],
                        **({} if fold is None else {"fold": fold}),  # data.folds: the fold held out
                        **{k: point.get(k) for k in swept}, **{k: _nan(v) for k, v in final.items()},
                        **({"label": point["label"]} if "label" in point else {}),  # a [[sweep]] label
                        "started_at": r["started_at"], "finished_at": r["finished_at"]})
        if r["conditions_json"]:
            conditions[tid] = decoded(r["conditions_json"], dict, f"trials.conditions_json {where}")
    history = pd.DataFrame([(pks[pk], epoch, metric, _nan(value)) for pk, epoch, metric, value in hist],
                           columns=["trial_id", "epoch", "metric", "value"])
    if len(history) and object in (history["epoch"].dtype, history["value"].dtype):  # text where numbers belong
        raise DamagedRow(f"epochs of study {st['name']!r} hold text where an epoch or a value belongs")
    history = history.sort_values(["trial_id", "epoch"], kind="stable").reset_index(drop=True)
    return StudySnapshot(
        name=st["name"], description=st["description"],
        spec=decoded(st["spec_json"], dict, f"studies.spec_json {study}"), source=st["source"], task=st["task"],
        metrics=names(st["metrics_json"], f"studies.metrics_json {study}"), swept_keys=swept,
        trials=pd.DataFrame(records), history=history,
        artifacts=[Artifact(pks[pk], name, bytes(data)) for pk, name, data in arts],
        environment=decoded(st["environment_json"], dict, f"studies.environment_json {study}"),
        created_at=st["created_at"], updated_at=st["updated_at"], conditions=conditions, sections=sections)


def _nan(v: Any) -> Any:
    return math.nan if v is None else v
