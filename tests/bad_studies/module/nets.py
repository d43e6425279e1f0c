"""Code files the bad studies of kind "module" name (tests/bad_studies/module_*.toml)."""

import torch
from torch import nn

WIDTH = 8  # not a class, not a function


class NotAModule:  # a class, but not an nn.Module
    def __init__(self, width=8):
        self.width = width


class Net(nn.Module):
    """A fine network for digits (8x8 images arrive as (B, 1, 8, 8)); `args` gives it what it takes."""

    def __init__(self, width=8, n_classes=10):
        super().__init__()
        self.fc1 = nn.Linear(64, width)
        self.fc2 = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class Raises(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        if width < 16:
            raise ValueError(f"width must be at least 16 (got {width})")


def not_a_net(width=8):
    return {"width": width}  # a factory that returns no nn.Module


class FiveOutputs(nn.Module):
    def __init__(self, n_inputs):
        super().__init__()
        self.fc = nn.Linear(n_inputs, 5)  # digits has 10 classes

    def forward(self, x):
        return self.fc(x.flatten(1))


class WrongInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 10)  # digits has 64 inputs

    def forward(self, x):
        return self.fc(x.flatten(1))


class NeedsDepth(nn.Module):
    def __init__(self, depth, n_classes):  # depth has no default and model.args does not give it
        super().__init__()
        self.fc = nn.Linear(64, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Float64(nn.Module):
    def __init__(self, n_inputs, n_classes):
        super().__init__()
        self.fc = nn.Linear(n_inputs, n_classes).double()  # training casts it to train.dtype, float32

    def forward(self, x):
        return self.fc(x.flatten(1).double())
