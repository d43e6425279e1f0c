"""The dataset moved to the device once, as tensors, and batched evaluation on it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...data._dataset import Dataset

EVAL_CHUNK = 8192
# values in a CPU evaluation chunk's widest activation (8 MB of float32): glibc's malloc gives a block over its mmap
# threshold (32 MB at most) back to the system when it is freed, so that every chunk faulted its activations in
# afresh. A CNN's 8,192 rows spent more time in the kernel than computing (2 cores: 13.2 s for 16,384 images, 12.1
# of them in the kernel, against 6.0 s at 64 rows) and held 4.3 GB.
CPU_EVAL_VALUES = 1 << 21
_widest: "weakref.WeakKeyDictionary[torch.nn.Module, int]" = weakref.WeakKeyDictionary()


@dataclass
class DeviceData:
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]  # name -> (x (n, d), y (n,) long | (n, k))
    regression: bool
    y_var: torch.Tensor | None = None  # (k,) variances of standardized targets: squared errors back to units

    @classmethod
    def from_dataset(cls, data: Dataset, device: torch.device, dtype: torch.dtype) -> "DeviceData":
        regression = data.task == "regression"
        splits = {}
        for name in ("train", "val", "test"):
            x = torch.as_tensor(getattr(data, f"x_{name}"), dtype=dtype, device=device).flatten(1)
            y = getattr(data, f"y_{name}")
            y = torch.as_tensor(data.scaled_targets(y), dtype=dtype, device=device) if regression else \
                torch.as_tensor(y, device=device).long()
            splits[name] = (x, y)
        y_var = None
        if regression and data.y_scale is not None:
            y_var = torch.as_tensor(data.y_scale, dtype=torch.float64, device=device).square()
        return cls(splits, regression, y_var)

    def squared_error(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Sum over the last two dims (rows, outputs) of the squared error in the targets' units, / outputs."""
        err = (pred - y).square().double()
        if self.y_var is not None:
            err = err * self.y_var
        return err.sum((-2, -1)) / y.shape[-1]


def loss_fn(out: torch.Tensor, y: torch.Tensor, kind: str, reduction: str = "mean") -> torch.Tensor:
    """The data loss of a head (engines/_common.Head.loss), mean or sum over the batch."""
    if kind == "cross_entropy":
        return F.cross_entropy(out, y, reduction=reduction)
    if kind == "mse":
        return F.mse_loss(out, y, reduction=reduction)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype), reduction=reduction)
    if kind == "perceptron":  # max_j s_j - s_y: its gradient is the mistake-driven update
        margin = out.gather(1, out.argmax(1, keepdim=True)) - out.gather(1, y[:, None])
        return margin.sum() if reduction == "sum" else margin.mean()
    raise ValueError(f"unknown loss {kind!r}")


def predict(out: torch.Tensor, kind: str) -> torch.Tensor:
    """(B,) class index: one logit scores class 1 when positive, else the largest output wins."""
    return (out[:, 0] > 0).long() if kind == "binary" else out.argmax(1)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dd: DeviceData, loss: str) -> dict[str, torch.Tensor]:
    """Loss and accuracy (or MSE/RMSE) per split, as 0-d device tensors: no host sync here."""
    was_training = model.training
    model.eval()
    out: dict[str, torch.Tensor] = {}
    chunk = eval_chunk(model, dd.splits["train"][0])
    for name, (x, y) in dd.splits.items():
        n = x.shape[0]
        if n == 0:
            continue
        loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
        hits = torch.zeros((), dtype=torch.float64, device=x.device)
        for start in range(0, n, chunk):
            xb, yb = x[start:start + chunk], y[start:start + chunk]
            pred = model(xb)
            if dd.regression:
                loss_sum += dd.squared_error(pred, yb)
            else:
                loss_sum += loss_fn(pred, yb, loss, reduction="sum").double()
                hits += (predict(pred, loss) == yb).sum()
        out |= split_metrics(name, loss_sum, hits, n, dd.regression)
    model.train(was_training)
    return out


def eval_chunk(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Rows of ``x`` per evaluation chunk: the model's own count (a ResNet's is smaller) or EVAL_CHUNK, on the CPU
    no more than keep its widest activation within CPU_EVAL_VALUES."""
    chunk = getattr(model, "eval_chunk", EVAL_CHUNK)
    if x.device.type != "cpu" or len(x) == 0:
        return chunk
    return cpu_rows(chunk, widest_activation(model, x[:1]), x.device)


def cpu_rows(rows: int, values_per_row: int, device: torch.device) -> int:
    """``rows`` per evaluation chunk, on the CPU no more than keep ``values_per_row`` x rows within
    CPU_EVAL_VALUES (every evaluation's rule: one model, or K stacked trials together)."""
    return rows if device.type != "cpu" else max(1, min(rows, CPU_EVAL_VALUES // values_per_row))


def widest_activation(model: torch.nn.Module, row: torch.Tensor, run: Callable | None = None) -> int:
    """The most values any of the model's layers outputs for one row (by one evaluation pass, ``run(row)``,
    default the model's forward; once per model)."""
    if model not in _widest:
        sizes = [row.numel()]
        hooks = [m.register_forward_hook(lambda m, args, out: sizes.append(out.numel() if torch.is_tensor(out)
                                                                           else 0))
                 for m in model.modules()]
        was_training = model.training
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):  # a user's module may draw: not from the trial's
                model.eval()
                (run or model)(row)
        finally:
            model.train(was_training)
            for h in hooks:
                h.remove()
        _widest[model] = max(sizes)
    return _widest[model]


def split_metrics(name: str, loss_sum: torch.Tensor, hits: torch.Tensor, n: int,
                  regression: bool) -> dict[str, torch.Tensor]:
    """A split's metrics from its summed loss and correct predictions (any leading trial dims)."""
    mean = loss_sum / n
    if regression:
        return {f"{name}_loss": mean, f"{name}_mse": mean, f"{name}_rmse": mean.sqrt()}
    return {f"{name}_loss": mean, f"{name}_accuracy": hits / n}
