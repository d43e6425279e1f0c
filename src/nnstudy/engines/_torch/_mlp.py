"""The MLP (and the linear models: logistic regression, perceptron) as a flat torch module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "selu": nn.SELU,
    "leaky_relu": nn.LeakyReLU, "identity": nn.Identity,
}


class MLP(nn.Sequential):
    """(Linear → [norm] → activation → [dropout]) per hidden layer, then a linear output layer.

    Flat, so a step pays one module call per layer; inputs arrive flattened, (B, n_in).
    """

    def __init__(self, n_in: int, hidden: list[int], n_out: int, activation: str = "relu",
                 dropout: float = 0.0, norm: str = "none"):
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            if activation != "identity":
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out))
        super().__init__(*layers)
        self.linear_names = [f"hidden{i + 1}" for i in range(len(hidden))] + ["output"]

    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]


def build_model(mc: dict[str, Any], n_in: int, n_out: int) -> MLP:
    """The model of a ``[model]`` section: PyTorch's default init; the perceptron starts at zero."""
    if mc["kind"] == "mlp":
        return MLP(n_in, mc["hidden"], n_out, mc["activation"], mc["dropout"], mc["norm"])
    if mc["kind"] not in ("logistic", "perceptron"):
        raise ValueError(f"model kind {mc['kind']!r} is not trained by the torch engine")
    model = MLP(n_in, [], n_out)
    if mc["kind"] == "perceptron":
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
    return model
