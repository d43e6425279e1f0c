"""``kind = "resnet18"``: ResNet-18 with the CIFAR stem (3x3 conv, no max-pool); with ``stem`` set, built as
torchvision builds it (its module names), so a torchvision checkpoint loads:

    [model]
    kind = "resnet18"
    stem = "imagenet"                  # torchvision's 7x7 conv + max-pool; "cifar": 3x3 conv, no max-pool
    weights = "resnet18.safetensors"   # e.g. torch.save(torchvision.models.resnet18(...).state_dict(), ...)
    finetune = "head"                  # a new output layer for the study's classes; "all": fine-tune all
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_serializer

from . import Kind, _deep
from ._deep import TransferKeys


class ResNet18Config(TransferKeys):
    """ResNet-18 with the CIFAR stem for small images: 3x3 conv, no max-pool; any number of input channels."""

    kind: Literal["resnet18"] = "resnet18"
    width: Annotated[int, Field(ge=4, le=256, description="channels of the first stage (doubled per stage)")] = 64
    stem: Literal["cifar", "imagenet"] | None = Field(None, description=(
        "build it as torchvision.models.resnet18 does (its module names: a torchvision state dict loads with "
        "model.weights, the output layer replaced for the study's classes): imagenet = 7x7 stride-2 conv and "
        "3x3 max-pool, cifar = 3x3 stride-1 conv, no max-pool; unset: nnstudy's own CIFAR ResNet-18"))

    @model_serializer(mode="wrap")
    def _leave_out_unset_stem(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("stem") is None:
            out.pop("stem", None)
        return out


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._resnet import ResNet18, TorchvisionResNet18

    if mc.get("stem"):
        return TorchvisionResNet18(input_shape, n_out, mc["width"], mc["stem"])
    return ResNet18(input_shape, n_out, mc["width"])


KIND = Kind("resnet18", ResNet18Config, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: True, check_data=_deep.check_data,
            laid_out="convolves images and signals", figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"width": 4}), figures=(*_deep.FIGURES, "first_layer_weights.png"))
