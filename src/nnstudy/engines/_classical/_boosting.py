"""XGBoost: gradient-boosted trees; one history row per boosting round (train / validation loss)."""

from __future__ import annotations

import time

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import Snapshot, epoch_log, input_names, npz, prediction_artifacts, supervised_metrics, targets


def build(mc: dict, task: str, seed: int, n_classes: int, device: str):
    import xgboost as xgb

    common = dict(n_estimators=mc["n_estimators"], max_depth=mc["max_depth"], learning_rate=mc["learning_rate"],
                  subsample=mc["subsample"], colsample_bytree=mc["colsample_bytree"], reg_lambda=mc["reg_lambda"],
                  random_state=seed, n_jobs=1, tree_method="hist", device="cuda" if device == "cuda" else "cpu")
    if task == "classification":
        metric = "logloss" if n_classes == 2 else "mlogloss"
        return xgb.XGBClassifier(eval_metric=metric, **common), metric
    return xgb.XGBRegressor(eval_metric="rmse", **common), "rmse"


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    mc = trial.config["model"]
    classify = data.task == "classification"
    model, metric = build(mc, data.task, trial.seed, len(data.classes), device)
    y_train = data.y_train if classify else targets(data.y_train)
    evals = [(data.x_train, y_train)]
    if len(data.x_val):
        evals.append((data.x_val, data.y_val if classify else targets(data.y_val)))
    t0 = time.perf_counter()
    model.fit(data.x_train, y_train, eval_set=evals, verbose=False)
    train_time = time.perf_counter() - t0
    rounds = model.evals_result()
    log, holder = epoch_log(trial, on_epoch), {"model": model}
    n = len(rounds["validation_0"][metric])
    for r in range(n - 1):  # the rounds before the last: losses as XGBoost measured them
        row = {f"{split}_loss": _loss(rounds[f"validation_{j}"][metric][r], metric)
               for j, split in enumerate(("train", "val")[:len(evals)])}
        log.record(r + 1, row, train_time * (r + 1) / n, Snapshot(holder))
    log.record(n, supervised_metrics(model, data), train_time, Snapshot(holder))
    return log.result(Snapshot(holder), train_time, lambda: artifacts(holder["model"], data, trial))


def _loss(value: float, metric: str) -> float:
    return float(value) ** 2 if metric == "rmse" else float(value)


def artifacts(model, data: Dataset, trial: Trial) -> dict[str, bytes]:
    out = prediction_artifacts(model, data, trial)
    out["feature_importance.npz"] = npz(importance=np.asarray(model.feature_importances_, np.float64),
                                        names=input_names(data, trial))
    return out
