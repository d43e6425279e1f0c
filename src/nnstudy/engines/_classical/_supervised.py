"""One-shot scikit-learn estimators: ARD regression, SVR, random forests (classifier or regressor)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import (input_names, npz, one_row, prediction_artifacts, supervised_metrics, targets,
                       with_scaled_targets)


Build = Callable[[dict[str, Any], str, int, int], Any]  # (model section, task, seed, outputs) -> estimator


def ard(mc: dict[str, Any], task: str, seed: int, n_outputs: int):
    from sklearn.linear_model import ARDRegression
    from sklearn.multioutput import MultiOutputRegressor

    model = ARDRegression(max_iter=mc["max_iter"], threshold_lambda=mc["threshold_lambda"])
    if task == "classification":
        return ScoresAsClasses(model, n_outputs)
    return MultiOutputRegressor(model) if n_outputs > 1 else model


def ols(mc: dict[str, Any], task: str, seed: int, n_outputs: int):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(fit_intercept=mc["fit_intercept"])
    return ScoresAsClasses(model, n_outputs) if task == "classification" else model


def svr(mc: dict[str, Any], task: str, seed: int, n_outputs: int):
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.svm import SVR

    model = SVR(kernel=mc["kernel"], C=mc["C"], epsilon=mc["epsilon"], gamma=mc["gamma"])
    return MultiOutputRegressor(model) if n_outputs > 1 else model


def random_forest(mc: dict[str, Any], task: str, seed: int, n_outputs: int):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    features = None if mc["max_features"] == "all" else mc["max_features"]
    return cls(n_estimators=mc["n_estimators"], max_depth=mc["max_depth"],
               min_samples_leaf=mc["min_samples_leaf"], max_features=features, random_state=seed, n_jobs=1)


class ScoresAsClasses:
    """A regressor as a classifier: it regresses the label (two classes) or each class's indicator, and the
    highest score wins. Its scores are not probabilities: the loss is the Brier score."""

    brier = True

    def __init__(self, regressor, n_classes: int):
        from sklearn.base import clone

        self.n_classes = n_classes
        self.estimators_ = [clone(regressor) for _ in range(1 if n_classes == 2 else n_classes)]

    def fit(self, x: np.ndarray, y: np.ndarray) -> "ScoresAsClasses":
        targets = [y.astype(np.float64)] if self.n_classes == 2 else [(y == j).astype(np.float64)
                                                                      for j in range(self.n_classes)]
        for est, t in zip(self.estimators_, targets):
            est.fit(x, t)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = np.stack([est.predict(x) for est in self.estimators_], 1)
        return np.hstack([1 - scores, scores]) if self.n_classes == 2 else scores


def trainer(build: Build) -> Callable[..., TrialResult]:
    """train(trial, data, on_epoch, device) of the estimator ``build`` makes (one of the functions above)."""

    def train(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        return train_trial(trial, data, on_epoch, build)

    return train


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, build: Build) -> TrialResult:
    mc = trial.config["model"]
    y = data.y_train if data.task == "classification" else targets(data.y_train)
    model = with_scaled_targets(build(mc, data.task, trial.seed, data.n_outputs), data)
    t0 = time.perf_counter()
    model.fit(data.x_train, y)
    train_time = time.perf_counter() - t0
    metrics = supervised_metrics(model, data)
    return one_row(trial, metrics, train_time, on_epoch, lambda: artifacts(model, data, trial))


def artifacts(model, data: Dataset, trial: Trial) -> dict[str, bytes]:
    out = prediction_artifacts(model, data, trial)
    names = input_names(data, trial)
    if hasattr(model, "feature_importances_"):
        out["feature_importance.npz"] = npz(importance=np.asarray(model.feature_importances_, np.float64),
                                            names=names)
    ards = getattr(model, "estimators_", [model])
    if all(hasattr(m, "lambda_") for m in ards):  # ARD: a weight precision per input
        out["relevance.npz"] = npz(coef=np.stack([m.coef_ for m in ards]),  # (outputs, inputs)
                                   precision=np.stack([m.lambda_ for m in ards]), names=names)
    coef = linear_weights(model)  # with data.normalize_target: in standardized target units
    if coef is not None:
        out["linear_weights.npz"] = npz(coef=coef, names=names)
    return out


def linear_weights(model) -> np.ndarray | None:
    """(outputs, inputs) weights of a fitted linear model (ARD, OLS; one per output or class), else None."""
    parts = getattr(model, "estimators_", [model])
    if not all(hasattr(m, "coef_") and np.ndim(m.coef_) in (1, 2) for m in parts):
        return None
    return np.concatenate([np.atleast_2d(np.asarray(m.coef_, np.float64)) for m in parts])
