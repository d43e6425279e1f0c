"""A user's module against the dtype the study trains in (``train.dtype``, ``train.precision``).

Training casts the module's parameters and the data to train.dtype and runs the forward under
train.precision's autocast. A forward that computes in another dtype either raises there (a float64 tensor it
makes meeting float32 weights): the check says why in one line; or returns a narrower dtype than train.dtype
(float32 math in a float64 study), which the loss's cast would hide: refused too. A wider output
(``.double()`` under float32 training) loses nothing and is cast back (``UserNet``).
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
    """The eval-mode forward of ``x`` under the precision's autocast."""
    with torch.no_grad(), forward_context({"precision": precision}, x.device)():
        return net.eval()(x)


def _runs(net: nn.Module, x: torch.Tensor, dtype: torch.dtype, precision: str) -> bool:
    try:
        forward(copy.deepcopy(net).to(dtype), x.to(dtype), precision)
    except KeyboardInterrupt:
        raise
    except BaseException:  # SystemExit too: the user's code must not end nnstudy
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


def fix(got: str, train: dict[str, Any]) -> str:
    """``got`` against train.dtype, and what to change: the module, or train.dtype where ``got`` is one."""
    line = (f"{got} but the study trains in {train['dtype']}: compute in the input's dtype (x.dtype) in forward, "
            f"not {got}")
    return line + (f', or set train.dtype = "{got}"' if got in DTYPES else "")


def check_dtype(out: torch.Tensor, train: dict[str, Any]) -> None:
    """ValueError (one line) when the output is narrower than the dtype training computes in (train.dtype; under
    train.precision = "bf16" bfloat16 is autocast's own)."""
    dtype = DTYPES[train["dtype"]]
    bf16 = train["precision"] == "bf16" and out.dtype == torch.bfloat16
    if out.dtype.itemsize < dtype.itemsize and not bf16:
        raise ValueError(f"its forward returns {fix(name(out.dtype), train)}")
