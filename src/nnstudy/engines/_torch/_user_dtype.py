"""A user's module against the dtype the study trains in (``train.dtype``, ``train.precision``).

Training casts the module's parameters and the data to train.dtype, runs the forward under
train.precision's autocast, and takes the output in the data's dtype for the loss. A forward that computes
in another dtype (a float64 tensor it makes, ``.double()`` under float32 training) either raises there or
returns that dtype, which the loss's cast would hide; both are refused before anything is stored. An output
that is only a wider copy of the training dtype's math (``return self.fc(x).double()``) loses nothing cast
back (``UserNet`` does) and trains as the output it copies.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ._precision import forward_context

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def forward(net: nn.Module, x: torch.Tensor, precision: str) -> Any:
    """The eval-mode forward of ``x`` under the precision's autocast (with autograd on: ``wider_copy`` reads
    the output's graph)."""
    with torch.enable_grad(), forward_context({"precision": precision}, x.device)():
        return net.eval()(x)


def _runs(net: nn.Module, x: torch.Tensor, dtype: torch.dtype, precision: str) -> bool:
    try:
        forward(copy.deepcopy(net).to(dtype), x.to(dtype), precision)
    except KeyboardInterrupt:
        raise
    except Exception:
        return False
    return True


def why_raised(net: nn.Module, x: torch.Tensor, train: dict[str, Any], e: Exception) -> str | None:
    """Why a forward that raised as trained raised, when its dtype is the reason: it runs without bf16's
    autocast, or in the other train.dtype; None otherwise."""
    if train["precision"] == "bf16":
        if _runs(net, x, x.dtype, "float32"):
            return (f'its forward raises {type(e).__name__} under train.precision = "bf16" (autocast to bfloat16) '
                    "and runs without it: cast mixed operands to one dtype in forward, or leave train.precision "
                    "out")
        return None
    other = "float64" if train["dtype"] == "float32" else "float32"
    if _runs(net, x, DTYPES[other], train["precision"]):
        return f"its forward raises {type(e).__name__} in {train['dtype']} and runs in {fix(other, train)}"
    return None


def wider_copy(out: torch.Tensor, dtype: torch.dtype) -> bool:
    """Whether ``out`` is a cast (``.double()``, ``.to(...)``) to a dtype wider than ``dtype``: casting it back
    loses nothing (a forward that computes in the wider dtype ends in its last operation, not in a cast)."""
    return (out.grad_fn is not None and out.grad_fn.name() == "ToCopyBackward0"
            and out.dtype.itemsize > dtype.itemsize)


def fix(got: str, train: dict[str, Any]) -> str:
    """``got`` against train.dtype, and what to change: the module, or train.dtype where ``got`` is one."""
    line = (f"{got} but the study trains in {train['dtype']}: compute in the input's dtype (x.dtype) in forward, "
            f"not {got}")
    return line + (f', or set train.dtype = "{got}"' if got in DTYPES else "")


def check_dtype(out: torch.Tensor, train: dict[str, Any]) -> None:
    """ValueError (one line) when the output's dtype is not the one training computes in (train.dtype, or
    bfloat16 under train.precision = "bf16") and not a wider copy of it."""
    dtype = DTYPES[train["dtype"]]
    allowed = {dtype, torch.bfloat16} if train["precision"] == "bf16" else {dtype}
    if out.dtype not in allowed and not wider_copy(out, dtype):
        raise ValueError(f"its forward returns {fix(name(out.dtype), train)}")
