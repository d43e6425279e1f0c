"""K trials of one shape trained as one program: stacked weights, per-trial seeds and hyperparameters.

Each trial sees exactly what it would see alone (engines/_torch/_train.py): the same initial weights
(its model is built after ``torch.manual_seed(seed)``), the same shuffling (its own generator), the same
dropout masks and gradient noise (counter-based streams, _rng), its own learning-rate schedule, early
stopping and divergence. A trial that stops gets learning rate 0 and stops changing. On CUDA the
training step (batch gather, forward, backward, update) is captured once in a CUDA graph and replayed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from ...data._dataset import Dataset
from ...spec import Trial
from .._common import GRAD_NORM_SAMPLES, EpochLog, batch_plan, head_of
from .._result import GroupOnEpoch, TrialResult
from . import _rng
from ._mlp import NOISE_STREAM, build_model
from ._optim import make_schedule
from ._stack_net import StackedMLP
from ._stack_optim import StackedOptimizer, hyper
from ._tensors import DeviceData
from ._train import _artifacts

EVAL_ELEMENTS = 1 << 26  # rows per evaluation chunk x K x widest layer stays under this many values


def train_group(trials: list[Trial], data: Dataset, on_epoch: GroupOnEpoch, device: str = "cpu",
                mode: str | None = None) -> list[TrialResult]:
    """Train ``trials`` (equal ``stack_key``) together; one TrialResult each, as ``train_trial`` gives alone.

    mode: "graph" (CUDA default: the step captured once and replayed), "indexed" (the same step, with
    its batch picked on the device by a step counter, run eagerly) or "eager" (CPU default).
    """
    mc, tc0 = trials[0].config["model"], trials[0].config["train"]
    tcs = [t.config["train"] for t in trials]
    dev = torch.device(device)
    dtype = torch.float64 if tc0["dtype"] == "float64" else torch.float32
    dd = DeviceData.from_dataset(data, dev, dtype)
    x_train, y_train = dd.splits["train"]
    n, k = x_train.shape[0], len(trials)
    head = head_of(mc, data)
    models = []
    for t in trials:  # exactly as one trial alone builds its model
        torch.manual_seed(t.seed)
        models.append(build_model(t.config["model"], x_train.shape[1], head.n_out).to(device=dev, dtype=dtype))
    net = StackedMLP(models, mc, [t.seed for t in trials],
                     torch.tensor([t.config["model"].get("dropout", 0.0) for t in trials], dtype=dtype,
                                  device=dev).view(-1, 1, 1))
    gens = [torch.Generator(device=dev).manual_seed(t.seed) for t in trials]
    opt = StackedOptimizer(tc0["optimizer"], net.params, tcs)
    lrs = LearningRates(tcs)
    logs = [EpochLog(tc, lambda e, m, tid=t.trial_id: on_epoch(tid, e, m)) for t, tc in zip(trials, tcs)]
    views = [TrialView(net, i) for i in range(k)]
    batch, steps = batch_plan(n, tc0["batch_size"], mc.get("norm", "none"))
    full = n // batch if steps * batch > n else steps  # steps with a whole batch; the rest is one short step
    every = max(1, steps // GRAD_NORM_SAMPLES)
    measured = len(range(0, steps, every))
    stepper = Stepper(net, opt, tcs, head.loss, x_train, y_train, [t.seed for t in trials], batch, full, steps,
                      every, mode or ("graph" if dev.type == "cuda" else "eager"))
    epochs = [tc["epochs"] for tc in tcs]
    active = [True] * k
    train_time = [0.0] * k
    for epoch in range(1, max(epochs) + 1):
        t0 = time.perf_counter()
        opt.lr.copy_(torch.tensor([lr if a else 0.0 for lr, a in zip(lrs.current(), active)], dtype=dtype).view(-1, 1, 1))
        perm = torch.stack([torch.randperm(n, generator=g, device=dev) for g in gens])
        grad_sums = stepper.epoch(perm)
        lrs.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        elapsed = (time.perf_counter() - t0) / sum(active)
        values = evaluate_stacked(net, dd, head.loss)
        rows = torch.cat([torch.stack(list(values.values()), 1).double(), (grad_sums / measured).t().double()],
                         1).tolist()  # one host sync per epoch for all trials
        names = list(values) + [f"grad_norm/{name}" for name in models[0].linear_names]
        for i in range(k):
            if not active[i]:
                continue
            train_time[i] += elapsed
            metrics = dict(zip(names, rows[i]))
            metrics["lr"] = lrs.current()[i]
            if logs[i].record(epoch, metrics, train_time[i], views[i]) or epoch == epochs[i]:
                active[i] = False
                views[i].freeze()
        if not any(active):
            break
    return [log.result(view, train_time[i], lambda v=view, m=model: _trial_artifacts(v, m, data, head.loss, dev, dtype))
            for i, (log, view, model) in enumerate(zip(logs, views, models))]


class LearningRates:
    """Each trial's schedule, run by torch's own scheduler on a stand-in optimizer (so the values match)."""

    def __init__(self, tcs: list[dict[str, Any]]):
        self.opts, self.schedules = [], []
        for tc in tcs:
            opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tc["lr"])
            self.opts.append(opt)
            self.schedules.append(make_schedule(opt, tc["schedule"], tc["epochs"]))

    def current(self) -> list[float]:
        return [float(o.param_groups[0]["lr"]) for o in self.opts]

    def step(self) -> None:
        for opt, schedule in zip(self.opts, self.schedules):
            if schedule is not None:
                opt.step()  # no gradients: changes nothing, keeps the scheduler's order check quiet
                schedule.step()


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


def _trial_artifacts(view: TrialView, model, data: Dataset, loss: str, dev, dtype) -> dict[str, bytes]:
    model.load_state_dict(view.state_dict())
    return _artifacts(model, data, loss, dev, dtype)


class Stepper:
    """One epoch of updates for the whole stack; on CUDA the whole-batch step is one graph replay."""

    def __init__(self, net: StackedMLP, opt: StackedOptimizer, tcs: list[dict[str, Any]], loss: str,
                 x: torch.Tensor, y: torch.Tensor, seeds: list[int], batch: int, full: int, steps: int,
                 every: int, mode: str):
        self.net, self.opt, self.loss, self.x, self.y = net, opt, loss, x, y
        self.batch, self.full, self.steps, self.every = batch, full, steps, every
        dev, dt = x.device, x.dtype
        self.l1, self.l2 = hyper(tcs, "l1", dev, dt), hyper(tcs, "l2", dev, dt)
        self.noise = hyper(tcs, "grad_noise", dev, dt)
        self.has_l1, self.has_l2 = any(tc["l1"] for tc in tcs), any(tc["l2"] for tc in tcs)
        self.has_noise = any(tc["grad_noise"] for tc in tcs)
        seed_t = torch.tensor(seeds, dtype=torch.int64, device=dev)
        self.noise_keys = [_rng.stream_key(seed_t.view(-1, *([1] * (p.dim() - 1))), NOISE_STREAM + j)
                           for j, p in enumerate(net.params)]
        self.counter = torch.zeros((), dtype=torch.int64, device=dev)  # steps taken: the random streams' position
        self.position = torch.zeros(1, dtype=torch.int64, device=dev)  # step within the epoch (graph mode)
        k = len(seeds)
        self.grad_sums = torch.zeros(len(net.weights), k, dtype=dt, device=dev)
        weights = torch.zeros(max(full, 1), dtype=dt, device=dev)
        weights[::every] = 1.0
        self.measure_weight = weights
        self.perm = torch.zeros(k, max(full, 1) * batch, dtype=torch.int64, device=dev)
        self.mode, self.graph = mode, None
        if mode == "graph" and full > 0:
            self.graph = self._capture()

    def update(self, idx: torch.Tensor, measure: torch.Tensor | float) -> None:
        """One step of every trial on its own batch idx (K, B)."""
        xb, yb = self.x[idx], self.y[idx]
        out = self.net.forward(xb, self.counter)
        per_trial = _trial_losses(out, yb, self.loss, "sum" if self.loss == "perceptron" else "mean")
        total = per_trial.sum()
        if self.has_l2:
            total = total + sum((self.l2 * (w * w).sum((1, 2), keepdim=True)).sum() for w in self.net.weights)
        if self.has_l1:
            total = total + sum((self.l1 * w.abs().sum((1, 2), keepdim=True)).sum() for w in self.net.weights)
        grads = torch.autograd.grad(total, self.net.params)
        with torch.no_grad():
            wgrads = [g for g, t in zip(grads, self.net.alone_t) if t]
            norms = torch.stack([torch.linalg.vector_norm(g, dim=(1, 2)) for g in wgrads])
            self.grad_sums.add_(norms * measure)
            if self.has_noise:
                grads = [g + self._noise(j, p) for j, (g, p) in enumerate(zip(grads, self.net.params))]
            self.opt.step(list(grads))
            self.counter += 1

    def _noise(self, j: int, p: torch.Tensor) -> torch.Tensor:
        transposed = self.net.alone_t[j]
        shape = (p.shape[2], p.shape[1]) if transposed else (p.shape[-1],)
        z = _rng.normal(self.noise_keys[j], self.counter, shape, p.dtype)
        z = z.transpose(1, 2) if transposed else z.view(p.shape)
        return self.noise.view(-1, *([1] * (p.dim() - 1))) * z

    def _graph_step(self) -> None:
        idx = self.perm.view(self.perm.shape[0], -1, self.batch).index_select(1, self.position).squeeze(1)
        self.update(idx, self.measure_weight.index_select(0, self.position))
        self.position += 1

    def _state(self) -> list[torch.Tensor]:
        return self.net.params + self.net.buffers + self.opt.tensors() + [self.counter, self.position,
                                                                          self.grad_sums]

    def _capture(self):
        saved = [t.detach().clone() for t in self._state()]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up (cuBLAS handles, autograd), undone below
                self.position.zero_()
                self._graph_step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._graph_step()
        with torch.no_grad():
            for t, s in zip(self._state(), saved):
                t.copy_(s)
        return graph

    def epoch(self, perm: torch.Tensor) -> torch.Tensor:
        """All steps of one epoch on the per-trial permutations perm (K, n); the summed measured norms (L, K)."""
        self.grad_sums.zero_()
        b, full = self.batch, self.full
        if self.mode in ("graph", "indexed") and full > 0:
            self.perm.copy_(perm[:, :full * b])
            self.position.zero_()
            for _ in range(full):
                self.graph.replay() if self.graph is not None else self._graph_step()
        else:
            for i in range(full):
                self.update(perm[:, i * b:(i + 1) * b], 1.0 if i % self.every == 0 else 0.0)
        if self.steps > full:
            self.update(perm[:, full * b:], 1.0 if full % self.every == 0 else 0.0)
        return self.grad_sums


def _trial_losses(out: torch.Tensor, y: torch.Tensor, loss: str, reduction: str = "mean") -> torch.Tensor:
    """(K,) data loss of each trial on its batch: out (K, B, C), y (K, B) or (K, B, C)."""
    k, b = out.shape[:2]
    if loss == "cross_entropy":
        per = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(k, b)
    elif loss == "mse":
        per = (out - y).square().mean(2)
    elif loss == "binary":
        per = F.binary_cross_entropy_with_logits(out[..., 0], y.to(out.dtype), reduction="none")
    elif loss == "perceptron":  # as _tensors.loss_fn: the top score minus the true class's
        per = (out.gather(2, out.argmax(2, keepdim=True)) - out.gather(2, y[..., None]))[..., 0]
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return per.mean(1) if reduction == "mean" else per.sum(1)


@torch.no_grad()
def evaluate_stacked(net: StackedMLP, dd: DeviceData, loss: str) -> dict[str, torch.Tensor]:
    """Loss and accuracy (or MSE/RMSE) per split for every trial, (K,) device tensors; inputs shared."""
    k = net.k
    widest = max(layer["W"].shape[2] for layer in net.layers)
    rows = max(1, EVAL_ELEMENTS // (k * widest))
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
                loss_sum += (pred - yk).square().sum((1, 2)).double() / yb.shape[1]
            else:
                loss_sum += _trial_losses(pred, yk, loss, reduction="sum").double()
                guess = (pred[..., 0] > 0).long() if loss == "binary" else pred.argmax(2)
                hits += (guess == yk).sum(1)
        mean = loss_sum / n
        out[f"{name}_loss"] = mean
        if dd.regression:
            out[f"{name}_mse"] = mean
            out[f"{name}_rmse"] = mean.sqrt()
        else:
            out[f"{name}_accuracy"] = hits / n
    return out
