"""Multi-head self-attention with its forward and backward side by side, on (B, T, dim) inputs.

The same maths and parameter layout as the torch engine's ``SelfAttention`` (_torch/_vit.py): one
``qkv`` Linear (dim -> 3 dim; its outputs read as (3, heads, dim / heads)), per head
softmax(q k^T / sqrt(d)) v, the heads concatenated again, then the ``proj`` Linear (dim -> dim).
Both Linears hold torch's weights transposed, like every NumPy Linear, so torch's state loads with a
transpose. Buffers are reused from step to step; the output is valid until the next forward.
"""

from __future__ import annotations

import numpy as np

from ._layers import Layer, Linear


class SelfAttention(Layer):
    """(B, T, dim) -> (B, T, dim). After a forward, ``q``, ``k``, ``v`` are (B, heads, T, dim / heads) and
    ``attn`` (the softmax weights) is (B, heads, T, T)."""

    def __init__(self, dim: int, heads: int, dtype, rng: np.random.Generator | None, need_dx: bool = True,
                 name: str = "attn"):
        super().__init__(dtype)
        if dim % heads:
            raise ValueError(f"heads = {heads} must divide dim = {dim}")
        self.dim, self.heads, self.need_dx = dim, heads, need_dx
        self.qkv = Linear(dim, 3 * dim, dtype, rng, need_dx=need_dx)
        self.proj = Linear(dim, dim, dtype, rng)
        self.params = self.qkv.params + self.proj.params  # torch's order: qkv.w, qkv.b, proj.w, proj.b
        self.grads = self.qkv.grads + self.proj.grads
        self.param_names = [f"{name}.{part}.{p}" for part in ("qkv", "proj") for p in ("weight", "bias")]

    def sublayers(self) -> list[Layer]:
        return [self.qkv, self.proj]

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        b, t, dim = x.shape
        h, d = self.heads, dim // self.heads
        qkv = self.qkv.forward(x.reshape(b * t, dim), train).reshape(b, t, 3, h, d)
        split = self.buf("qkv", (3, b, h, t, d))
        np.copyto(split, qkv.transpose(2, 0, 3, 1, 4))  # contiguous per head for the products
        self.q, self.k, self.v = split[0], split[1], split[2]
        attn = np.matmul(self.q, self.k.transpose(0, 1, 3, 2), out=self.buf("attn", (b, h, t, t)))
        attn *= 1.0 / np.sqrt(d)
        attn -= attn.max(-1, keepdims=True)  # softmax over the keys
        np.exp(attn, out=attn)
        attn /= attn.sum(-1, keepdims=True)
        self.attn = attn
        heads_out = np.matmul(attn, self.v, out=self.buf("o", (b, h, t, d)))
        merged = self.buf("merged", (b, t, h, d))
        np.copyto(merged, heads_out.transpose(0, 2, 1, 3))  # heads side by side again
        return self.proj.forward(merged.reshape(b * t, dim), train).reshape(b, t, dim)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        b, t, dim = dy.shape
        h, d = self.heads, dim // self.heads
        dmerged = self.proj.backward(dy.reshape(b * t, dim)).reshape(b, t, h, d)
        do = dmerged.transpose(0, 2, 1, 3)  # (B, h, T, d)
        dsplit = self.buf("dqkv", (b, t, 3, h, d))
        dq, dk, dv = (dsplit[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # views (B, h, T, d)
        np.matmul(self.attn.transpose(0, 1, 3, 2), do, out=dv)
        dattn = np.matmul(do, self.v.transpose(0, 1, 3, 2), out=self.buf("dattn", (b, h, t, t)))
        # softmax backward: dS = A * (dA - sum(dA * A)), then the 1 / sqrt(d) scale
        row = np.einsum("bhij,bhij->bhi", dattn, self.attn)[..., None]
        dattn -= row
        dattn *= self.attn
        dattn *= 1.0 / np.sqrt(d)
        np.matmul(dattn, self.k, out=dq)
        np.matmul(dattn.transpose(0, 1, 3, 2), self.q, out=dk)
        dx = self.qkv.backward(dsplit.reshape(b * t, 3 * dim))
        return None if dx is None else dx.reshape(b, t, dim)
