"""The classical engine: one module per method family, picked by the model kind."""

from __future__ import annotations

import importlib

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult

MODULES = {
    "pca": "_pca", "som": "_som", "rbm": "_rbm", "dbm": "_dbm", "linear_probe": "_probe",
    "ard": "_supervised", "svr": "_supervised", "random_forest": "_supervised", "xgboost": "_boosting",
    "sklearn_mlp": "_sklearn_mlp",
}


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    kind = trial.config["model"]["kind"]
    module = importlib.import_module(f".{MODULES[kind]}", __package__)
    return module.train_trial(trial, data, on_epoch, device)
