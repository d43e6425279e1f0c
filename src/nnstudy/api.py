"""The Python API: everything the command line does, for notebooks and scripts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from .errors import StudyError
from .spec import StudyFile, Trial, expand, read_study, swept_keys
from .store import Store, StudySnapshot, store_dir


class Study:
    """A study in a store: its tables, its history, its report."""

    def __init__(self, name: str, store: str | Path | None = None):
        self.name, self.store_arg = name, store
        self._store = Store(store, create=False)
        self._store.snapshot(name)  # raises StudyError for an unknown name

    def snapshot(self) -> StudySnapshot:
        return self._store.snapshot(self.name)

    def results(self) -> pd.DataFrame:
        from .report import summarize

        return summarize(self.snapshot())

    def trials(self) -> pd.DataFrame:
        from .report import trials_table

        return trials_table(self.snapshot())

    def history(self) -> pd.DataFrame:
        return self.snapshot().history

    @property
    def report_dir(self) -> Path:
        return store_dir(self.store_arg) / self.name

    def report(self, out: str | Path | None = None) -> list[Path]:
        from .report import write_report

        return write_report(self.snapshot(), Path(out) if out else self.report_dir)

    def __repr__(self) -> str:
        return f"Study({self.name!r}, store={self._store.url!r})"


def prepare(source: str | Path | dict, set: dict[str, Any] | None = None
            ) -> tuple[StudyFile, list[Trial], str, str, list[str], str]:
    """Validate the study file and its data; nothing is written anywhere."""
    study, text, label = read_study(source, set)
    trials = expand(study, label)
    task, metrics = report_metrics(study, label)
    return study, trials, text, task, metrics, label


def report_metrics(study: StudyFile, label: str) -> tuple[str, list[str]]:
    from .data import info
    from .spec import CLASSIFICATION_METRICS, REGRESSION_METRICS

    task = info(study.data.name).task
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    metrics = study.report.metrics or (["test_mse", "val_mse", "train_time_s"] if task == "regression"
                                       else ["test_accuracy", "val_accuracy", "train_time_s"])
    for m in metrics:
        if m not in allowed:
            raise StudyError(f"{label}: report.metrics: {m!r} is not a metric of a {task} study "
                             f"(allowed: {', '.join(allowed)})")
    return task, metrics


def run(source: str | Path | dict, store: str | Path | None = None, set: dict[str, Any] | None = None,
        workers: int | None = None, device: str = "auto", fail_fast: bool = False,
        console: Console | None = None) -> Study:
    """Train every trial not yet done, write the report, return the Study."""
    from ._environment import environment, resolve_device
    from .data import load
    from .executor import LocalExecutor

    study, trials, text, task, metrics, label = prepare(source, set)
    device = resolve_device(device)
    first_data = None
    for cfg in _distinct(t.config["data"] for t in trials):  # missing data fails before the store is touched
        data = load(study.data.model_validate(cfg))
        first_data = first_data or data
    console = console or Console(stderr=True)
    db = Store(store)
    db.register(study.study.name, study.study.description, study.model_dump(mode="json"), text, task,
                metrics, swept_keys(study), trials, environment(device))
    workers = workers or os.cpu_count() or 1
    summary = LocalExecutor(db, study.study.name, workers, device, fail_fast, console).run(trials, first_data)
    result = Study(study.study.name, store)
    result.summary = summary
    result.report()
    return result


def load(name: str, store: str | Path | None = None) -> Study:
    return Study(name, store)


def _distinct(items) -> list[dict]:
    out: list[dict] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
