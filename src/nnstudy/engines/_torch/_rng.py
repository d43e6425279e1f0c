"""Counter-based random numbers: a value depends only on (trial seed, stream, step, element).

Dropout masks and gradient noise come from here, not from a stateful generator, so a trial draws the
same numbers whether it trains alone or stacked with others (whose draws would otherwise interleave
with its own). splitmix64's finalizer on int64 tensors: wrapping multiplication, logical shifts by
masking; 24 random bits per value, exact in float32.
"""

from __future__ import annotations

import torch

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64
_MUL1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_MUL2 = -7723592293110705685  # 0x94D049BB133111EB


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    return (x >> s) & ((1 << (64 - s)) - 1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    x = (x ^ _shr(x, 30)) * _MUL1
    x = (x ^ _shr(x, 27)) * _MUL2
    return x ^ _shr(x, 31)


def _int64(v: int) -> int:
    return (v + 2 ** 63) % 2 ** 64 - 2 ** 63


def stream_key(seed: torch.Tensor, stream: int) -> torch.Tensor:
    """int64 key of one random stream of a trial (seed: int64 tensor, any shape)."""
    return _mix(_mix(seed * _GOLDEN + 0x5DEECE66D) + _int64(stream * _GOLDEN))


def uniform(key: torch.Tensor, step: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """U[0, 1) over the elements of ``shape``, numbered in order; ``key`` adds leading (trial) dims:
    a key of shape (K, 1, 1) and shape (B, H) give (K, B, H), each trial's slice equal to its own draw."""
    n = 1
    for s in shape:
        n *= s
    index = torch.arange(n, device=key.device, dtype=torch.int64).view(shape)
    bits = _mix(_mix(key + step * _GOLDEN) + index)
    return _shr(bits, 40).to(dtype) * 2.0 ** -24


def normal(key: torch.Tensor, step: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """N(0, 1) like ``uniform``, by Box-Muller on two streams."""
    u1 = uniform(key, step, shape, dtype)
    u2 = uniform(_mix(key ^ 0x2545F4914F6CDD1D), step, shape, dtype)
    return torch.sqrt(-2.0 * torch.log1p(-u1)) * torch.cos(2.0 * torch.pi * u2)
