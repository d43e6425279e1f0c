"""The ``vit`` kind: a vision transformer (Dosovitskiy et al. 2021) for small images.

Patches -> linear embedding, a class token and learned positions -> ``depth`` pre-norm encoder
blocks (multi-head self-attention, MLP) -> layer norm -> the class token's output layer.
Signals (C, L) are images one pixel high, cut into 1 x patch pieces.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._cnn import layout
from ._mlp import CountedDropout


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over the last two dims: (..., T, d) -> (..., T, d)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.softmax(dim=-1) @ v


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> queries, keys and values stacked: (3, B, heads, T, D / heads)."""
        b, t, d = x.shape
        return self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.split_heads(x)
        return self.proj(attention(q, k, v).transpose(1, 2).reshape(b, t, d))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float, index: int = 0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), CountedDropout(dropout, 3 * index),
                                 nn.Linear(mlp_dim, dim), CountedDropout(dropout, 3 * index + 1))
        self.drop = CountedDropout(dropout, 3 * index + 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class PatchEmbedding(nn.Module):
    """(B, C*H*W) -> (B, patches, dim): cut into ph x pw patches, flatten each, project."""

    def __init__(self, shape: tuple[int, int, int], patch: int, dim: int):
        super().__init__()
        c, h, w = shape
        self.ph, self.pw = min(patch, h), patch
        if h % self.ph or w % self.pw:
            raise ValueError(f"patch = {patch} must divide the image size {h}x{w}")
        self.shape = shape
        self.n_patches = (h // self.ph) * (w // self.pw)
        self.proj = nn.Linear(c * self.ph * self.pw, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        x = x.view(x.shape[0], c, h // self.ph, self.ph, w // self.pw, self.pw)
        x = x.permute(0, 2, 4, 1, 3, 5).reshape(x.shape[0], self.n_patches, c * self.ph * self.pw)
        return self.proj(x)


class ViT(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], n_out: int, patch: int = 4, dim: int = 128,
                 depth: int = 6, heads: int = 4, mlp_dim: int = 256, dropout: float = 0.0):
        super().__init__()
        shape = layout(input_shape)
        if len(shape) == 2:
            shape = (shape[0], 1, shape[1])
        self.embed = PatchEmbedding(shape, patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, self.embed.n_patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim, dropout, i) for i in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_out)
        self.linear_names = ["embed"] + [f"block{i + 1}.{part}" for i in range(depth)
                                         for part in ("qkv", "proj", "mlp1", "mlp2")] + ["output"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        """Dropout masks from the trial's counter-based streams (_rng): the same alone or stacked."""
        for m in self.modules():
            if isinstance(m, CountedDropout):
                m.bind(seed, step, dtype)

    def linears(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, nn.Linear)]
