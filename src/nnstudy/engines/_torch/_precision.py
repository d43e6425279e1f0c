"""train.precision: the arithmetic of the training step's matrix products, with float32 master weights.

"float32": exact float32 (the default; on CUDA, cuDNN's convolutions too, which torch by default runs in
TensorFloat-32). "tf32": CUDA matrix products and convolutions in TensorFloat-32
(10-bit mantissa inputs, float32 accumulation); on the CPU there is no TF32 and the step stays float32.
"bf16": the forward pass under autocast to bfloat16 (CPU and CUDA), the loss and the update in float32.
Evaluation (every split's loss and accuracy after each epoch) runs without autocast: exact float32 for "float32"
and "bf16" (cuDNN's TF32 off on CUDA for both), TensorFloat-32 for "tf32" on CUDA, as its training step.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import torch

_NOTHING = contextlib.nullcontext()  # reusable and reentrant: one for every step of every trial


def precision_of(tc: dict[str, Any]) -> str:
    return tc.get("precision") or "float32"


@contextlib.contextmanager
def trial_precision(tc: dict[str, Any], device: torch.device) -> Iterator[None]:
    """Around a whole trial (or stack) on CUDA: TF32 on for "tf32", off for "float32" and "bf16" (matrix
    products and convolutions alike: a bf16 trial's evaluation, outside autocast, is float32 as torch's default
    TF32 convolutions would not be), and back as it was after."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision_of(tc) == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@contextlib.contextmanager
def autocast_convs(module: torch.nn.Module) -> Iterator[None]:
    """Within: ``module``'s convolutions compute in the autocast dtype when autocast is on, as one trial's do.
    vmap's batched convolutions escape autocast (torch 2.13: conv1d and conv2d under vmap stay float32 where one
    trial's run in bfloat16), so a stacked bf16 CNN convolved in float32. Their output goes on in the input's
    dtype: vmap's batch norm takes no bfloat16 input beside float32 statistics (the values are bfloat16's)."""
    convs = [m for m in module.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))]
    for conv in convs:
        conv._conv_forward = functools.partial(_autocast_conv, conv)
    try:
        yield
    finally:
        for conv in convs:
            del conv._conv_forward


def _autocast_conv(conv: torch.nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    kind = x.device.type
    if not _autocasting(kind):
        return type(conv)._conv_forward(conv, x, weight, bias)
    dtype = torch.get_autocast_dtype(kind) if hasattr(torch, "get_autocast_dtype") else torch.bfloat16
    low = type(conv)._conv_forward(conv, x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype))
    return low.to(x.dtype)


def _autocasting(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def forward_context(tc: dict[str, Any], device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """Decided once, where a training step is built: a maker of the context around each forward pass.
    "bf16": a fresh autocast to bfloat16 (no weight cache, so that a captured CUDA graph reads the current
    weights); otherwise one shared do-nothing context."""
    if precision_of(tc) != "bf16":
        return lambda: _NOTHING
    return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)
