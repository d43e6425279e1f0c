"""The MLP (and the linear models: logistic regression, perceptron) as a flat torch module; ``build_model``
builds any kind's torch model through the kinds registry."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import _rng

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "selu": nn.SELU,
    "leaky_relu": nn.LeakyReLU, "identity": nn.Identity,
}


DROPOUT_STREAM, NOISE_STREAM = 100, 200  # random streams: dropout of hidden layer l, noise of parameter j


def apply_dropout(x: torch.Tensor, u: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Inverted dropout with the uniforms ``u``: keep where u >= p, scale by 1/(1-p)."""
    return x * ((u >= p).to(x.dtype) * (1.0 / (1.0 - p)))


class CountedDropout(nn.Module):
    """Dropout whose mask is a function of (seed, layer, step): see _rng. ``bind`` gives it the trial's
    seed and the step counter (a 0-d int64 tensor on the device that the training loop advances)."""

    def __init__(self, p: float, layer: int):
        super().__init__()
        self.p, self.layer = p, layer
        self.step: torch.Tensor | None = None
        # buffers, not state: stacked per trial when trials train together (engines/_torch/_stack_vmap.py)
        self.register_buffer("key", None, persistent=False)
        self.register_buffer("p_tensor", None, persistent=False)

    def bind(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        self.key = _rng.stream_key(torch.tensor(seed, device=step.device), DROPOUT_STREAM + self.layer)
        self.step, self.p_tensor = step, torch.tensor(self.p, dtype=dtype, device=step.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.key is None:
            raise RuntimeError("CountedDropout used in training before bind(seed, step)")
        return apply_dropout(x, _rng.uniform(self.key, self.step, tuple(x.shape), x.dtype), self.p_tensor)


class MLP(nn.Sequential):
    """[batch norm of the inputs], (Linear → [norm] → activation → [dropout]) per hidden layer, then a linear
    output layer.

    Flat, so a step pays one module call per layer; inputs arrive flattened, (B, n_in).
    """

    def __init__(self, n_in: int, hidden: list[int], n_out: int, activation: str = "relu",
                 dropout: float = 0.0, norm: str = "none", input_norm: str = "none"):
        layers: list[nn.Module] = [nn.BatchNorm1d(n_in)] if input_norm == "batch" else []
        width = n_in
        for layer, h in enumerate(hidden):
            layers.append(nn.Linear(width, h))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            if activation != "identity":
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(CountedDropout(dropout, layer))
            width = h
        layers.append(nn.Linear(width, n_out))
        super().__init__(*layers)
        self.linear_names = [f"hidden{i + 1}" for i in range(len(hidden))] + ["output"]

    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        for m in self:
            if isinstance(m, CountedDropout):
                m.bind(seed, step, dtype)


def build_model(mc: dict[str, Any], n_in: int, n_out: int, input_shape: tuple[int, ...] = ()) -> nn.Module:
    """The torch model of a ``[model]`` section, built by its kind; ValueError (one line) when it cannot fit."""
    from ...kinds import of

    build = of(mc).build.get("torch")
    if build is None:
        raise ValueError(f"model kind {mc['kind']!r} is not trained by the torch engine's shared loop")
    return build(mc, n_in, n_out, tuple(input_shape))


def build_trainable(mc: dict[str, Any], n_in: int, n_out: int, input_shape: tuple[int, ...] = ()) -> nn.Module:
    """``build_model`` for the shared training loops: a plain nn.Module (a plugin kind's) gets their
    interface (UserNet: inputs in the data's shape, ``linears()``, ``linear_names``, ``bind_rng``)."""
    model = build_model(mc, n_in, n_out, input_shape)
    if hasattr(model, "linears"):
        return model
    from ._user_module import UserNet

    return UserNet(model, tuple(input_shape) or (n_in,))
