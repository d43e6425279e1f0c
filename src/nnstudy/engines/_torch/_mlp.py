"""The MLP (and logistic regression: no hidden layers) as a torch module."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "selu": nn.SELU,
    "leaky_relu": nn.LeakyReLU, "identity": nn.Identity,
}


class MLP(nn.Module):
    """Linear → [norm] → activation → [dropout], repeated, then a linear output layer."""

    def __init__(self, n_in: int, hidden: list[int], n_out: int, activation: str = "relu",
                 dropout: float = 0.0, norm: str = "none"):
        super().__init__()
        blocks: list[nn.Module] = []
        self.linear_names: list[str] = []
        width = n_in
        for i, h in enumerate(hidden):
            block = [nn.Linear(width, h)]
            if norm == "batch":
                block.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                block.append(nn.LayerNorm(h))
            block.append(ACTIVATIONS[activation]())
            if dropout > 0:
                block.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*block))
            self.linear_names.append(f"hidden{i + 1}")
            width = h
        self.hidden = nn.ModuleList(blocks)
        self.output = nn.Linear(width, n_out)
        self.linear_names.append("output")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.hidden:
            x = block(x)
        return self.output(x)

    def linears(self) -> list[nn.Linear]:
        return [block[0] for block in self.hidden] + [self.output]
