"""Build the convolutional and attention classifiers (cnn, resnet18, vit) from their [model] section."""

from __future__ import annotations

from typing import Any

from torch import nn

from ._cnn import CNN
from ._resnet import ResNet18
from ._transfer import load_weights
from ._vit import ViT

DEEP_KINDS = ("cnn", "resnet18", "vit")


def build_deep(mc: dict[str, Any], input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """The model, started from ``mc["weights"]`` when given; ValueError (one line) for a bad fit."""
    kind = mc["kind"]
    if kind == "cnn":
        model: nn.Module = CNN(input_shape, mc["blocks"], mc["hidden"], n_out, mc["activation"], mc["dropout"])
    elif kind == "resnet18":
        model = ResNet18(input_shape, n_out, mc["width"])
    elif kind == "vit":
        model = ViT(input_shape, n_out, mc["patch"], mc["dim"], mc["depth"], mc["heads"], mc["mlp_dim"],
                    mc["dropout"])
    else:
        raise ValueError(f"model kind {kind!r} is not a deep classifier")
    if mc.get("weights"):
        load_weights(model, mc["weights"])
    return model


def uses_batch_norm(mc: dict[str, Any]) -> bool:
    """Whether a batch of one sample would break training (the batch plan then drops it)."""
    if mc["kind"] == "resnet18":
        return True
    if mc["kind"] == "cnn":
        return any(b.get("batch_norm", False) for b in mc["blocks"])
    return mc.get("norm") == "batch"
