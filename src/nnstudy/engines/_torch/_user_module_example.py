"""The network of ``kind = "module"``'s example (kinds/module.py), which the conformance suite trains:
a small CNN for 8x8 digits, written as a user would write one."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width: int = 4, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.fc = nn.Linear(width * 4 * 4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, 8, 8)
        h = nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(h.flatten(1))
