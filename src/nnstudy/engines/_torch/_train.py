"""One trial on the PyTorch engine: data on the device, one host sync per epoch."""

from __future__ import annotations

import copy
import io
import math
import time
from typing import Any

import numpy as np
import torch

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._mlp import MLP
from ._optim import make_optimizer, make_schedule
from ._tensors import DeviceData, evaluate, loss_fn


GRAD_NORM_SAMPLES = 256


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    mc, tc = trial.config["model"], trial.config["train"]
    dev = torch.device(device)
    dtype = torch.float64 if tc["dtype"] == "float64" else torch.float32
    torch.manual_seed(trial.seed)
    gen = torch.Generator(device=dev).manual_seed(trial.seed)
    dd = DeviceData.from_dataset(data, dev, dtype)
    x_train, y_train = dd.splits["train"]
    n = x_train.shape[0]
    model = MLP(x_train.shape[1], mc["hidden"], data.n_outputs, mc["activation"], mc["dropout"], mc["norm"])
    model = model.to(device=dev, dtype=dtype)
    params = list(model.parameters())
    opt = make_optimizer(params, tc)
    schedule = make_schedule(opt, tc["schedule"], tc["epochs"])
    stopper = EarlyStopper(tc["early_stopping"])
    batch = n if tc["batch_size"] == "full" else min(int(tc["batch_size"]), n)
    steps = n // batch if (mc["norm"] == "batch" and n % batch == 1) else math.ceil(n / batch)
    linears = model.linears()
    every = max(1, steps // GRAD_NORM_SAMPLES)  # gradient norms on evenly spaced steps: cheap and unbiased
    step = _make_step(model, opt, linears, tc, dd.regression, gen)

    history: list[dict[str, float]] = []
    train_time, status = 0.0, "done"
    for epoch in range(1, tc["epochs"] + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen, device=dev)
        grad_sums = [torch.zeros((), dtype=dtype, device=dev) for _ in linears]
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            norms = step(x_train[idx], y_train[idx], i % every == 0)
            if norms is not None:
                torch._foreach_add_(grad_sums, norms)
        if schedule is not None:
            schedule.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_time += time.perf_counter() - t0
        metrics = _epoch_metrics(model, dd, torch.stack(grad_sums) / len(range(0, steps, every)), opt,
                                 linears=model.linear_names)
        metrics["time_s"] = train_time
        history.append({"epoch": epoch, **metrics})
        on_epoch(epoch, metrics)
        if not math.isfinite(metrics["train_loss"]):
            status = "diverged"
            break
        if stopper.update(epoch, metrics, model):
            break
    final = _final_metrics(history, stopper, model, status)
    final["train_time_s"] = train_time
    final["epochs_run"] = float(len(history))
    artifacts = _decision_boundary(model, data, dev, dtype) if status == "done" else {}
    error = f"loss became {history[-1]['train_loss']} at epoch {len(history)}" if status == "diverged" else None
    return TrialResult(status, final, history, artifacts, error)


def _make_step(model, opt, linears, tc: dict[str, Any], regression: bool, gen: torch.Generator):
    l1, l2, noise = tc["l1"], tc["l2"], tc["grad_noise"]
    weights = [lin.weight for lin in linears]
    params = [p for p in model.parameters()]

    def objective(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        loss = loss_fn(model(xb), yb, regression)
        if l2:
            loss = loss + l2 * sum((w * w).sum() for w in weights)
        if l1:
            loss = loss + l1 * sum(w.abs().sum() for w in weights)
        return loss

    def grad_norms() -> list[torch.Tensor]:  # L2 norm of each layer's weight gradient
        return torch._foreach_norm([w.grad if w.grad is not None else torch.zeros_like(w) for w in weights])

    if isinstance(opt, torch.optim.LBFGS):
        def lbfgs_step(xb: torch.Tensor, yb: torch.Tensor, measure: bool):
            def closure():
                opt.zero_grad(set_to_none=True)
                loss = objective(xb, yb)
                loss.backward()
                return loss
            opt.step(closure)
            return grad_norms() if measure else None
        return lbfgs_step

    def sgd_step(xb: torch.Tensor, yb: torch.Tensor, measure: bool):
        opt.zero_grad(set_to_none=True)
        objective(xb, yb).backward()
        norms = grad_norms() if measure else None
        if noise:
            for p in params:
                p.grad.add_(torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype), alpha=noise)
        opt.step()
        return norms

    return sgd_step


def _epoch_metrics(model, dd: DeviceData, grad_means: torch.Tensor, opt, linears: list[str]) -> dict[str, float]:
    values = evaluate(model, dd)
    names = list(values) + [f"grad_norm/{name}" for name in linears]
    flat = torch.cat([torch.stack(list(values.values())).double(), grad_means.double()]).tolist()  # one sync
    metrics = dict(zip(names, flat))
    metrics["lr"] = float(opt.param_groups[0]["lr"])
    return metrics


class EarlyStopper:
    """Watches val_loss (train_loss without a validation split); keeps the best weights on request."""

    def __init__(self, cfg: dict[str, Any]):
        self.patience, self.min_delta, self.restore = cfg["patience"], cfg["min_delta"], cfg["restore_best"]
        self.best, self.best_epoch, self.wait, self.state = math.inf, 0, 0, None

    def update(self, epoch: int, metrics: dict[str, float], model: torch.nn.Module) -> bool:
        if self.patience == 0:
            return False
        value = metrics.get("val_loss", metrics["train_loss"])
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore:
                self.state = copy.deepcopy(model.state_dict())
            return False
        self.wait += 1
        return self.wait >= self.patience


def _final_metrics(history, stopper: EarlyStopper, model, status: str) -> dict[str, float]:
    row = history[-1]
    if status == "done" and stopper.state is not None and stopper.best_epoch != len(history):
        model.load_state_dict(stopper.state)
        row = history[stopper.best_epoch - 1]
    return {k: v for k, v in row.items() if k != "epoch" and k != "lr" and not k.startswith("grad_norm/")
            and k != "time_s"}


@torch.no_grad()
def _decision_boundary(model, data: Dataset, dev, dtype, grid: int = 200) -> dict[str, bytes]:
    if data.task != "classification" or data.x_test.ndim != 2 or data.x_test.shape[1] != 2:
        return {}
    x_all = np.concatenate([data.x_train, data.x_test])
    lo, hi = x_all.min(0), x_all.max(0)
    pad = 0.1 * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
    xx, yy = np.meshgrid(xs, ys)
    points = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=dtype, device=dev)
    model.eval()
    zz = model(points).argmax(1).cpu().numpy().reshape(grid, grid)
    buf = io.BytesIO()
    np.savez_compressed(buf, xx=xx, yy=yy, zz=zz, x=data.x_test, y=data.y_test, classes=np.array(data.classes))
    return {"decision_boundary.npz": buf.getvalue()}
