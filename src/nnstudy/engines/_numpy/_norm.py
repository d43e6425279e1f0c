"""Batch norm and layer norm, with torch's momentum and eps; gamma starts at 1, beta at 0."""

from __future__ import annotations

import numpy as np

from ._layers import Layer

BN_MOMENTUM, NORM_EPS = 0.1, 1e-5  # as torch.nn.BatchNorm1d / LayerNorm


class _Norm(Layer):
    """Shared affine part: y = xhat * gamma + beta; gamma starts at 1, beta at 0."""

    def __init__(self, n: int, dtype):
        super().__init__(dtype)
        self.gamma, self.beta = np.ones(n, dtype), np.zeros(n, dtype)
        self.dgamma, self.dbeta = np.zeros(n, dtype), np.zeros(n, dtype)
        self.params, self.grads = [self.gamma, self.beta], [self.dgamma, self.dbeta]

    def _affine(self, xhat: np.ndarray) -> np.ndarray:
        self.xhat = xhat
        return xhat * self.gamma + self.beta

    def _affine_backward(self, dy: np.ndarray) -> np.ndarray:
        np.sum(dy * self.xhat, axis=0, out=self.dgamma)
        np.sum(dy, axis=0, out=self.dbeta)
        return dy * self.gamma  # dL/dxhat


class BatchNorm(_Norm):
    """Batch statistics in training (running averages updated, unbiased variance), running ones in eval."""

    def __init__(self, n: int, dtype):
        super().__init__(n, dtype)
        self.running_mean, self.running_var = np.zeros(n, dtype), np.ones(n, dtype)
        self.buffers = [self.running_mean, self.running_var]

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        if not train:
            return self._affine((x - self.running_mean) / np.sqrt(self.running_var + NORM_EPS))
        b = x.shape[0]
        mean, var = x.mean(0), x.var(0)
        self.running_mean *= 1 - BN_MOMENTUM
        self.running_mean += BN_MOMENTUM * mean
        self.running_var *= 1 - BN_MOMENTUM
        self.running_var += BN_MOMENTUM * var * (b / (b - 1))
        self.inv = 1.0 / np.sqrt(var + NORM_EPS)
        return self._affine((x - mean) * self.inv)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dxhat = self._affine_backward(dy)
        b, xhat = dy.shape[0], self.xhat
        return (self.inv / b) * (b * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))


class LayerNorm(_Norm):
    """Statistics over the features of each sample, in training and evaluation alike."""

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        self.inv = 1.0 / np.sqrt(var + NORM_EPS)  # (B, 1)
        return self._affine((x - mean) * self.inv)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dxhat = self._affine_backward(dy)
        n, xhat = dy.shape[1], self.xhat
        return (self.inv / n) * (n * dxhat - dxhat.sum(1, keepdims=True)
                                 - xhat * (dxhat * xhat).sum(1, keepdims=True))
