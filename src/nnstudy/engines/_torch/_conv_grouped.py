"""The stacked CNN's 2-D convolutions and max pools for K trials as one grouped convolution (groups = K) and one
pool on a channels-last tensor: (B, K*C, H, W) in NHWC memory, the K trials' channels side by side.

cuDNN's tensor-core kernels for grouped convolutions want that layout, in bfloat16 above all: on an H200 a step
of K = 64 trials at batch 16 took 1.30 ms so written against 1.68 unfolded and 1.54 grouped in NCHW
(benchmarks/conv_forms.py). vmap's own batching rules would fold the trials into the batch at every pool and
copy the layout away, so the two ops carry their own rules (``torch.library.custom_op`` with ``register_vmap``):
each returns a (B, K, C, H, W) view of its NHWC result, which the next convolution or pool reads without a
copy. Autograd records the ops the rules run. Same sums as each trial's convolution; used by the stack only
(engines/_torch/_stack_vmap.py), never by a trial trained alone.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._conv_matmul import CONTIGUOUS_READERS, _pads

LAST = torch.channels_last


def trial_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], pads: list[int],
                 stride: list[int], dilation: list[int]) -> torch.Tensor:
    """One trial's convolution (zero padding ``pads`` as F.pad takes them, one group)."""
    return F.conv2d(F.pad(x, pads) if any(pads) else x, weight, bias, stride, 0, dilation)


def trial_max_pool2d(x: torch.Tensor, kernel: list[int], stride: list[int], padding: list[int],
                     dilation: list[int], ceil_mode: bool) -> torch.Tensor:
    return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)


def _trials_first(t: torch.Tensor, dim: int | None, k: int) -> torch.Tensor:
    return t.expand(k, *t.shape) if dim is None else t.movedim(dim, 0)


def _side_by_side(x: torch.Tensor, dim: int) -> torch.Tensor:
    """A batched (.., B, C, H, W) with the trials at ``dim`` -> (B, K*C, H, W) channels-last (a view when x is
    one of these ops' outputs)."""
    x = x.movedim(dim, 1)
    return x.reshape(x.shape[0], -1, *x.shape[3:]).contiguous(memory_format=LAST)


def _per_trial(out: torch.Tensor, k: int) -> tuple[torch.Tensor, int]:
    return out.view(out.shape[0], k, -1, *out.shape[2:]), 1


def _conv_rule(info, in_dims, x, weight, bias, pads, stride, dilation):
    k = info.batch_size
    x_dim, w_dim, b_dim = in_dims[:3]
    w = _trials_first(weight, w_dim, k)
    w = w.reshape(-1, *w.shape[2:]).contiguous(memory_format=LAST)
    b = None if bias is None else _trials_first(bias, b_dim, k).reshape(-1)
    # one batch for every trial (the evaluation's first layer): each trial's filters on it
    x, groups = (x, 1) if x_dim is None else (_side_by_side(x, x_dim), k)
    if any(pads):
        x = F.pad(x, pads)
    return _per_trial(F.conv2d(x.contiguous(memory_format=LAST), w, b, stride, 0, dilation, groups), k)


def _pool_rule(info, in_dims, x, kernel, stride, padding, dilation, ceil_mode):
    if in_dims[0] is None:
        return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), None
    out = F.max_pool2d(_side_by_side(x, in_dims[0]), kernel, stride, padding, dilation, ceil_mode)
    return _per_trial(out, info.batch_size)


AVAILABLE = hasattr(torch.library, "register_vmap")  # torch >= 2.5: custom operators with batching rules


@functools.cache
def _operators() -> tuple:
    """trial_conv2d and trial_max_pool2d as operators with their batching rules, made at first use (8 ms: not on
    the start of every stacked run)."""
    conv = torch.library.custom_op("nnstudy::trial_conv2d", mutates_args=())(trial_conv2d)
    conv.register_vmap(_conv_rule)
    pool = torch.library.custom_op("nnstudy::trial_max_pool2d", mutates_args=())(trial_max_pool2d)
    pool.register_vmap(_pool_rule)
    return conv, pool


def ready(module: nn.Module) -> bool:
    """Whether a model's convolutions can run so: 2-D ones only, and nothing that vmap cannot feed a
    channels-last tensor (a batch norm, an adaptive pool: _conv_matmul.convs_by_matmul says why)."""
    return AVAILABLE and (not any(isinstance(m, (nn.Conv1d, *CONTIGUOUS_READERS)) for m in module.modules())
            and any(isinstance(m, nn.Conv2d) for m in module.modules()))


@contextlib.contextmanager
def grouped_channels_last(module: nn.Module) -> Iterator[None]:
    """Within: the 2-D convolutions (one group, zero padding) and max pools of ``module`` (one trial's, vmapped)
    run through trial_conv2d and trial_max_pool2d; after: as before."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d) and m.groups == 1 and m.padding_mode == "zeros"]
    pools = [m for m in module.modules() if isinstance(m, nn.MaxPool2d) and not m.return_indices]
    conv_op, pool_op = _operators()
    for conv in convs:
        pads = _pads(conv.padding, conv.weight.shape[2:], conv.dilation, False)
        conv._conv_forward = lambda x, w, b, pads=pads, conv=conv: conv_op(
            x, w, b, pads, list(conv.stride), list(conv.dilation))
    for pool in pools:
        pool.forward = lambda x, p=pool: pool_op(x, *map(_two, (p.kernel_size, p.stride or p.kernel_size,
                                                                p.padding, p.dilation)), p.ceil_mode)
    try:
        yield
    finally:
        for conv in convs:
            del conv._conv_forward
        for pool in pools:
            del pool.forward


def _two(value: int | tuple[int, ...]) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)
