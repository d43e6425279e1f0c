"""Losses on a batch of outputs z (B, k): the summed value and its gradient side by side.

``total(z, y)`` is the sum over samples (float); ``grad(z, y, scale)`` is ``scale`` times the gradient
of that sum, (B, k). Training uses the mean (scale 1/B), except the perceptron, which uses the sum.
"""

from __future__ import annotations

import numpy as np

from ._layers import ones


class Loss:
    train_mean = True  # training objective: mean over the batch (else the sum)

    def __init__(self):
        self._bufs: dict[str, np.ndarray] = {}

    def buf(self, like: np.ndarray, shape: tuple[int, ...] | None = None, name: str = "out") -> np.ndarray:
        """A scratch array of like's dtype (and shape, or ``shape``) kept under ``name`` for the next batch."""
        shape = like.shape if shape is None else shape
        a = self._bufs.get(name)
        if a is None or a.shape != shape or a.dtype != like.dtype:
            a = self._bufs[name] = np.empty(shape, like.dtype)
        return a

    def predict(self, z: np.ndarray) -> np.ndarray:
        return z.argmax(1)  # (B,)


class SoftmaxCrossEntropy(Loss):
    def total(self, z, y) -> float:  # sum_i logsumexp(z_i) - z_i[y_i]
        m = z.max(1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(1))
        return float((lse - z[np.arange(len(y)), y]).sum())

    def grad(self, z, y, scale: float) -> np.ndarray:  # softmax(z) - onehot(y)
        p, rows = self.buf(z), self.buf(z, (len(z),), "rows")
        by_class = self.buf(z, z.shape[::-1], "by_class")  # a max along the rows' few classes is slow: ten times
        np.copyto(by_class, z.T)  # as long as copying them into columns and reducing along the batch
        np.maximum.reduce(by_class, axis=0, out=rows)
        np.subtract(z, rows[:, None], out=p)
        np.exp(p, out=p)
        np.matmul(p, ones(self._bufs, p.shape[1], p.dtype), out=rows)
        p /= rows[:, None]
        flat = p.reshape(-1)
        at = np.arange(0, p.size, p.shape[1]) + y  # the true classes' entries
        flat[at] -= 1
        p *= scale
        return p


class SigmoidBinaryCrossEntropy(Loss):
    """One logit z (B, 1) for class 1; y (B,) in {0, 1}."""

    def total(self, z, y) -> float:  # max(z, 0) - z y + log(1 + e^-|z|)
        z = z[:, 0]
        return float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum())

    def grad(self, z, y, scale: float) -> np.ndarray:  # sigmoid(z) - y
        g = np.negative(z, out=self.buf(z))
        np.exp(g, out=g)
        g += 1
        np.reciprocal(g, out=g)
        g[:, 0] -= y
        g *= scale
        return g

    def predict(self, z: np.ndarray) -> np.ndarray:
        return (z[:, 0] > 0).astype(np.int64)


class MeanSquaredError(Loss):
    """Per sample the mean over the k outputs of (z - y)^2; y (B, k)."""

    def total(self, z, y) -> float:
        d = z - y
        return float(np.einsum("ij,ij->", d, d) / z.shape[1])

    def grad(self, z, y, scale: float) -> np.ndarray:  # 2 (z - y) / k
        g = np.subtract(z, y, out=self.buf(z))
        g *= 2.0 * scale / z.shape[1]
        return g


class PerceptronCriterion(Loss):
    """max_j z_j - z_y: zero when right; its gradient moves the predicted class's weights away from
    the input and the true class's towards it, the perceptron's mistake-driven update."""

    train_mean = False

    def total(self, z, y) -> float:
        rows = np.arange(len(y))
        return float((z[rows, z.argmax(1)] - z[rows, y]).sum())

    def grad(self, z, y, scale: float) -> np.ndarray:  # onehot(argmax z) - onehot(y)
        rows = np.arange(len(y))
        g = self.buf(z)
        g.fill(0.0)
        g[rows, z.argmax(1)] = scale
        g[rows, y] -= scale
        return g


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "binary": SigmoidBinaryCrossEntropy, "mse": MeanSquaredError,
          "perceptron": PerceptronCriterion}


def make_loss(name: str) -> Loss:
    return LOSSES[name]()
