"""The ``cnn`` kind: convolution blocks, then a dense head, as one flat ``nn.Sequential``.

Inputs arrive flat, (B, prod(input_shape)); the first module restores the layout. Images (C, H, W)
use 2-D layers, signals (C, L) 1-D ones.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...kinds._deep import ConvBlock
from ._mlp import ACTIVATIONS, CountedDropout

_LAYERS = {  # spatial dims -> (conv, batch norm, max pool, avg pool, global average pool)
    1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d),
    2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d),
}


def layout(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C, L) for signals, (C, H, W) for images: (L,) and (1, L) are signals, (H, W) a one-channel image."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        return (1, shape[0])
    if len(shape) == 2 and shape[0] != 1:
        return (1, *shape)
    if len(shape) in (2, 3):
        return shape
    raise ValueError(f"input shape {input_shape} is neither a signal (C, L) nor an image (C, H, W)")


class CNN(nn.Sequential):
    def __init__(self, input_shape: tuple[int, ...], blocks: list[dict[str, Any]], hidden: list[int],
                 n_out: int, activation: str = "relu", dropout: float = 0.0):
        shape = layout(input_shape)
        conv, norm, max_pool, avg_pool, global_pool = _LAYERS[len(shape) - 1]
        layers: list[nn.Module] = [nn.Unflatten(1, shape)]
        channels = shape[0]
        names: list[str] = []
        for i, b in enumerate(map(_complete, blocks), 1):
            if b["branches"]:
                layers.append(Branches(conv, channels, b["channels"], b["branches"], b["dilation"]))
                names += [f"conv{i}_k{k}" for k in b["branches"]]
            else:
                layers.append(conv(channels, b["channels"], b["kernel"], stride=b["stride"], padding=b["padding"],
                                   dilation=b["dilation"]))
                names.append(f"conv{i}")
            out_channels = b["channels"] * len(b["branches"] or [0])
            if b["batch_norm"]:
                layers.append(norm(out_channels))
            if b["activation"] != "identity":
                layers.append(ACTIVATIONS[b["activation"]]())
            if b["pool"] == "max":
                layers.append(max_pool(b["pool_size"]))
            elif b["pool"] == "avg":
                layers.append(avg_pool(b["pool_size"]))
            elif b["pool"] == "global_avg":
                layers.append(global_pool(1))
            if b["dropout"] > 0:
                layers.append(CountedDropout(b["dropout"], len(layers)))
            channels = out_channels
        layers.append(nn.Flatten())
        width = _features(nn.Sequential(*layers), shape)
        for h in [*hidden, n_out]:
            if dropout > 0:
                layers.append(CountedDropout(dropout, len(layers)))
            layers.append(nn.Linear(width, h))
            width = h
        super().__init__(*_with_activations(layers, len(hidden), activation))
        self.linear_names = names + [f"dense{i + 1}" for i in range(len(hidden))] + ["output"]

    def bind_rng(self, seed: int, step: torch.Tensor, dtype: torch.dtype) -> None:
        """Dropout masks from the trial's counter-based streams (_rng), as in the MLP: the same alone or stacked."""
        for m in self:
            if isinstance(m, CountedDropout):
                m.bind(seed, step, dtype)

    def linears(self) -> list[nn.Module]:
        """The weight-carrying layers in order (each branch of an Inception block on its own)."""
        return [m for m in self.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


class PooledFirst(nn.Module):
    """A CNN's evaluation with each conv -> ReLU -> max pool run as conv (no bias) -> max pool -> + bias -> ReLU:
    the same values, rounding included (a maximum commutes with adding one number and with ReLU), and the
    elementwise work on a quarter of the convolution's output. The stacked evaluation's (engines/_torch/
    _stack_vmap.py): there the conv outputs of K trials x thousands of images are what memory traffic costs."""

    def __init__(self, cnn: CNN):
        super().__init__()
        self.cnn = cnn
        layers = list(cnn)
        self.fused = {i for i in range(len(layers) - 2) if _poolable(*layers[i:i + 3])}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers, i = list(self.cnn), 0
        while i < len(layers):
            if i in self.fused:
                conv, pool = layers[i], layers[i + 2]
                x = pool(conv._conv_forward(x, conv.weight, None))
                x, i = torch.relu(x + conv.bias.view(-1, *[1] * (x.dim() - 2))), i + 3
            else:
                x, i = layers[i](x), i + 1
        return x


def _poolable(conv: nn.Module, act: nn.Module, pool: nn.Module) -> bool:
    return (isinstance(conv, (nn.Conv1d, nn.Conv2d)) and conv.bias is not None and type(act) is nn.ReLU
            and isinstance(pool, (nn.MaxPool1d, nn.MaxPool2d)))


class Branches(nn.Module):
    """Inception-style: parallel convolutions (one per kernel size, "same" padding) of one input, their
    outputs concatenated along the channels."""

    def __init__(self, conv: type, c_in: int, c_out: int, kernels: list[int], dilation: int = 1):
        super().__init__()
        self.branches = nn.ModuleList(conv(c_in, c_out, k, padding="same", dilation=dilation) for k in kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def _complete(block: dict[str, Any]) -> dict[str, Any]:
    """A block with every key: the stored config leaves out the keys at their default."""
    full = ConvBlock.model_validate(block)
    return {name: getattr(full, name) for name in ConvBlock.model_fields}


def _with_activations(layers: list[nn.Module], n_hidden: int, activation: str) -> list[nn.Module]:
    """Put the activation after each hidden dense layer (all dense layers but the last)."""
    out: list[nn.Module] = []
    dense_seen = 0
    for layer in layers:
        out.append(layer)
        if isinstance(layer, nn.Linear):
            dense_seen += 1
            if dense_seen <= n_hidden and activation != "identity":
                out.append(ACTIVATIONS[activation]())
    return out


@torch.no_grad()
def _features(body: nn.Sequential, shape: tuple[int, ...]) -> int:
    """Width of the flattened conv output, by one forward pass of a zero sample."""
    try:
        out = body.eval()(torch.zeros(2, torch.Size(shape).numel()))
    except RuntimeError as err:
        raise ValueError(f"the conv blocks do not fit an input of shape {shape}: "
                         f"{' '.join(str(err).split())[:160]}") from None
    if out.shape[1] == 0:
        raise ValueError(f"the conv blocks shrink an input of shape {shape} to nothing")
    return int(out.shape[1])
