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


class TVBasicBlock(nn.Module):
    """torchvision's BasicBlock, module for module (conv1, bn1, relu, conv2, bn2, downsample)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchvisionResNet18(nn.Module):
    """ResNet-18 as torchvision.models.resnet18 builds it: the same module names and tensor shapes, so its
    state dict (a torchvision checkpoint) loads. ``stem``: "imagenet" = torchvision's 7x7 stride-2 conv and
    3x3 max-pool; "cifar" = a 3x3 stride-1 conv and no max-pool (small images). Convolutions start as
    torchvision's (Kaiming normal, fan_out)."""

    eval_chunk = EVAL_CHUNK

    def __init__(self, input_shape: tuple[int, ...], n_out: int, width: int = 64, stem: str = "imagenet"):
        super().__init__()
        shape = layout(input_shape)
        if len(shape) == 2:
            shape = (shape[0], 1, shape[1])
        self.shape = shape
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(shape[0], width, 7, 2, 3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(shape[0], width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        c_in = width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2 ** i
            setattr(self, f"layer{i + 1}", nn.Sequential(TVBasicBlock(c_in, c_out, stride),
                                                         TVBasicBlock(c_out, c_out, 1)))
            c_in = c_out
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, n_out)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.linear_names = [name.removesuffix(".weight") for name, p in self.named_parameters() if p.ndim > 1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled features the output layer reads, (B, 8 x width)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x.view(x.shape[0], *self.shape)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        """No dropout."""

    def linears(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
