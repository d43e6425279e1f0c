"""One trial on the PyTorch engine: data on the device, one host sync per epoch."""

from __future__ import annotations

import math
from typing import Any

import torch

from ...data._dataset import Dataset
from ...kinds import of
from ...spec import Trial
from .._common import (EpochLog, batch_plan, boundary_artifact, boundary_grid, fit_artifact, fit_grid,
                       grad_norm_steps, first_layer_artifact, head_of, planned_epochs, plateau_of, steps_in_epoch)
from .._checkpoint import Checkpoints
from .._result import OnEpoch, TrialResult
from . import _rng
from ._augment import make_augment
from ._clock import EpochClock
from ._mlp import NOISE_STREAM, build_trainable
from ._optim import make_optimizer, make_schedule
from ._optim_step import gradients, take_step, weight_norms
from ._outputs import classifier_artifacts
from ._precision import forward_context, trial_precision
from ._tensors import DeviceData, evaluate, loss_fn, predict
from ._transfer import body_frozen, trainable
from ._trial_state import restore_trial, trial_state


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    with trial_precision(trial.config["train"], torch.device(device)):
        return _train_trial(trial, data, on_epoch, device)


def _train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str) -> TrialResult:
    mc, tc = trial.config["model"], trial.config["train"]
    dev = torch.device(device)
    dtype = torch.float64 if tc["dtype"] == "float64" else torch.float32
    torch.manual_seed(trial.seed)
    gen = torch.Generator(device=dev).manual_seed(trial.seed)  # shuffling; dropout and noise: _rng
    counter = torch.zeros((), dtype=torch.int64, device=dev)  # steps taken: the random streams' position
    dd = DeviceData.from_dataset(data, dev, dtype)
    x_train, y_train = dd.splits["train"]
    n = x_train.shape[0]
    head = head_of(mc, data)
    model = build_trainable(mc, x_train.shape[1], head.n_out, data.input_shape).to(device=dev, dtype=dtype)
    model.bind_rng(trial.seed, counter, dtype)
    params = trainable(model, mc.get("finetune", "all"))
    opt = make_optimizer(params, tc)
    log = EpochLog(tc, on_epoch)
    batch, steps = batch_plan(n, tc["batch_size"], "batch" if of(mc).batch_norm(mc) else "none")
    epochs = planned_epochs(tc, steps)
    schedule, plateau = make_schedule(opt, tc["schedule"], epochs), plateau_of(tc)
    augment = make_augment(trial.config["data"].get("augment", []), data.input_shape, gen)
    linears = model.linears()
    every, _ = grad_norm_steps(steps)
    step = make_step(model, opt, linears, tc, head.loss, trial.seed, counter)
    checkpoints, first, train_time = Checkpoints(tc, [trial.trial_id]), 1, 0.0
    saved = checkpoints.resume(lambda state: (state["model"], model.state_dict()))
    if saved is not None:
        first, train_time = saved[0] + 1, restore_trial(saved[1], model, opt, schedule, plateau, gen, counter, log)

    clock = EpochClock(dev)
    for epoch in range(first, epochs + 1):
        clock.start()
        model.train(not body_frozen(mc))
        perm = torch.randperm(n, generator=gen, device=dev)
        grad_sums = [torch.zeros((), dtype=dtype, device=dev) for _ in linears]
        taken, lr_now = steps_in_epoch(tc, steps, epoch), float(opt.param_groups[0]["lr"])
        step_losses = torch.zeros(taken, dtype=dtype, device=dev) if log.every else None  # read with the epoch
        for i in range(taken):
            idx = perm[i * batch:(i + 1) * batch]
            xb = x_train[idx] if augment is None else augment(x_train[idx])
            _, norms = step(xb, y_train[idx], i % every == 0)
            counter += 1
            if norms is not None:
                torch._foreach_add_(grad_sums, norms)
            if step_losses is not None:
                step_losses[i] = step.data_loss[0]
        if schedule is not None:
            schedule.step()
        clock.stop()
        metrics = _epoch_metrics(model, dd, head.loss, torch.stack(grad_sums) / len(range(0, taken, every)),
                                 opt, linears=model.linear_names, step_losses=step_losses)
        train_time += clock.seconds()
        if step_losses is not None:
            log.record_steps(epoch, metrics.pop("step_losses"), lr_now)
        if plateau is not None:
            for group in opt.param_groups:
                group["lr"] = plateau.step(metrics)
            metrics["lr"] = plateau.lr
        if log.record(epoch, metrics, train_time, model):
            break
        checkpoints.after_epoch(epoch, epoch == epochs, lambda: trial_state(model, opt, schedule, plateau, gen,
                                                                            counter, log, train_time))
    return log.result(model, train_time, lambda: trial_artifacts(model, dd, data, head.loss, tc))


def _blown_up(params: list[torch.Tensor]) -> torch.Tensor:
    """L-BFGS's step (lr times the line search's) overflowed the parameters' dtype: an update as infinite as an
    SGD step's at such a learning rate. The parameters become NaN, so the epoch's loss says the trial diverged."""
    with torch.no_grad():
        for p in params:
            p.fill_(math.nan)
    return torch.tensor(math.nan)


def make_step(model, opt, linears, tc: dict[str, Any], loss: str, seed: int = 0,
              counter: torch.Tensor | None = None):
    """step(xb, yb, measure) -> (objective (0-d tensor), weight-gradient norms or None): one update.

    Gradient noise for parameter j at step ``counter`` comes from the trial's stream NOISE_STREAM + j.
    """
    l1, l2, noise = tc["l1"], tc["l2"], tc["grad_noise"]
    weights = [lin.weight for lin in linears]
    params = [p for p in model.parameters() if p.requires_grad]
    if noise:
        keys = [_rng.stream_key(torch.tensor(seed, device=p.device), NOISE_STREAM + j) for j, p in enumerate(params)]
    reduction = "sum" if loss == "perceptron" else "mean"
    data_loss: list[torch.Tensor | None] = [None]  # the step's data loss, mean over its batch (per-step records)
    forward_precision = forward_context(tc, next(model.parameters()).device)

    def objective(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with forward_precision():
            out = model(xb)
        loss_value = loss_fn(out.to(xb.dtype), yb, loss, reduction)  # bf16: the loss in float32
        if data_loss[0] is None:
            data_loss[0] = loss_value.detach() / (len(yb) if reduction == "sum" else 1)
        if l2:
            loss_value = loss_value + l2 * sum((w * w).sum() for w in weights)
        if l1:
            loss_value = loss_value + l1 * sum(w.abs().sum() for w in weights)
        return loss_value

    if isinstance(opt, torch.optim.LBFGS):
        def lbfgs_step(xb: torch.Tensor, yb: torch.Tensor, measure: bool):
            def closure():
                opt.zero_grad(set_to_none=True)
                value = objective(xb, yb)
                value.backward()
                return value
            data_loss[0] = None  # the first evaluation's: the loss before the step
            try:
                value = opt.step(closure)
            except RuntimeError as e:
                if "without overflow" not in str(e):
                    raise
                value = _blown_up(params)
            return value, weight_norms(weights, weights, [w.grad for w in weights]) if measure else None
        lbfgs_step.data_loss = data_loss
        return lbfgs_step

    def sgd_step(xb: torch.Tensor, yb: torch.Tensor, measure: bool):
        data_loss[0] = None
        value = objective(xb, yb)
        grads = gradients(value, params)
        norms = weight_norms(weights, params, grads) if measure else None
        if noise:
            for g, key, p in zip(grads, keys, params):
                g.add_(_rng.normal(key, counter, tuple(p.shape), p.dtype), alpha=noise)
        take_step(opt, params, grads)
        return value, norms

    sgd_step.data_loss = data_loss
    return sgd_step


def _epoch_metrics(model, dd: DeviceData, loss: str, grad_means: torch.Tensor, opt,
                   linears: list[str], step_losses: torch.Tensor | None = None) -> dict[str, Any]:
    """The epoch's metrics; with step_losses (train.log_every_steps), their values under "step_losses",
    read in the same single host sync."""
    values = evaluate(model, dd, loss)
    names = list(values) + [f"grad_norm/{name}" for name in linears]
    parts = [torch.stack(list(values.values())).double(), grad_means.double()]
    if step_losses is not None:
        parts.append(step_losses.double())
    flat = torch.cat(parts).tolist()  # one sync
    metrics: dict[str, Any] = dict(zip(names, flat))
    if step_losses is not None:
        metrics["step_losses"] = flat[len(names):]
    metrics["lr"] = float(opt.param_groups[0]["lr"])
    return metrics


def trial_artifacts(model, dd: DeviceData, data: Dataset, loss: str, tc: dict[str, Any]) -> dict[str, bytes]:
    """Every artifact of a trained model (also for a trial trained in a stack)."""
    dev, dtype = dd.splits["test"][0].device, dd.splits["test"][0].dtype
    return _artifacts(model, data, loss, dev, dtype) | classifier_artifacts(model, dd, data, loss,
                                                                           tc.get("save_weights", False))


@torch.no_grad()
def _artifacts(model, data: Dataset, loss: str, dev, dtype) -> dict[str, bytes]:
    model.eval()
    out = first_layer_artifact(model.linears()[0].weight.detach().cpu().numpy(), data,
                               is_output=len(model.linears()) == 1)
    grid = boundary_grid(data)
    if grid is not None:
        xx, yy, points = grid
        zz = predict(model(torch.as_tensor(data.encode(points), dtype=dtype, device=dev)), loss).cpu().numpy()
        out |= boundary_artifact(xx, yy, zz.reshape(xx.shape), data)
    points = fit_grid(data)
    if points is not None:  # a regression on 1 or 2 inputs: its prediction over them (report: regression_fit.png)
        pred = model(torch.as_tensor(data.encode(points), dtype=dtype, device=dev)).float().cpu().numpy()
        out |= fit_artifact(points, pred, data)
    return out
