"""``kind = "cnn"``: convolution blocks, then dense layers (2-D convolutions on images, 1-D on signals).

    [model]
    kind = "cnn"
    blocks = [{channels = 32, kernel = 3, pool = "max"}, {channels = 64, kernel = 3, pool = "max"}]
    dropout = 0.5                 # before the dense head
    hidden = []                   # dense layers between the conv blocks and the output layer
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..spec._schema import ACTIVATIONS
from . import Kind, _deep
from ._deep import ConvBlock, TransferKeys


def _default_blocks() -> list[ConvBlock]:  # the classic Keras MNIST example (34,826 parameters)
    return [ConvBlock(channels=32, pool="max"), ConvBlock(channels=64, pool="max")]


class CNNConfig(TransferKeys):
    """Convolution blocks, then flatten -> [dropout] -> dense hidden layers -> output layer.

    Images (C, H, W) use 2-D convolutions; 1-D signals (C, L) such as mnist1d use 1-D ones.
    """

    kind: Literal["cnn"] = "cnn"
    blocks: Annotated[list[ConvBlock], Field(min_length=1, description="the convolution blocks, in order")] = \
        Field(default_factory=_default_blocks)
    hidden: list[Annotated[int, Field(ge=1)]] = Field([], description="widths of the dense layers of the head")
    activation: Literal[ACTIVATIONS] = Field(  # type: ignore[valid-type]
        "relu", description="activation of the dense layers")
    dropout: Annotated[float, Field(ge=0.0, lt=1.0, description="dropout before each dense layer")] = 0.0


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._cnn import CNN

    return CNN(input_shape, mc["blocks"], mc["hidden"], n_out, mc["activation"], mc["dropout"])


KIND = Kind("cnn", CNNConfig, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: any(ConvBlock.model_validate(b).batch_norm for b in mc["blocks"]),
            check_data=_deep.check_data, figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"blocks": [{"channels": 4, "pool": "max"}], "hidden": [8]}),
            figures=(*_deep.FIGURES, "first_layer_weights.png"))
