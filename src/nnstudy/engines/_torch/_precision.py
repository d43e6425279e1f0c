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


def forward_context(tc: dict[str, Any], device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """Decided once, where a training step is built: a maker of the context around each forward pass.
    "bf16": a fresh autocast to bfloat16 (no weight cache, so that a captured CUDA graph reads the current
    weights); otherwise one shared do-nothing context."""
    if precision_of(tc) != "bf16":
        return lambda: _NOTHING
    return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)
