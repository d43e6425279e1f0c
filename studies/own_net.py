"""A small network of one's own for studies/own-module.toml: nnstudy passes the data's shape to the
constructor parameters it names (n_inputs, n_classes) and `args` (width) from the study file."""

from torch import nn


class TwoLayerNet(nn.Module):
    def __init__(self, n_inputs: int, n_classes: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, width), nn.Tanh())  # images arrive (B, 1, 8, 8)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.head(self.body(x))
