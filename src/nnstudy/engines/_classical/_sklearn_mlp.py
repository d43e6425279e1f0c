"""scikit-learn's MLPClassifier / MLPRegressor: one history row per epoch (sgd, adam) via partial_fit;
lbfgs, which has no epochs, runs up to train.epochs iterations and gives one row."""

from __future__ import annotations

import time
import warnings

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import (Snapshot, epoch_log, one_row, prediction_artifacts, supervised_metrics, targets,
                       with_scaled_targets)


def build(mc: dict, tc: dict, task: str, seed: int, n: int):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if task == "classification" else MLPRegressor
    batch = n if tc["batch_size"] == "full" else min(int(tc["batch_size"]), n)
    iterations = tc["epochs"] if mc["solver"] == "lbfgs" else 1
    return cls(hidden_layer_sizes=tuple(mc["hidden"]), activation=mc["activation"], solver=mc["solver"],
               alpha=mc["alpha"], learning_rate_init=tc["lr"], batch_size=batch, max_iter=iterations,
               momentum=tc["momentum"], beta_1=tc["beta1"], beta_2=tc["beta2"], epsilon=tc["eps"],
               random_state=_Shuffles(seed))


class _Shuffles(np.random.RandomState):
    """The seed's RandomState, kept across partial_fit calls (an int would be re-seeded by each call: the same
    batch order every epoch), remembering the order its last shuffle drew (scikit-learn shuffles with it)."""

    order: np.ndarray | None = None

    def shuffle(self, x) -> None:
        super().shuffle(x)
        self.order = np.array(x)


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    from sklearn.exceptions import ConvergenceWarning

    mc, tc = trial.config["model"], trial.config["train"]
    classify = data.task == "classification"
    y = data.y_train if classify else targets(data.y_train)
    model = with_scaled_targets(build(mc, tc, data.task, trial.seed, len(data.x_train)), data)
    holder = {"model": model}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if mc["solver"] == "lbfgs":
            t0 = time.perf_counter()
            model.fit(data.x_train, y)
            train_time = time.perf_counter() - t0
            return one_row(trial, supervised_metrics(model, data), train_time, on_epoch,
                           lambda: prediction_artifacts(model, data, trial))
        log, train_time = epoch_log(trial, on_epoch, early_stopping=True), 0.0
        extra = {"classes": np.arange(len(data.classes))} if classify else {}
        shuffles, order = model.random_state, np.arange(len(y))  # ScaledTargets passes it on
        for epoch in range(1, tc["epochs"] + 1):
            t0 = time.perf_counter()
            # fit(max_iter=epochs) shuffles the previous epoch's order again; partial_fit shuffles the rows given
            model.partial_fit(data.x_train[order], y[order], **extra)
            order = order[shuffles.order]
            train_time += time.perf_counter() - t0
            if log.record(epoch, supervised_metrics(model, data), train_time, Snapshot(holder)):
                break
    return log.result(Snapshot(holder), train_time, lambda: prediction_artifacts(holder["model"], data, trial))
