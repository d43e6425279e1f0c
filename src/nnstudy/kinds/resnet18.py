"""``kind = "resnet18"``: ResNet-18 with the CIFAR stem (3x3 conv, no max-pool)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from . import Kind, _deep
from ._deep import TransferKeys


class ResNet18Config(TransferKeys):
    """ResNet-18 with the CIFAR stem for small images: 3x3 conv, no max-pool; any number of input channels."""

    kind: Literal["resnet18"] = "resnet18"
    width: Annotated[int, Field(ge=4, le=256, description="channels of the first stage (doubled per stage)")] = 64


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._resnet import ResNet18

    return ResNet18(input_shape, n_out, mc["width"])


KIND = Kind("resnet18", ResNet18Config, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: True, check_data=_deep.check_data, figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"width": 4}), figures=(*_deep.FIGURES, "first_layer_weights.png"))
