"""The classical engine: one module per method family; each kind names the function that trains it."""

from __future__ import annotations

from ...data._dataset import Dataset
from ...kinds import of
from ...spec import Trial
from .._result import OnEpoch, TrialResult


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    return of(trial.config["model"]).train["classical"](trial, data, on_epoch, device)
