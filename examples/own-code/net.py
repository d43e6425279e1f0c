"""A small convolutional network, written as anyone writes one: nnstudy trains it as `kind = "module"`.

nnstudy passes `model.args` as keyword arguments, plus `input_shape` and `n_classes` from the data because
the constructor names them. A batch arrives as (B, C, H, W): digits are (B, 1, 8, 8).
"""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, channels: int = 16, input_shape=(1, 8, 8), n_classes: int = 10):
        super().__init__()
        c, h, w = input_shape
        self.conv1 = nn.Conv2d(c, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * channels * (h // 4) * (w // 4), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


class TabularNet(nn.Module):
    """Two hidden layers for a table's rows: (B, n_inputs) -> (B, n_classes) logits."""

    def __init__(self, width: int = 32, n_inputs: int = 10, n_classes: int = 2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_inputs, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
