"""K trials of one shape trained as one program: stacked weights, per-trial seeds and hyperparameters.

Each trial sees exactly what it would see alone (engines/_torch/_train.py): the same initial weights
(those its model gets when built after ``torch.manual_seed(seed)``; the MLP family's are drawn straight into
the stacked tensors, _stack_init), the same shuffling (its own generator), the same dropout masks and
gradient noise (counter-based streams, _rng), its own learning-rate schedule, early stopping and divergence. A trial that stops gets learning rate 0 and stops changing. On CUDA the
training step (batch gather, forward, backward, update) is captured once in a CUDA graph and replayed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import torch

from ...data._dataset import Dataset
from ...kinds import of
from ...spec import Trial
from .._common import EpochLog, batch_plan, grad_norm_steps, head_of, planned_epochs, plateau_of, steps_in_epoch
from .._checkpoint import Checkpoints
from .._result import GroupOnEpoch, TrialResult
from ._clock import EpochClock
from ._mlp import build_trainable
from ._optim import make_schedule
from ._precision import precision_of, trial_precision
from ._stack_init import ArtifactModels, draw_stack, drawable, stack_modules
from ._stack_net import StackedMLP
from ._stack_optim import StackedOptimizer
from ._stack_step import Stepper, trial_losses
from ._stack_vmap import VmapNet, quiet_slow_ops
from ._tensors import DeviceData, split_metrics
from ._train import trial_artifacts
from ._trial_state import restore_stack, stack_state


def train_group(trials: list[Trial], data: Dataset, on_epoch: GroupOnEpoch, device: str = "cpu",
                mode: str | None = None, stop: Callable[[int], bool] | None = None) -> list[TrialResult]:
    """Train ``trials`` (equal ``stack_key``) together; one TrialResult each, as ``train_trial`` gives alone.

    stop: asked after every epoch that leaves a trial still training; True ends the training of all
    (the median pruner of a search); the results then hold what each trial had at that moment.

    mode: "graph" (CUDA default: the step captured once and replayed), "indexed" (the same step, with
    its batch picked on the device by a step counter, run eagerly) or "eager" (CPU default).
    """
    with trial_precision(trials[0].config["train"], torch.device(device)), quiet_slow_ops():
        return _train_group(trials, data, on_epoch, device, mode, stop)


def _train_group(trials: list[Trial], data: Dataset, on_epoch: GroupOnEpoch, device: str, mode: str | None,
                 stop: Callable[[int], bool] | None) -> list[TrialResult]:
    mc, tc0 = trials[0].config["model"], trials[0].config["train"]
    tcs = [t.config["train"] for t in trials]
    dev = torch.device(device)
    dtype = torch.float64 if tc0["dtype"] == "float64" else torch.float32
    dd = DeviceData.from_dataset(data, dev, dtype)
    x_train, y_train = dd.splits["train"]
    n, k = x_train.shape[0], len(trials)
    head = head_of(mc, data)
    counter = torch.zeros((), dtype=torch.int64, device=dev)  # steps taken: the random streams' position
    kind, seeds = of(mc), [t.seed for t in trials]
    mcs = [t.config["model"] for t in trials]
    layers = None
    if kind.stacking == "mlp" and drawable(mc):  # the K starts drawn straight into stacked tensors
        layers = draw_stack(mcs, seeds, x_train.shape[1], head.n_out, data.input_shape)
    models = None if layers is not None else [_built(t, x_train.shape[1], head.n_out, data, counter, dev, dtype)
                                              for t in trials]
    if kind.stacking == "mlp":
        net = StackedMLP(layers if layers is not None else stack_modules(models), mc, seeds,
                         torch.tensor([m.get("dropout", 0.0) for m in mcs], dtype=dtype, device=dev).view(-1, 1, 1),
                         dev, dtype)
    else:
        net = VmapNet(models, counter, precision_of(tc0))
    del layers
    artifact_models = ArtifactModels(models, mcs, x_train.shape[1], head.n_out, data.input_shape, dev, dtype)
    gens = [torch.Generator(device=dev).manual_seed(t.seed) for t in trials]
    opt = StackedOptimizer(tc0["optimizer"], net.params, tcs)
    logs = [EpochLog(tc, lambda e, m, tid=t.trial_id: on_epoch(tid, e, m)) for t, tc in zip(trials, tcs)]
    views = [TrialView(net, i) for i in range(k)]
    batch, steps = batch_plan(n, tc0["batch_size"], "batch" if kind.batch_norm(mc) else "none")
    lrs = LearningRates(tcs, steps)
    full = n // batch if steps * batch > n else steps  # steps with a whole batch; the rest is one short step
    every, _ = grad_norm_steps(steps)
    stepper = Stepper(net, opt, tcs, head.loss, x_train, y_train, [t.seed for t in trials], counter, batch, full,
                      steps, every, mode or ("graph" if dev.type == "cuda" else "eager"))
    epochs = [planned_epochs(tc, steps) for tc in tcs]  # train.steps is one for the whole stack (its key)
    active = [True] * k
    train_time = [0.0] * k
    checkpoints, first = Checkpoints(tc0, [t.trial_id for t in trials]), 1
    saved = checkpoints.resume(lambda state: ({k: state[k] for k in ("params", "buffers", "optimizer")},
                                              {"params": list(net.params), "buffers": list(net.buffers),
                                               "optimizer": opt.tensors()}))
    if saved is not None:
        first = saved[0] + 1
        active, train_time = restore_stack(saved[1], net, opt, gens, counter, lrs, logs, views)
    clock, chunk = EpochClock(dev), eval_rows(net, dd)  # the evaluation's rows: free memory asked once
    for epoch in range(first, max(epochs) + 1):
        clock.start()
        lrs_now = lrs.current()
        opt.lr.copy_(torch.tensor([lr if a else 0.0 for lr, a in zip(lrs_now, active)], dtype=dtype).view(-1, 1, 1))
        perm = torch.stack([torch.randperm(n, generator=g, device=dev) for g in gens])
        taken = steps_in_epoch(tc0, steps, epoch)
        grad_sums = stepper.epoch(perm, taken)
        lrs.step()
        clock.stop()
        values = evaluate_stacked(net, dd, head.loss, chunk)
        parts = [torch.stack(list(values.values()), 1).double(),
                 (grad_sums / len(range(0, taken, every))).t().double()]
        if stepper.log_steps:
            parts.append(stepper.step_losses[:, :taken].double())
        rows = torch.cat(parts, 1).tolist()  # one host sync per epoch for all trials
        elapsed = clock.seconds() / sum(active)
        names = list(values) + [f"grad_norm/{name}" for name in artifact_models.linear_names]
        for i in range(k):
            if not active[i]:
                continue
            train_time[i] += elapsed
            metrics = dict(zip(names, rows[i]))
            if logs[i].every:
                logs[i].record_steps(epoch, rows[i][len(names):], lrs_now[i])
            metrics["lr"] = lrs.after_epoch(i, metrics)
            if logs[i].record(epoch, metrics, train_time[i], views[i]) or epoch == epochs[i]:
                active[i] = False
                views[i].freeze()
        if any(active):
            checkpoints.after_epoch(epoch, epoch == max(epochs), lambda: stack_state(
                net, opt, gens, counter, lrs, logs, views, active, train_time))
        if not any(active) or (stop is not None and stop(epoch)):
            break
    def result(i: int) -> TrialResult:
        return logs[i].result(views[i], train_time[i], lambda: _trial_artifacts(
            views[i], artifact_models.of(i), dd, data, head.loss, tcs[i]))

    with ThreadPoolExecutor(max(1, min(k, ARTIFACT_THREADS, os.cpu_count() or 1))) as pool:
        return list(pool.map(result, range(k)))  # compression and numpy release the GIL: K trials' artifacts


def _built(trial: Trial, n_in: int, n_out: int, data: Dataset, counter: torch.Tensor, dev: torch.device,
           dtype: torch.dtype) -> torch.nn.Module:
    """The trial's model exactly as it is built alone (its seed, then its module), on the device."""
    torch.manual_seed(trial.seed)
    model = build_trainable(trial.config["model"], n_in, n_out, data.input_shape).to(device=dev, dtype=dtype)
    model.bind_rng(trial.seed, counter, dtype)
    return model


ARTIFACT_THREADS = 16  # the trials' artifacts (predictions, compressed arrays) side by side at the stack's end
TORCH_SCHEDULED = ("step", "cosine")  # the schedules _optim.make_schedule leaves to torch's schedulers


class LearningRates:
    """Each trial's schedule, run by torch's own scheduler on a stand-in optimizer (so the values match);
    a plateau schedule by engines._common.Plateau, as alone. A trial without a torch scheduler keeps its rate
    in a ``FixedRate`` (building the process's first torch optimizer imports torch._dynamo: seconds)."""

    def __init__(self, tcs: list[dict[str, Any]], steps_per_epoch: int):
        self.opts, self.schedules, self.plateaus = [], [], []
        for tc in tcs:
            opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tc["lr"]) \
                if tc["schedule"]["kind"] in TORCH_SCHEDULED else FixedRate(tc["lr"])
            self.opts.append(opt)
            self.schedules.append(make_schedule(opt, tc["schedule"], planned_epochs(tc, steps_per_epoch)))
            self.plateaus.append(plateau_of(tc))

    def current(self) -> list[float]:
        return [float(o.param_groups[0]["lr"]) for o in self.opts]

    def after_epoch(self, i: int, metrics: dict[str, float]) -> float:
        """Trial i's learning rate for the next epoch, once its epoch's metrics are known."""
        plateau = self.plateaus[i]
        if plateau is not None:
            self.opts[i].param_groups[0]["lr"] = plateau.step(metrics)
        return float(self.opts[i].param_groups[0]["lr"])

    def step(self) -> None:
        for opt, schedule in zip(self.opts, self.schedules):
            if schedule is not None:
                opt.step()  # no gradients: changes nothing, keeps the scheduler's order check quiet
                schedule.step()


class FixedRate:
    """A stand-in optimizer's learning rate, without a torch optimizer; its state dict in a torch optimizer's
    form, and a checkpoint's torch SGD state (as stacks without a schedule stored it before) restores into it."""

    def __init__(self, lr: float):
        self.param_groups = [{"lr": lr}]

    def state_dict(self) -> dict[str, Any]:
        return {"state": {}, "param_groups": [{"lr": self.param_groups[0]["lr"], "params": [0]}]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.param_groups[0]["lr"] = state["param_groups"][0]["lr"]


class TrialView:
    """One trial of the stack as the model EpochLog expects: state_dict / load_state_dict."""

    def __init__(self, net: StackedMLP, index: int):
        self.net, self.index = net, index
        self.frozen: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.frozen if self.frozen is not None else self.net.trial_state(self.index)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.frozen = state

    def freeze(self) -> None:
        """Keep the weights the trial stopped with (batch-norm statistics would go on changing)."""
        self.frozen = self.net.trial_state(self.index)


def _trial_artifacts(view: TrialView, model, dd: DeviceData, data: Dataset, loss: str,
                     tc: dict[str, Any]) -> dict[str, bytes]:
    model.load_state_dict(view.state_dict())
    return trial_artifacts(model, dd, data, loss, tc)


@torch.no_grad()
def evaluate_stacked(net: StackedMLP, dd: DeviceData, loss: str,
                     rows: int | None = None) -> dict[str, torch.Tensor]:
    """Loss and accuracy (or MSE/RMSE) per split for every trial, (K,) device tensors; inputs shared; ``rows``:
    the chunk (default: ``eval_rows``, asked of the device's free memory)."""
    k = net.k
    rows = rows or eval_rows(net, dd)
    out: dict[str, torch.Tensor] = {}
    for name, (x, y) in dd.splits.items():
        n = x.shape[0]
        if n == 0:
            continue
        loss_sum = torch.zeros(k, dtype=torch.float64, device=x.device)
        hits = torch.zeros(k, dtype=torch.float64, device=x.device)
        for start in range(0, n, rows):
            xb, yb = x[start:start + rows], y[start:start + rows]
            pred = net.forward(xb, train=False)
            yk = yb.expand(k, *yb.shape)
            if dd.regression:
                loss_sum += dd.squared_error(pred, yk)
            else:
                loss_sum += trial_losses(pred, yk, loss, reduction="sum").double()
                guess = (pred[..., 0] > 0).long() if loss == "binary" else pred.argmax(2)
                hits += (guess == yk).sum(1)
        out |= split_metrics(name, loss_sum, hits, n, dd.regression)
    return out


def eval_rows(net: StackedMLP, dd: DeviceData) -> int:
    return net.eval_rows(dd.splits["train"][0].shape[1]) * eval_scale(dd.splits["train"][0].device)


def eval_scale(dev: torch.device) -> int:
    """How many times the nets' evaluation chunks a GPU takes: one per 4 GiB free, at most 8 (fewer, larger
    batched matmuls; at K = 64 the CNN's chunk is 41 rows, ~1,700 vmapped passes per evaluation)."""
    if dev.type != "cuda":
        return 1
    free, _ = torch.cuda.mem_get_info(dev)
    return int(min(8, max(1, free // (4 << 30))))

