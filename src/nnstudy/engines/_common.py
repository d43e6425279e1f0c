"""What both engines share: the output head, the batch plan, early stopping, final metrics, artifacts.

Nothing here imports torch: a model only needs ``state_dict()`` / ``load_state_dict()``.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..data._dataset import Dataset
from ._result import TrialResult

MAX_WEIGHT_TILES = 64
GRAD_NORM_SAMPLES = 256  # weight-gradient norms on up to this many evenly spaced steps per epoch


def grad_norm_steps(steps: int) -> tuple[int, int]:
    """(every, measured): gradient norms are taken on every `every`-th step of an epoch of `steps`, which
    measures `measured` steps (evenly spaced: cheap and unbiased); the epoch's value is their mean."""
    every = max(1, steps // GRAD_NORM_SAMPLES)
    return every, len(range(0, steps, every))


@dataclass(frozen=True)
class Head:
    n_out: int
    loss: str  # "cross_entropy" | "binary" (one logit, sigmoid + BCE) | "mse" | "perceptron"


def head_of(mc: dict[str, Any], data: Dataset) -> Head:
    """The output layer's width and the loss: mse for regression, else the kind's head (default: one logit
    per class, cross-entropy)."""
    from ..kinds import of

    if data.task == "regression":
        return Head(data.n_outputs, "mse")
    head = of(mc).head
    return head(mc, data) if head is not None else Head(data.n_outputs, "cross_entropy")


def batch_plan(n: int, batch_size: int | str, norm: str) -> tuple[int, int]:
    """(batch, steps per epoch): the last partial batch is kept, unless batch norm would see one sample."""
    batch = n if batch_size == "full" else min(int(batch_size), n)
    steps = n // batch if (norm == "batch" and n % batch == 1) else math.ceil(n / batch)
    return batch, steps


DIVERGED_ABOVE = 1e30  # a training loss over this is divergence, as is NaN or infinity
DIVERGED_RATIO = 1e6  # ... or over this many times the first epoch's training loss
ADADELTA_EPS = 1e-6  # torch.optim.Adadelta's eps: what adadelta takes while train.eps is left at 1e-8
DEFAULT_EPS = 1e-8


# the train keys each optimizer reads besides lr, in both engines (test_declared_tables.py
# checks that each engine's make_optimizer reads these and no other of them); the report leaves a swept key's
# cell empty for an optimizer that does not read it, and a study setting a key no trial reads is refused
# (spec/_unused.py, spec/_unread.py)
OPTIMIZER_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": ("weight_decay",), "momentum": ("momentum", "weight_decay"), "nesterov": ("momentum", "weight_decay"),
    "adam": ("beta1", "beta2", "eps", "weight_decay"), "adamw": ("beta1", "beta2", "eps", "weight_decay"),
    "rmsprop": ("rho", "eps", "weight_decay"), "adagrad": ("eps", "weight_decay"),
    "adadelta": ("rho", "eps", "weight_decay"), "lbfgs": ()}


def optimizer_eps(tc: dict[str, Any]) -> float:
    """train.eps as the optimizer takes it (adadelta reads the default 1e-8 as its own 1e-6)."""
    return ADADELTA_EPS if tc["optimizer"] == "adadelta" and tc["eps"] == DEFAULT_EPS else tc["eps"]


def optimizer_rho(tc: dict[str, Any]) -> float:
    """train.rho as adadelta (rho, default 0.9) and rmsprop (alpha, default 0.99) take it."""
    rho = tc.get("rho")
    return rho if rho is not None else (0.99 if tc["optimizer"] == "rmsprop" else 0.9)


def planned_epochs(tc: dict[str, Any], steps_per_epoch: int) -> int:
    """Epochs to run: train.epochs, or as many as train.steps needs (the last one may be partial)."""
    budget = tc.get("steps")
    return tc["epochs"] if budget is None else math.ceil(budget / steps_per_epoch)


def steps_in_epoch(tc: dict[str, Any], steps_per_epoch: int, epoch: int) -> int:
    """Updates in epoch ``epoch`` (1-based): all of them, or what is left of train.steps."""
    budget = tc.get("steps")
    return steps_per_epoch if budget is None else min(steps_per_epoch, budget - (epoch - 1) * steps_per_epoch)


def monitored(metrics: dict[str, float], monitor: str) -> float:
    """The loss early stopping or the plateau schedule watches ("auto": val_loss, else train_loss)."""
    if monitor == "auto":
        return metrics.get("val_loss", metrics["train_loss"])
    if monitor not in metrics:
        raise ValueError(f"monitor = {monitor!r}: this trial has no {monitor} (no validation split?)")
    return metrics[monitor]


SETTING = {"checkpoint": False}  # a field's metadata: set from the study file, not kept by a checkpoint


@dataclass(init=False, eq=False, repr=False)
class EarlyStopper:
    """Watches val_loss (train_loss without a validation split), or the loss ``monitor`` names; keeps the
    best weights on request. A checkpoint keeps every field but the SETTING ones (engines/_checkpoint.py)."""

    patience: int = field(metadata=SETTING)
    min_delta: float = field(metadata=SETTING)
    restore: bool = field(metadata=SETTING)
    monitor: str = field(metadata=SETTING)
    best: float
    best_epoch: int
    wait: int
    state: dict | None  # the best weights (restore_best)

    def __init__(self, cfg: dict[str, Any]):
        self.patience, self.min_delta, self.restore = cfg["patience"], cfg["min_delta"], cfg["restore_best"]
        self.monitor = cfg.get("monitor", "auto")
        self.best, self.best_epoch, self.wait, self.state = math.inf, 0, 0, None

    def update(self, epoch: int, metrics: dict[str, float], model) -> bool:
        if self.patience == 0:
            return False
        value = monitored(metrics, self.monitor)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore:
                self.state = copy.deepcopy(model.state_dict())
            return False
        self.wait += 1
        return self.wait >= self.patience


class Plateau:
    """schedule.kind = "plateau": torch's ReduceLROnPlateau (mode min, threshold 1e-4 relative, no cooldown,
    factor gamma), in plain Python so that every engine and the stack take the same learning rates."""

    THRESHOLD = 1e-4

    def __init__(self, lr: float, sc: dict[str, Any]):
        self.lr, self.factor = lr, sc["gamma"]
        self.patience, self.monitor = sc.get("patience", 10), sc.get("monitor", "auto")
        self.best, self.bad = math.inf, 0

    def step(self, metrics: dict[str, float]) -> float:
        """After an epoch: the learning rate of the next one."""
        value = monitored(metrics, self.monitor)
        if value < self.best * (1 - self.THRESHOLD):
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        if self.bad > self.patience:
            lower = self.lr * self.factor
            if self.lr - lower > 1e-8:
                self.lr = lower
            self.bad = 0
        return self.lr


def plateau_of(tc: dict[str, Any]) -> Plateau | None:
    return Plateau(tc["lr"], tc["schedule"]) if tc["schedule"]["kind"] == "plateau" else None


def diverged(loss: float, first: float) -> str | None:
    """Why a training loss is divergence (NaN, infinite, over 1e30, over 1e6 times the first), or None."""
    if not math.isfinite(loss):
        return f"loss became {loss}"
    if loss > DIVERGED_ABOVE:
        return f"loss became {loss:.3g} (over {DIVERGED_ABOVE:.0e})"
    if first > 0 and loss > DIVERGED_RATIO * first:
        return f"loss became {loss:.3g} (over {DIVERGED_RATIO:.0e} times its first value {first:.3g})"
    return None


@dataclass(init=False, eq=False, repr=False)
class EpochLog:
    """The per-epoch bookkeeping both loops share: history, progress, divergence, early stopping, and the
    per-step records of train.log_every_steps (the mean loss of each N steps, with the learning rate). A
    checkpoint keeps every field but the SETTING ones (engines/_checkpoint.py), the stopper's as its own."""

    stopper: EarlyStopper
    on_epoch: Callable = field(metadata=SETTING)
    every: int | None = field(metadata=SETTING)
    history: list[dict[str, float]]
    status: str
    reason: str | None
    first_loss: float | None
    taken: int
    window: list[float]
    step_rows: list[tuple[int, int, float, float]]
    window_epoch: int
    window_lr: float

    def __init__(self, tc: dict[str, Any], on_epoch):
        self.stopper, self.on_epoch = EarlyStopper(tc["early_stopping"]), on_epoch
        self.history: list[dict[str, float]] = []
        self.status = "done"
        self.reason: str | None = None
        self.first_loss: float | None = None
        self.every = tc.get("log_every_steps")
        self.taken = 0  # steps recorded so far
        self.window: list[float] = []
        self.step_rows: list[tuple[int, int, float, float]] = []  # (step, epoch, mean loss, lr)
        self.window_epoch, self.window_lr = 0, 0.0

    def record_steps(self, epoch: int, losses: list[float], lr: float) -> None:
        """The losses of one epoch's steps (read with the epoch's one host sync) and the lr they ran at."""
        for value in losses:
            self.taken += 1
            self.window.append(value)
            self.window_epoch, self.window_lr = epoch, lr
            if len(self.window) == self.every:
                self._flush()

    def _flush(self) -> None:
        if self.window:
            self.step_rows.append((self.taken, self.window_epoch, math.fsum(self.window) / len(self.window),
                                   self.window_lr))
            self.window = []

    def record(self, epoch: int, metrics: dict[str, float], train_time: float, model) -> bool:
        """Store one epoch; True when training stops here (diverged, or early stopping)."""
        metrics["time_s"] = train_time
        self.history.append({"epoch": epoch, **metrics})
        self.on_epoch(epoch, metrics)
        loss = metrics["train_loss"]
        if self.first_loss is None:
            self.first_loss = loss
        why = diverged(loss, self.first_loss)
        if why is not None:
            self.status, self.reason = "diverged", f"{why} at epoch {epoch}"
            return True
        return self.stopper.update(epoch, metrics, model)

    def result(self, model, train_time: float, artifacts: Callable[[], dict[str, bytes]]) -> TrialResult:
        """Final metrics (best weights restored under early stopping), then the artifacts of those weights."""
        final = final_metrics(self.history, self.stopper, model, self.status, train_time)
        out = artifacts() if self.status == "done" else {}
        if self.every is not None:
            self._flush()
            out = {**out, **self.steps_artifact()}
        return TrialResult(self.status, final, self.history, out, self.reason)

    def steps_artifact(self) -> dict[str, bytes]:
        """step_losses.npz: step (the last step of each window, 1-based), epoch, loss (the window's mean
        training loss on the batches as trained), lr, every (N)."""
        rows = np.array(self.step_rows, dtype=np.float64).reshape(-1, 4)
        return {"step_losses.npz": _npz(step=rows[:, 0].astype(np.int64), epoch=rows[:, 1].astype(np.int32),
                                        loss=rows[:, 2], lr=rows[:, 3], every=np.array(self.every))}


def final_metrics(history: list[dict[str, float]], stopper: EarlyStopper, model, status: str,
                  train_time: float) -> dict[str, float]:
    """The last epoch's metrics, or the best epoch's (weights restored) under early stopping."""
    row = history[-1]
    if status == "done" and stopper.state is not None and stopper.best_epoch != len(history):
        model.load_state_dict(stopper.state)
        row = history[stopper.best_epoch - 1]
    final = {k: v for k, v in row.items()
             if k not in ("epoch", "lr", "time_s") and not k.startswith("grad_norm/")}
    final["train_time_s"] = train_time
    final["epochs_run"] = float(len(history))
    return final


def boundary_grid(data: Dataset, grid: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(xx, yy, points (grid*grid, 2) float64) over the 2-D inputs plus 10 %, or None for other data.

    The plane is that of the inputs before data.pca / data.encoding: pass the points through
    ``data.encode`` before the model sees them.
    """
    x_train, x_test = data.plain_inputs()
    if data.task != "classification" or x_test is None or x_test.ndim != 2 or x_test.shape[1] != 2:
        return None
    x_all = np.concatenate([x_train, x_test])
    lo, hi = x_all.min(0), x_all.max(0)
    pad = 0.1 * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], 1)


def boundary_artifact(xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, data: Dataset) -> dict[str, bytes]:
    """decision_boundary.npz: the predicted class zz (grid, grid) and the test points."""
    return {"decision_boundary.npz": _npz(xx=xx, yy=yy, zz=zz, x=data.plain_inputs()[1], y=data.y_test,
                                          classes=np.array(data.classes))}


def fit_grid(data: Dataset) -> np.ndarray | None:
    """Points (m, d) over a regression's 1 or 2 inputs (the range of the data plus 10 %; 200 points on a line,
    60 x 60 on a plane) where the report draws each configuration's prediction; None for other data."""
    x_train, x_test = data.plain_inputs()
    if data.task != "regression" or x_test is None or x_test.ndim != 2 or x_test.shape[1] not in (1, 2):
        return None
    x_all = np.concatenate([x_train, x_test])
    lo, hi = x_all.min(0), x_all.max(0)
    pad = 0.1 * (hi - lo)
    axes = [np.linspace(lo[j] - pad[j], hi[j] + pad[j], 200 if x_all.shape[1] == 1 else 60)
            for j in range(x_all.shape[1])]
    return np.stack([a.ravel() for a in np.meshgrid(*axes)], 1) if len(axes) == 2 else axes[0][:, None]


def fit_artifact(points: np.ndarray, prediction: np.ndarray, data: Dataset) -> dict[str, bytes]:
    """regression_fit.npz: the grid, the prediction there (first output, in the targets' units), the test
    points with their targets (first output) and, when the data source knows it, the noise-free target there."""
    pred = np.asarray(prediction, np.float64).reshape(len(points), -1)[:, 0]
    if data.y_scale is not None:  # trained on standardized targets: back to the targets' units
        pred = pred * float(np.ravel(data.y_scale)[0]) + float(np.ravel(data.y_shift)[0])
    known = {} if getattr(data, "target", None) is None else {"target": data.target(points).astype(np.float32)}
    return {"regression_fit.npz": _npz(grid=points.astype(np.float32), prediction=pred.astype(np.float32),
                                        x=np.asarray(data.plain_inputs()[1], np.float32),
                                        y=np.asarray(data.y_test, np.float32).reshape(len(data.y_test), -1)[:, 0],
                                        **known)}


def first_layer_artifact(w: np.ndarray, data: Dataset, is_output: bool) -> dict[str, bytes]:
    """first_layer_weights.npz when the inputs are images: w (units, *image shape) float16, up to 64 units.

    ``w`` is the first linear layer's weight, (units, n_in). When that layer is the output layer
    (perceptron, logistic regression) each unit is a class and is labelled by its name.
    """
    if len(data.input_shape) < 2 or w.shape[1] != int(np.prod(data.input_shape)):
        return {}
    shape = tuple(s for s in data.input_shape if s != 1) if data.input_shape[0] == 1 else data.input_shape
    if len(shape) < 2:  # signals (1, L), e.g. mnist1d: no image to draw
        return {}
    units = w[:MAX_WEIGHT_TILES].astype(np.float16)
    if is_output and len(units) == len(data.classes):
        labels = list(data.classes)
    elif is_output and len(units) == 1:
        labels = [f"{data.classes[1]} vs {data.classes[0]}"] if len(data.classes) == 2 else ["output"]
    else:
        labels = [f"unit {i + 1}" for i in range(len(units))]
    return {"first_layer_weights.npz": _npz(w=units.reshape(len(units), *shape), labels=np.array(labels),
                                            total_units=np.array(len(w)))}


MAX_WRONG_SAMPLES = 32


def predictions_artifact(y_true: np.ndarray, y_pred: np.ndarray, data: Dataset,
                         samples: bool = True) -> dict[str, bytes]:
    """predictions.npz of a classifier: every test label and prediction (int16), the class names, and
    (``samples``: images and signals) the first 32 misclassified test inputs (``wrong`` test indices, ``x_raw``
    float16 in ``input_shape``, as they were before data.normalize: the images a person recognises). Stores
    written before ``x_raw`` hold ``x``, the same inputs as the model saw them."""
    if not samples:
        return {"predictions.npz": _npz(y_true=y_true.astype(np.int16), y_pred=y_pred.astype(np.int16),
                                        classes=np.array(data.classes))}
    wrong = np.flatnonzero(y_true != y_pred)[:MAX_WRONG_SAMPLES]
    x = data.unnormalized(data.x_test[wrong]).astype(np.float16).reshape(len(wrong), *data.input_shape)
    return {"predictions.npz": _npz(y_true=y_true.astype(np.int16), y_pred=y_pred.astype(np.int16),
                                    classes=np.array(data.classes), wrong=wrong.astype(np.int32), x_raw=x)}


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()
