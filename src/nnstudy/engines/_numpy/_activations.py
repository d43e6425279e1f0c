"""Activations: each writes y = f(x) and, when training, d = f'(x), so that backward is dy * d."""

from __future__ import annotations

import numpy as np

from ._layers import Layer

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01  # torch's defaults (ELU: alpha = 1)


def _relu(x, y, d):
    np.maximum(x, 0, out=y)
    if d is not None:
        np.greater(y, 0, out=d)  # True where x > 0, else False (torch's choice at 0)


def _tanh(x, y, d):
    np.tanh(x, out=y)
    if d is not None:
        np.multiply(y, y, out=d)
        np.subtract(1, d, out=d)


def _sigmoid(x, y, d):
    np.negative(x, out=y)
    np.exp(y, out=y)
    y += 1
    np.reciprocal(y, out=y)
    if d is not None:
        np.subtract(1, y, out=d)
        d *= y


def _elu(x, y, d, alpha=1.0, scale=1.0):
    neg = x <= 0
    np.expm1(np.minimum(x, 0), out=y)  # alpha (e^x - 1) for x <= 0
    y *= alpha
    np.copyto(y, x, where=~neg)
    if d is not None:
        np.exp(np.minimum(x, 0), out=d)
        d *= alpha * scale
        np.copyto(d, scale, where=~neg)
    if scale != 1.0:
        y *= scale


def _selu(x, y, d):
    _elu(x, y, d, SELU_ALPHA, SELU_SCALE)


def _leaky_relu(x, y, d):
    np.multiply(x, LEAKY_SLOPE, out=y)
    np.maximum(x, y, out=y)
    if d is not None:
        d.fill(LEAKY_SLOPE)
        np.copyto(d, 1.0, where=x > 0)


def _sign(x, y, d):  # given networks only: not differentiable, never trained
    np.sign(x, out=y)
    if d is not None:
        d.fill(0.0)


def _sign_plus(x, y, d):  # given networks with sign_zero = 1: a threshold unit, +1 where x >= 0
    np.copyto(y, np.where(x >= 0, 1.0, -1.0))
    if d is not None:
        d.fill(0.0)


def _gelu(x, y, d):  # exact (erf) GELU, as torch.nn.GELU(): x Phi(x)
    from scipy.special import ndtr

    cdf = ndtr(x)
    np.multiply(x, cdf, out=y)
    if d is not None:  # Phi(x) + x phi(x)
        np.multiply(x, x, out=d)
        d *= -0.5
        np.exp(d, out=d)
        d *= x / np.sqrt(2 * np.pi)
        d += cdf


ACTIVATIONS = {"relu": _relu, "tanh": _tanh, "sigmoid": _sigmoid, "elu": _elu, "selu": _selu,
               "leaky_relu": _leaky_relu, "sign": _sign, "sign_plus": _sign_plus,
               "gelu": _gelu}  # gelu: the ViT's blocks only (not a [model] activation)


BOOLEAN_SLOPES = {"relu"}  # f' is 0 or 1: kept as booleans, a quarter of the bytes to write and read


class Activation(Layer):
    """``in_place``: y is written over x, for an input that its producer no longer needs (a Linear's output: its
    backward reads its own input). Only ReLU-like functions, whose slope needs y alone, may be in place."""

    def __init__(self, name: str, dtype, in_place: bool = False):
        super().__init__(dtype)
        self.name, self.fn = name, ACTIVATIONS[name]
        self.in_place = in_place and name in BOOLEAN_SLOPES

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        y = x if self.in_place else self.buf("y", x.shape)
        slope = bool if self.name in BOOLEAN_SLOPES else None
        self.d = self.buf("d", x.shape, slope) if train else None
        self.fn(x, y, self.d)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.multiply(dy, self.d, out=dy)
