"""One trial on the NumPy engine: the torch engine's loop, metrics and semantics, from scratch.

Randomness comes from one ``SeedSequence(seed)`` split into four streams (init, shuffling, dropout,
gradient noise), so the same seed gives the same trial, but not the torch engine's numbers.
"""

from __future__ import annotations

import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from ...data._dataset import Dataset
from ...kinds import of
from ...spec import Trial
from .._common import (EpochLog, batch_plan, boundary_artifact, boundary_grid, fit_artifact, fit_grid,
                       grad_norm_steps, first_layer_artifact, head_of, planned_epochs, plateau_of, steps_in_epoch)
from .._checkpoint import Checkpoints, log_state, plain_state, restore_log, restore_plain
from .._result import OnEpoch, TrialResult
from ._blas import WIDE, wider
from ._losses import Loss, make_loss
from ._network import Network, build_network
from ._optim import lr_schedule, make_optimizer
from ._step import Objective, make_step

EVAL_CHUNK = 8192
TAKE_VALUES = 1 << 18  # training rows gathered at once (x values): small batches share one take
ONE_THREAD_BATCH = 32  # up to this batch, BLAS threads cost more than they save
Splits = dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (x (n, d), y (n,) int64 | (n, k))


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    own = of(trial.config["model"]).train.get("numpy")  # a kind's own loop (a given network: evaluated)
    if own is not None:
        return own(trial, data, on_epoch, device)
    batch = trial.config["train"]["batch_size"]
    one_thread = batch != "full" and batch <= ONE_THREAD_BATCH
    threads = wider() if one_thread else None  # the thread budget, read before the limit below
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
            threadpool_limits(1 if one_thread else None, user_api="blas"):  # divergence is a status, not a warning
        return _train(trial, data, on_epoch, threads)


def _train(trial: Trial, data: Dataset, on_epoch: OnEpoch, threads=None) -> TrialResult:
    mc, tc = trial.config["model"], trial.config["train"]
    dtype = np.float64 if tc["dtype"] == "float64" else np.float32
    init, shuffle, dropout, noise = (np.random.default_rng(s) for s in np.random.SeedSequence(trial.seed).spawn(4))
    splits = as_arrays(data, dtype)
    x_train, y_train = splits["train"]
    n = len(x_train)
    head = head_of(mc, data)
    net = build_network(mc, x_train.shape[1], head.n_out, dtype, init, dropout, input_shape=data.input_shape)
    loss = make_loss(head.loss)
    for lin in net.linears():
        if lin.w.size >= WIDE:
            lin.threads = threads
    batch, steps = batch_plan(n, tc["batch_size"], mc.get("norm", "none"))
    epochs, plateau = planned_epochs(tc, steps), plateau_of(tc)
    lr_at = lr_schedule(tc, epochs) if plateau is None else (lambda e: plateau.lr)
    step = make_step(Objective(net, loss, tc["l1"], tc["l2"]),
                     make_optimizer(tc, lambda count: lr_at(count // steps)), tc["grad_noise"], noise,
                     fused=tc["batch_size"] != "full" and tc["batch_size"] <= ONE_THREAD_BATCH)
    every, _ = grad_norm_steps(steps)
    per_take = max(1, TAKE_VALUES // (batch * x_train.shape[1]))  # batches gathered by one take
    xb_buf = np.empty((per_take * batch, x_train.shape[1]), dtype)  # (batches x B, d)
    yb_buf = np.empty((per_take * batch, *y_train.shape[1:]), y_train.dtype)

    log = EpochLog(tc, on_epoch)
    rngs = {"shuffle": shuffle, "dropout": dropout, "noise": noise}
    checkpoints, first, train_time = Checkpoints(tc, [trial.trial_id]), 1, 0.0
    saved = checkpoints.resume(lambda state: (state["net"], net.state_dict()))
    if saved is not None:
        first, train_time = saved[0] + 1, restore_numpy(saved[1], net, step, rngs, plateau, log)
    for epoch in range(first, epochs + 1):
        t0 = time.perf_counter()
        perm = shuffle.permutation(n)
        grad_sums = np.zeros(len(net.linear_names))
        taken, lr_now = steps_in_epoch(tc, steps, epoch), float(lr_at(epoch - 1))
        step_losses = []
        for i in range(taken):
            j = i % per_take
            if j == 0:  # the rows of the next per_take batches, in one take (one gather instead of per_take)
                idx = perm[i * batch:min(i + per_take, taken) * batch]
                xs = x_train.take(idx, axis=0, out=xb_buf[:len(idx)], mode="clip")
                ys = y_train.take(idx, axis=0, out=yb_buf[:len(idx)], mode="clip")
            xb, yb = xs[j * batch:(j + 1) * batch], ys[j * batch:(j + 1) * batch]
            data_loss, norms = step(xb, yb, i % every == 0, want_value=bool(log.every), data_only=True)
            if norms is not None:
                grad_sums += norms
            if log.every:
                step_losses.append(data_loss if loss.train_mean else data_loss / len(yb))
        train_time += time.perf_counter() - t0
        metrics = evaluate(net, loss, splits, data.task == "regression", data.y_scale)
        metrics |= {f"grad_norm/{name}": float(g) / len(range(0, taken, every))
                    for name, g in zip(net.linear_names, grad_sums)}
        if log.every:
            log.record_steps(epoch, step_losses, lr_now)
        metrics["lr"] = float(plateau.step(metrics) if plateau is not None else lr_at(epoch))
        if log.record(epoch, metrics, train_time, net):
            break
        checkpoints.after_epoch(epoch, epoch == epochs, lambda: numpy_state(net, step, rngs, plateau, log, train_time))
    return log.result(net, train_time, lambda: _artifacts(net, loss, data, dtype))


def numpy_state(net: Network, step, rngs: dict[str, np.random.Generator], plateau, log, train_time: float) -> dict:
    """A trial's whole training state, for its checkpoint: weights and batch-norm statistics, the optimizer,
    the shuffling, dropout and noise generators, the plateau, the epoch log, the training time so far."""
    return {"net": net.state_dict(), "optimizer": step.get_state(),
            "rngs": {k: g.bit_generator.state for k, g in rngs.items()},
            "plateau": None if plateau is None else plain_state(plateau), "log": log_state(log),
            "train_time": train_time}


def restore_numpy(state: dict, net: Network, step, rngs: dict[str, np.random.Generator], plateau, log) -> float:
    """Puts a checkpoint's state back into a freshly built trial; returns the training time so far."""
    net.load_state_dict(state["net"])
    step.set_state(state["optimizer"])
    for k, g in rngs.items():
        g.bit_generator.state = state["rngs"][k]
    restore_plain(plateau, state["plateau"])
    restore_log(log, state["log"])
    return float(state["train_time"])


def evaluate_given(trial: Trial, data: Dataset, on_epoch: OnEpoch) -> TrialResult:
    """A network with given weights is evaluated, not trained: one row, epoch 0, float64."""
    head = head_of(trial.config["model"], data)
    net = build_network(trial.config["model"], 0, head.n_out, np.float64, None, None)
    loss = make_loss(head.loss)
    metrics = evaluate(net, loss, as_arrays(data, np.float64), regression=False)
    history = [{"epoch": 0, **metrics, "time_s": 0.0}]
    on_epoch(0, metrics)
    final = {**metrics, "train_time_s": 0.0, "epochs_run": 0.0}
    return TrialResult("done", final, history, _artifacts(net, loss, data, np.float64))


def as_arrays(data: Dataset, dtype) -> Splits:
    regression = data.task == "regression"
    out = {}
    for name in ("train", "val", "test"):
        raw = getattr(data, f"x_{name}")  # flat per sample; sized explicitly: -1 cannot be read from 0 samples
        x = np.ascontiguousarray(raw.reshape(len(raw), math.prod(raw.shape[1:])), dtype=dtype)
        y = getattr(data, f"y_{name}")
        out[name] = (x, np.asarray(data.scaled_targets(y), dtype) if regression else np.asarray(y, np.int64))
    return out


def evaluate(net: Network, loss: Loss, splits: Splits, regression: bool,
             y_scale: np.ndarray | None = None) -> dict[str, float]:
    """Loss and accuracy (or MSE / RMSE) per split, in evaluation mode, summed in float64. With standardized
    targets (y_scale), squared errors are taken back to the targets' units."""
    var = None if y_scale is None else np.asarray(y_scale, np.float64) ** 2
    out: dict[str, float] = {}
    for name, (x, y) in splits.items():
        n = len(x)
        if n == 0:
            continue
        loss_sum, hits = 0.0, 0
        for start in range(0, n, EVAL_CHUNK):
            xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
            pred = net.forward(xb, train=False)
            if var is not None:
                d = np.asarray(pred, np.float64) - yb
                loss_sum += float((d * d * var).sum() / d.shape[1])
            else:
                loss_sum += loss.total(pred, yb)
            if not regression:
                hits += int((loss.predict(pred) == yb).sum())
        mean = loss_sum / n
        out[f"{name}_loss"] = mean
        if regression:
            out[f"{name}_mse"], out[f"{name}_rmse"] = mean, math.sqrt(mean) if mean >= 0 else math.nan
        else:
            out[f"{name}_accuracy"] = hits / n
    return out


def _artifacts(net: Network, loss: Loss, data: Dataset, dtype) -> dict[str, bytes]:
    out = first_layer_artifact(net.linears()[0].w.T, data, is_output=len(net.linears()) == 1)
    grid = boundary_grid(data)
    if grid is not None:
        xx, yy, points = grid
        zz = loss.predict(net.forward(data.encode(points).astype(dtype), train=False))
        out |= boundary_artifact(xx, yy, zz.reshape(xx.shape), data)
    points = fit_grid(data)
    if points is not None:  # a regression on 1 or 2 inputs: its prediction over them (report: regression_fit.png)
        out |= fit_artifact(points, net.forward(data.encode(points).astype(dtype), train=False), data)
    return out

