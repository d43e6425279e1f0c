"""The ``resnet18`` kind: ResNet-18 (He et al. 2016) with the CIFAR stem for small images.

Stem: 3x3 conv, stride 1, no max-pool; then four stages of two basic blocks (width w, 2w, 4w, 8w;
stride 2 from the second stage on), global average pooling and the output layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._cnn import layout

EVAL_CHUNK = 1024  # evaluation batch: keeps the activations of a large test split within memory


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    eval_chunk = EVAL_CHUNK

    def __init__(self, input_shape: tuple[int, ...], n_out: int, width: int = 64):
        super().__init__()
        shape = layout(input_shape)
        if len(shape) == 2:  # a signal is an image one pixel high
            shape = (shape[0], 1, shape[1])
        self.shape = shape
        self.stem = nn.Sequential(nn.Conv2d(shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU())
        stages, c_in = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2 ** i
            stages.append(nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, n_out)
        self.linear_names = [name.removesuffix(".weight") for name, p in self.named_parameters()
                             if p.ndim > 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.view(x.shape[0], *self.shape))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x))

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        """Dropout here draws from torch's generator, which the loop seeds per trial."""

    def linears(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
