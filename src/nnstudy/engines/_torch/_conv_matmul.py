"""A convolution as one matrix product (im2col): the stacked CNN's way to keep its K trials off grouped convolutions.

Under ``torch.func.vmap`` a ``conv2d`` whose weights carry the trial dimension becomes ONE grouped convolution
(groups = K), slow in cuDNN (its weight gradient above all). Written as windows x weight, the same
convolution becomes, for the K trials, one batched product (K, B*L, C*kh*kw) x (K, C*kh*kw, O): large,
tensor-core friendly matrix products, forward and backward. Same sums as the convolution (in another
order); used by the stack only (engines/_torch/_stack_vmap.py), never by a trial trained alone.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

CONTIGUOUS_READERS = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.BatchNorm1d, nn.BatchNorm2d)
MAX_WINDOW_VALUES = 1 << 28  # per convolution, all trials together (1 GiB of float32): larger ones stay grouped


def conv_by_matmul(conv: nn.Conv1d | nn.Conv2d, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   channels_last: bool = True, max_values: int | None = None) -> torch.Tensor:
    """What ``conv._conv_forward(x, weight, bias)`` gives (zero padding, one group), by windows x weight.

    x: (B, C, L) or (B, C, H, W); the output (B, O, ...) is laid out channels-last (B, ..., O) in memory as
    the product leaves it, or copied to the usual layout (``channels_last=False``). Windows of more than
    ``max_values`` values: the convolution itself (``type(conv)._conv_forward``) instead.
    """
    given = x, weight
    one_d = weight.dim() == 3
    if one_d:  # a signal is an image of height 1
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
    kernel = weight.shape[2:]
    stride, dilation = _pair(conv.stride, one_d), _pair(conv.dilation, one_d)
    pads = _pads(conv.padding, kernel, dilation, one_d)
    windows = F.pad(x, pads) if any(pads) else x
    for dim, (k, s, d) in enumerate(zip(kernel, stride, dilation), 2):  # (B, C, Ho, Wo, kh, kw) views
        windows = windows.unfold(dim, d * (k - 1) + 1, s)[..., ::d]
    b, c, ho, wo = windows.shape[:4]
    if max_values is not None and windows.numel() > max_values:  # the windows' copy would be too large
        return type(conv)._conv_forward(conv, *given, bias)
    if channels_inner(windows):  # each window (kh, kw, C): its copy reads runs of C neighbours
        cols, weight = windows.permute(0, 2, 3, 4, 5, 1), weight.permute(0, 2, 3, 1)
    else:  # each window (C, kh, kw), as the weight is stored
        cols = windows.permute(0, 2, 3, 1, 4, 5)
    cols = cols.reshape(b * ho * wo, c * kernel[0] * kernel[1])
    w = weight.reshape(weight.shape[0], -1).t()
    out = cols @ w if bias is None else torch.addmm(bias, cols, w)
    out = out.view(b, ho, wo, -1).permute(0, 3, 1, 2)
    out = out if channels_last else out.contiguous()
    return out.squeeze(2) if one_d else out


def channels_inner(windows: torch.Tensor) -> bool:
    """Whether the input lies channels-last in memory (as this module's outputs do): several channels,
    neighbours in memory."""
    return windows.shape[1] > 1 and windows.stride(1) == 1


def matmul_ready(conv: nn.Module) -> bool:
    """A 1-D or 2-D convolution that conv_by_matmul computes: one group, zero padding."""
    return isinstance(conv, (nn.Conv1d, nn.Conv2d)) and conv.groups == 1 and conv.padding_mode == "zeros"


@contextlib.contextmanager
def convs_by_matmul(module: nn.Module, k: int = 1) -> Iterator[None]:
    """Within: every convolution of ``module`` (one trial's, vmapped over ``k``) that conv_by_matmul computes
    does so, up to MAX_WINDOW_VALUES for the k trials; after: as before. Channels-last outputs, unless an
    adaptive pool or a batch norm reads them: vmap has no batching rule for the pool's channels-last backward
    (a slow fallback), and cuDNN's batch norm asks whether its input is channels-last, which vmap cannot
    answer ("NYI: querying is_contiguous inside of vmap", in a CUDA graph's capture on an H200)."""
    convs = [m for m in module.modules() if matmul_ready(m)]
    last = not any(isinstance(m, CONTIGUOUS_READERS) for m in module.modules())
    limit = MAX_WINDOW_VALUES // k
    for conv in convs:
        conv._conv_forward = lambda x, weight, bias, conv=conv: conv_by_matmul(conv, x, weight, bias, last, limit)
    try:
        yield
    finally:
        for conv in convs:
            del conv._conv_forward


def _pair(value: tuple[int, ...], one_d: bool) -> tuple[int, int]:
    """A stride or dilation for the 2-D computation: a signal's is (1, its own)."""
    return (1, value[0]) if one_d else (value[0], value[1])


def _pads(padding: str | tuple[int, ...], kernel: torch.Size, dilation: tuple[int, int],
          one_d: bool) -> list[int]:
    """F.pad's (left, right, top, bottom); "same" as torch's convolution: the odd extra on the right/bottom."""
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        (th, tw) = totals
        return [tw // 2, tw - tw // 2, th // 2, th - th // 2]
    ph, pw = (0, padding[0]) if one_d else padding
    return [pw, pw, ph, ph]
