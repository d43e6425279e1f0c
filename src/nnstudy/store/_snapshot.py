"""A study as the report sees it: everything read from the store, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
