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

from ..errors import StudyError
from ..spec._schema import ACTIVATIONS
from . import Kind, _deep, dense_parameters
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


def _size(mc: dict, n_in: int, n_out: int) -> tuple[str, int]:
    """The convolutions' weights (from one input channel; a 1-D kernel counted as k x k) and the dense head's
    (from one flattened input or more)."""
    blocks = [ConvBlock.model_validate(b) for b in mc["blocks"]]
    channels = [1, *(b.out_channels() for b in blocks)]
    convs = sum(c_in * b.channels * sum(k ** 2 for k in (b.branches or [b.kernel]))
                for c_in, b in zip(channels, blocks))
    head = dense_parameters([channels[-1], *mc["hidden"], n_out])
    return ("blocks", convs) if convs > head else ("hidden", head)


def _check_data(mc: dict, data, label: str) -> None:
    """Each block's kernel and pooling window within what it gets (after the blocks before it), then the build."""
    from ..engines._torch._cnn import layout

    try:
        shape = layout(data.input_shape)
    except ValueError:  # neither a signal nor an image: the build says so
        shape = None
    if shape is not None:
        _blocks_fit(mc["blocks"], shape[1:], label)
    _deep.check_data(mc, data, label)


def _blocks_fit(blocks: list[dict], size: tuple[int, ...], label: str) -> None:
    first = size
    for i, block in enumerate(map(ConvBlock.model_validate, blocks)):
        key = f"{label}: model.blocks.{i}"
        size = _pooled(block, _convolved(block, size, first, key), key)


def _shown(size: tuple[int, ...]) -> str:
    return "×".join(map(str, size)) + " image" if len(size) == 2 else f"signal of length {size[0]}"


def _convolved(block: ConvBlock, size: tuple[int, ...], first: tuple[int, ...], key: str) -> tuple[int, ...]:
    """The size after the block's convolution; StudyError when its kernel reaches past its (padded) input."""
    if block.branches or block.padding == "same":
        return size
    reach, padded = block.dilation * (block.kernel - 1) + 1, min(size) + 2 * block.padding
    if reach > padded:
        earlier = "" if size == first else f" it gets (the {_shown(first)} shrunk by the blocks before it)"
        given = " and ".join(f"{k} = {getattr(block, k)}" for k in ("padding", "dilation")
                             if getattr(block, k) != ConvBlock.model_fields[k].default)
        raise StudyError(f"{key}.kernel = {block.kernel}{f' with {given}' if given else ''} is larger than the "
                         f"{_shown(size)}{earlier}; at most {(padded - 1) // block.dilation + 1}")
    return tuple((s + 2 * block.padding - reach) // block.stride + 1 for s in size)


def _pooled(block: ConvBlock, size: tuple[int, ...], key: str) -> tuple[int, ...]:
    """The size after the block's pooling; StudyError when its window is larger than what it pools."""
    if block.pool == "global_avg":
        return (1,) * len(size)
    if block.pool == "none":
        return size
    if block.pool_size > min(size):
        raise StudyError(f"{key}.pool_size = {block.pool_size} is larger than the {_shown(size)} its convolution "
                         f"leaves; at most {min(size)}")
    return tuple(s // block.pool_size for s in size)


KIND = Kind("cnn", CNNConfig, size=_size, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: any(ConvBlock.model_validate(b).batch_norm for b in mc["blocks"]),
            check_data=_check_data, laid_out="convolves images and signals", figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"blocks": [{"channels": 4, "pool": "max"}], "hidden": [8]}),
            figures=(*_deep.FIGURES, "first_layer_weights.png"))
