"""What the classical methods share: final metrics from predictions, the one-row history, artifacts."""

from __future__ import annotations

import copy
import io
from typing import Callable

import numpy as np

from ...data._dataset import Dataset
from .._common import EpochLog, fit_artifact, fit_grid, predictions_artifact
from .._result import OnEpoch, TrialResult

SPLITS = ("train", "val", "test")


def splits(data: Dataset):
    """(name, x, y) of every non-empty split."""
    for name in SPLITS:
        x, y = getattr(data, f"x_{name}"), getattr(data, f"y_{name}")
        if len(x):
            yield name, x, y


def targets(y: np.ndarray) -> np.ndarray:
    """Regression targets as scikit-learn wants them: (n,) for one output, else (n, k)."""
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def supervised_metrics(model, data: Dataset) -> dict[str, float]:
    """loss + accuracy (log loss of predict_proba) or loss = mse, rmse, mae, for every split."""
    out: dict[str, float] = {}
    for name, x, y in splits(data):
        if data.task == "classification":
            proba = class_scores(model, x, len(data.classes))
            if getattr(model, "brier", False):  # scores, not probabilities: squared error to the one-hot
                out[f"{name}_loss"] = float(((proba - np.eye(proba.shape[1])[y]) ** 2).sum(1).mean())
            else:
                eps = np.finfo(proba.dtype).eps  # sklearn.metrics.log_loss clips to [eps, 1 - eps]
                p_true = np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)
                out[f"{name}_loss"] = float(-np.log(p_true).mean())
            out[f"{name}_accuracy"] = float((proba.argmax(1) == y).mean())
        else:
            pred = np.asarray(model.predict(x), np.float64).reshape(len(y), -1)
            err = pred - y
            mse = float((err ** 2).mean())
            out |= {f"{name}_loss": mse, f"{name}_mse": mse, f"{name}_rmse": float(np.sqrt(mse)),
                    f"{name}_mae": float(np.abs(err).mean())}
    return out


def class_scores(model, x: np.ndarray, k: int) -> np.ndarray:
    """(n, k) predict_proba of a classifier, a column for every class; the predicted class is its argmax."""
    proba = np.asarray(model.predict_proba(x), np.float64)
    return _all_classes(proba, getattr(model, "classes_", None), k)


def _all_classes(proba: np.ndarray, seen, k: int) -> np.ndarray:
    """Columns for every class, also those absent from a small training set."""
    if seen is None or proba.shape[1] == k:
        return proba
    full = np.zeros((len(proba), k))
    full[:, np.asarray(seen, int)] = proba
    return full


class ScaledTargets:
    """data.normalize_target: the regressor fits the training split's z-scores and predicts in the targets'
    units; every other attribute (coef_, feature_importances_, ...) is the regressor's own."""

    def __init__(self, regressor, shift: np.ndarray, scale: np.ndarray):
        self.regressor, self.shift, self.scale = regressor, targets(shift[None]), targets(scale[None])

    def _z(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, np.float64) - self.shift) / self.scale

    def fit(self, x: np.ndarray, y: np.ndarray) -> "ScaledTargets":
        self.regressor.fit(x, self._z(y))
        return self

    def partial_fit(self, x: np.ndarray, y: np.ndarray, **kw) -> "ScaledTargets":
        self.regressor.partial_fit(x, self._z(y), **kw)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.regressor.predict(x), np.float64) * self.scale + self.shift

    def __getattr__(self, name: str):
        regressor = self.__dict__.get("regressor")
        if regressor is None:  # while copy.deepcopy builds a new one
            raise AttributeError(name)
        return getattr(regressor, name)


def with_scaled_targets(model, data: Dataset):
    """The model, wrapped in ScaledTargets when the data ask for standardized regression targets."""
    if data.task != "regression" or data.y_scale is None:
        return model
    return ScaledTargets(model, data.y_shift.astype(np.float64), data.y_scale.astype(np.float64))


class Snapshot:
    """``state_dict``/``load_state_dict`` over a fitted estimator, for early stopping's restore_best."""

    def __init__(self, holder: dict):
        self.holder = holder

    def state_dict(self):
        return copy.deepcopy(self.holder["model"])

    def load_state_dict(self, state) -> None:
        self.holder["model"] = state


def epoch_log(trial, on_epoch: OnEpoch, early_stopping: bool = False) -> EpochLog:
    """The shared per-epoch bookkeeping; train.early_stopping applies only where a method says so."""
    tc = trial.config["train"]
    if not early_stopping:
        tc = {**tc, "early_stopping": {**tc["early_stopping"], "patience": 0}}
    return EpochLog(tc, on_epoch)


def one_row(trial, metrics: dict[str, float], train_time: float, on_epoch: OnEpoch,
            artifacts: Callable[[], dict[str, bytes]]) -> TrialResult:
    """A method without iterations: its history is one row."""
    log, nothing = epoch_log(trial, on_epoch), Snapshot({"model": None})
    log.record(1, dict(metrics), train_time, nothing)
    return log.result(nothing, train_time, artifacts)


def prediction_artifacts(model, data: Dataset, trial) -> dict[str, bytes]:
    """What a supervised model's test predictions give the report: a classifier's predictions.npz (per-class
    table, confusion matrix); a regressor's forecast.npz and, on 1 or 2 inputs, regression_fit.npz."""
    if data.task == "classification" and len(data.x_test):
        return classifier_artifacts(class_scores(model, data.x_test, len(data.classes)).argmax(1), data)
    return regression_artifacts(model, data, trial)


def classifier_artifacts(y_pred: np.ndarray, data: Dataset) -> dict[str, bytes]:
    """predictions.npz of the test split's predicted classes, with the first misclassified inputs of images
    and signals (engines/_common.py predictions_artifact, as the torch engine stores it)."""
    if data.task != "classification" or not len(data.y_test):
        return {}
    return predictions_artifact(data.y_test, np.asarray(y_pred), data, samples=len(data.input_shape) >= 2)


def regression_artifacts(model, data: Dataset, trial) -> dict[str, bytes]:
    """forecast.npz: test targets and predictions (in order; series = the data came as lag windows); with one or
    two inputs also regression_fit.npz, the prediction over them (as the torch and NumPy engines store it)."""
    if data.task != "regression" or not len(data.x_test):
        return {}
    pred = np.asarray(model.predict(data.x_test), np.float32).reshape(len(data.y_test), -1)
    series = is_series(data)
    out = {"forecast.npz": npz(y=data.y_test.astype(np.float32), pred=pred, series=np.array(series))}
    points = fit_grid(data)
    if points is not None:  # the model predicts in the targets' units; fit_artifact expects what it learned
        out |= fit_artifact(points, data.scaled_targets(np.asarray(model.predict(data.encode(points)))), data)
    return out


def is_series(data: Dataset) -> bool:
    """True when the data are windows of one time series (chronological splits)."""
    from ...data._registry import REGISTRY

    entry = REGISTRY.get(data.name)
    return bool(entry is not None and entry.series)


def input_names(data: Dataset, trial) -> np.ndarray:
    """Labels of the inputs: the kept feature indices (data.features) or lag numbers, else x1..xd."""
    d = data.x_train.shape[1]
    dc = trial.config["data"]
    features = dc.get("features") or []
    if len(features) == d:
        return np.array([f"x{f}" for f in features])
    from ...data._registry import SERIES_LAGS

    lags = dc.get("lags") or SERIES_LAGS
    if is_series(data) and lags == d:
        return np.array([f"t-{lags - 1 - i}" for i in range(d)])  # t-0 = the latest value
    return np.array([f"x{i}" for i in range(d)])


def npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()
