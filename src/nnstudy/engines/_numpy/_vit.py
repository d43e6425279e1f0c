"""The ``vit`` kind on the NumPy engine: the torch engine's vision transformer (_torch/_vit.py), layer by
layer with forward and backward side by side, as a plain stack of (composite) layers:

    PatchEmbedding -> ClassTokenPositions -> EncoderBlock x depth -> ClassTokenNorm -> Linear (output)

Every torch tensor has its NumPy counterpart of the same shape (Linear weights transposed), named as
`nnstudy gradcheck` shows them (``blocks.0.attn.qkv.weight`` is ``block1.qkv.weight``, ``head`` is
``output``; tests/test_numpy_attention.py maps the names and checks outputs and gradients equal). The
final layer norm is applied to the class token only: layer norm works token by token, so this equals
torch's norm of every token followed by ``x[:, 0]``. Dropout draws its own masks (the NumPy engine's
dropout stream), not torch's counter-based ones.
"""

from __future__ import annotations

import numpy as np

from ._activations import Activation
from ._attention import SelfAttention
from ._layers import Dropout, Layer, Linear
from ._network import Network
from ._norm import LayerNorm


class PatchEmbedding(Layer):
    """(B, C*H*W) -> (B, patches, dim): cut into ph x pw patches (ph = min(patch, H)), flatten each, project."""

    def __init__(self, shape: tuple[int, int, int], patch: int, dim: int, dtype, rng):
        super().__init__(dtype)
        c, h, w = shape
        self.ph, self.pw = min(patch, h), patch
        if h % self.ph or w % self.pw:
            raise ValueError(f"patch = {patch} must divide the image size {h}x{w}")
        self.shape, self.n_patches = shape, (h // self.ph) * (w // self.pw)
        self.proj = Linear(c * self.ph * self.pw, dim, dtype, rng, need_dx=False)  # the input needs no gradient
        self.params, self.grads = self.proj.params, self.proj.grads
        self.param_names = ["embed.weight", "embed.bias"]

    def sublayers(self) -> list[Layer]:
        return [self.proj]

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        (c, h, w), b = self.shape, x.shape[0]
        cut = x.reshape(b, c, h // self.ph, self.ph, w // self.pw, self.pw).transpose(0, 2, 4, 1, 3, 5)
        patches = self.buf("patches", (b, self.n_patches, c * self.ph * self.pw))
        np.copyto(patches.reshape(cut.shape), cut)
        return self.proj.forward(patches.reshape(b * self.n_patches, -1), train).reshape(b, self.n_patches, -1)

    def backward(self, dy: np.ndarray) -> None:
        self.proj.backward(dy.reshape(-1, dy.shape[-1]))
        return None


class ClassTokenPositions(Layer):
    """(B, N, dim) -> (B, N + 1, dim): the class token first, then learned positions added to every token."""

    def __init__(self, n_patches: int, dim: int, dtype, rng: np.random.Generator | None):
        super().__init__(dtype)
        self.cls = np.zeros((1, 1, dim), dtype)
        self.pos = (rng.normal(0.0, 0.02, (1, n_patches + 1, dim)) if rng is not None
                    else np.zeros((1, n_patches + 1, dim))).astype(dtype)
        self.dcls, self.dpos = np.zeros_like(self.cls), np.zeros_like(self.pos)
        self.params, self.grads = [self.cls, self.pos], [self.dcls, self.dpos]
        self.param_names = ["cls", "pos"]

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        b, n, dim = x.shape
        y = self.buf("y", (b, n + 1, dim))
        y[:, :1] = self.cls
        y[:, 1:] = x
        y += self.pos
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.sum(dy[:, :1], axis=0, keepdims=True, out=self.dcls)
        np.sum(dy, axis=0, keepdims=True, out=self.dpos)
        return dy[:, 1:]


class EncoderBlock(Layer):
    """Pre-norm: x + drop(attn(norm1(x))), then + drop(mlp2(drop(gelu(mlp1(norm2(.)))))); (B, T, dim)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float, index: int, dtype, init, drop_rng):
        super().__init__(dtype)
        self.norm1, self.norm2 = LayerNorm(dim, dtype), LayerNorm(dim, dtype)
        self.attn = SelfAttention(dim, heads, dtype, init)
        self.mlp1, self.gelu = Linear(dim, mlp_dim, dtype, init), Activation("gelu", dtype)
        self.mlp2 = Linear(mlp_dim, dim, dtype, init)
        self.drops = [Dropout(dropout, dtype, drop_rng) for _ in range(3)] if dropout > 0 else []
        order = [self.norm1, self.attn, self.norm2, self.mlp1, self.mlp2]  # torch's parameter order
        self.params = [p for layer in order for p in layer.params]
        self.grads = [g for layer in order for g in layer.grads]
        name = f"block{index + 1}"
        self.param_names = [f"{name}.{part}.{p}" for part in ("norm1", "qkv", "proj", "norm2", "mlp1", "mlp2")
                            for p in ("weight", "bias")]

    def sublayers(self) -> list[Layer]:
        return [self.attn.qkv, self.attn.proj, self.mlp1, self.mlp2, *self.drops]

    def _drop(self, i: int, x: np.ndarray, train: bool) -> np.ndarray:
        return self.drops[i].forward(x, train) if self.drops else x

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        b, t, dim = x.shape
        h = self.norm1.forward(x.reshape(b * t, dim), train).reshape(b, t, dim)
        mid = np.add(x, self._drop(2, self.attn.forward(h, train), train), out=self.buf("mid", x.shape))
        h = self.norm2.forward(mid.reshape(b * t, dim), train)
        h = self._drop(0, self.gelu.forward(self.mlp1.forward(h, train), train), train)
        h = self._drop(1, self.mlp2.forward(h, train), train)
        return np.add(mid, h.reshape(b, t, dim), out=self.buf("y", x.shape))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        b, t, dim = dy.shape
        d = self.buf("d", (b * t, dim))  # dropout's and GELU's backward overwrite their dy
        np.copyto(d, dy.reshape(b * t, dim))
        if self.drops:
            d = self.drops[1].backward(d)
        d = self.gelu.backward(self.mlp2.backward(d))
        if self.drops:
            d = self.drops[0].backward(d)
        dmid = np.add(dy.reshape(b * t, dim), self.norm2.backward(self.mlp1.backward(d)),
                      out=self.buf("dmid", (b * t, dim)))
        d = self.buf("d", (b * t, dim))
        np.copyto(d, dmid)
        d = d.reshape(b, t, dim)
        if self.drops:
            d = self.drops[2].backward(d)
        d = self.attn.backward(d).reshape(b * t, dim)
        dmid += self.norm1.backward(d)
        return dmid.reshape(b, t, dim)


class ClassTokenNorm(Layer):
    """(B, T, dim) -> (B, dim): the class token's output, layer-normed (the ViT's final norm)."""

    def __init__(self, dim: int, dtype):
        super().__init__(dtype)
        self.norm = LayerNorm(dim, dtype)
        self.params, self.grads, self.param_names = self.norm.params, self.norm.grads, ["norm.weight", "norm.bias"]

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.shape = x.shape
        return self.norm.forward(np.ascontiguousarray(x[:, 0]), train)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = self.buf("dx", self.shape)
        dx.fill(0.0)
        dx[:, 0] = self.norm.backward(dy)
        return dx


def image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) as the torch ViT reads it (_torch/_cnn.layout): (L,) and (1, L) are one-channel signals,
    (H, W) a one-channel image, and a signal (C, L) is an image one pixel high."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (1, shape[0])
    elif len(shape) == 2 and shape[0] != 1:
        shape = (1, *shape)
    if len(shape) == 2:
        return (shape[0], 1, shape[1])
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    raise ValueError(f"input shape {input_shape} is neither a signal (C, L) nor an image (C, H, W)")


def vit_network(input_shape: tuple[int, int, int], n_out: int, patch: int, dim: int, depth: int, heads: int,
                mlp_dim: int, dropout: float, dtype, init: np.random.Generator | None,
                drop_rng: np.random.Generator | None) -> Network:
    """The torch ViT's layers on (B, C*H*W) inputs of an image of ``input_shape`` (C, H, W)."""
    embed = PatchEmbedding(input_shape, patch, dim, dtype, init)
    layers: list[Layer] = [embed, ClassTokenPositions(embed.n_patches, dim, dtype, init)]
    layers += [EncoderBlock(dim, heads, mlp_dim, dropout, i, dtype, init, drop_rng) for i in range(depth)]
    layers += [ClassTokenNorm(dim, dtype), Linear(dim, n_out, dtype, init)]
    names = ["embed"] + [f"block{i + 1}.{part}" for i in range(depth) for part in ("qkv", "proj", "mlp1", "mlp2")]
    return Network(layers, names + ["output"])

