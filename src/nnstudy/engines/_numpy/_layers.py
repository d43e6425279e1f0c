"""Layers with their forward and backward side by side: the base class, Linear and Dropout (activations
in _activations.py, normalization in _norm.py). Inputs are (B, features).

``forward(x, train)`` keeps what ``backward`` needs; ``backward(dy)`` fills ``grads`` (same order as
``params``) and returns dL/dx. Outputs live in buffers reused from step to step (no allocation per
step): a layer's output is valid until its next forward. ``backward`` may overwrite ``dy``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

class Layer:
    params: list[np.ndarray] = []
    grads: list[np.ndarray] = []
    buffers: list[np.ndarray] = []  # state that is not trained (batch norm's running statistics)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._bufs: dict[str, np.ndarray] = {}

    def buf(self, name: str, shape: tuple[int, ...], dtype=None) -> np.ndarray:
        """A scratch array kept between calls (of the layer's dtype unless given); a new one only when the shape
        changes."""
        a = self._bufs.get(name)
        if a is None or a.shape != shape:
            a = self._bufs[name] = np.empty(shape, self.dtype if dtype is None else dtype)
        return a


def ones(bufs: dict[str, np.ndarray], n: int, dtype) -> np.ndarray:
    """n ones, kept in ``bufs``: a sum as one BLAS product (``ones @ dy`` over a batch: a third of ``dy.sum(0)``'s
    time; ``p @ ones`` over a few classes: a sixth of ``p.sum(1)``'s)."""
    a = bufs.get("ones")
    if a is None or len(a) != n or a.dtype != dtype:
        a = bufs["ones"] = np.ones(n, dtype)
    return a


class Linear(Layer):
    """y = x W + b, W (in, out): torch's weight transposed, which makes the forward product (B, in) @ (in, out)
    contiguous for BLAS. PyTorch's default init U(-1/sqrt(in), 1/sqrt(in)) for W and b; zeros without rng."""

    def __init__(self, n_in: int, n_out: int, dtype, rng: np.random.Generator | None, need_dx: bool = True):
        super().__init__(dtype)
        bound = 1.0 / np.sqrt(n_in)
        if rng is None:
            self.w, self.b = np.zeros((n_in, n_out), dtype), np.zeros(n_out, dtype)
        else:
            self.w = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype)
            self.b = rng.uniform(-bound, bound, n_out).astype(dtype)
        self.dw, self.db = np.zeros_like(self.w), np.zeros_like(self.b)
        self.params, self.grads = [self.w, self.b], [self.dw, self.db]
        self.need_dx = need_dx  # the first layer's dL/dx is never used
        self.threads: Callable[[bool], None] | None = None  # _blas.wider, set by the trial's loop
        self.descend: Callable[..., None] | None = None  # descend(x, dy, w): this step's SGD step (_step.make_step)

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x = x  # (B, in)
        y = np.matmul(x, self.w, out=self.buf("y", (x.shape[0], self.w.shape[1])))
        y += self.b
        return y  # (B, out)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        dx = np.matmul(dy, self.w.T, out=self.buf("dx", self.x.shape)) if self.need_dx else None  # w before a step
        if self.descend is not None:  # w <- keep w - lr x^T dy in one product: dw is left as it was
            self.descend(self.x, dy, self.w)
        elif self.threads is None:
            np.matmul(self.x.T, dy, out=self.dw)  # (in, out)
        else:  # a wide layer at a small batch: BLAS's threads for this product alone (_blas.py)
            self.threads(True)
            np.matmul(self.x.T, dy, out=self.dw)
            self.threads(False)
        np.matmul(ones(self._bufs, len(dy), self.dtype), dy, out=self.db)
        return dx


class Dropout(Layer):
    """Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p); identity in evaluation.

    ``frozen`` keeps the last mask (for the gradient check)."""

    def __init__(self, p: float, dtype, rng: np.random.Generator):
        super().__init__(dtype)
        self.p, self.rng, self.frozen = p, rng, False

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        if not train:
            return x
        if not self.frozen:
            self.mask = self.rng.random(dtype=self.dtype, out=self.buf("mask", x.shape))
            np.greater_equal(self.mask, self.p, out=self.mask)
            self.mask *= 1.0 / (1.0 - self.p)
        return np.multiply(x, self.mask, out=self.buf("y", x.shape))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.multiply(dy, self.mask, out=dy)
