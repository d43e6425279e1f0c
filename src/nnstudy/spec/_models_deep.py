"""Model kinds for convolutional and attention classifiers (cnn, resnet18, vit): their [model] sections.

    [model]
    kind = "cnn"
    blocks = [{channels = 32, kernel = 3, pool = "max"}, {channels = 64, kernel = 3, pool = "max"}]
    dropout = 0.5                 # before the dense head
    hidden = []                   # dense layers between the conv blocks and the output layer

Every kind also takes ``weights = "file.safetensors"`` (or a ``torch.save``-d state dict, read with
``weights_only=True``; relative to the study file) and ``finetune = "all" | "head"``: start from those
weights and train everything, or only the output layer (a linear probe). Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_serializer, model_validator

from ._schema import ACTIVATIONS, ModelBase, Section

POOLS = ("none", "max", "avg", "global_avg")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class ConvBlock(Section):
    """One convolution block: conv -> [batch norm] -> activation -> [pool] -> [dropout]."""

    channels: Annotated[int, Field(ge=1, description="output channels (filters)")]
    kernel: Annotated[int, Field(ge=1, description="kernel size (square; length for 1-D inputs)")] = 3
    stride: Annotated[int, Field(ge=1, description="convolution stride")] = 1
    padding: Union[Annotated[int, Field(ge=0)], Literal["same"]] = Field(
        0, description='zero padding per side, or "same" (output size = input size; stride 1)')
    dilation: Annotated[int, Field(ge=1, description="spacing between kernel taps")] = 1
    activation: Literal[ACTIVATIONS] = Field(  # type: ignore[valid-type]
        "relu", description="activation after the convolution")
    batch_norm: bool = Field(False, description="batch normalization between convolution and activation")
    pool: Literal[POOLS] = Field(  # type: ignore[valid-type]
        "none", description="pooling after the activation: none | max | avg | global_avg (to 1x1)")
    pool_size: Annotated[int, Field(ge=1, description="pooling window and stride (max, avg)")] = 2
    dropout: Annotated[float, Field(ge=0.0, lt=1.0, description="dropout after the block")] = 0.0

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> "ConvBlock":
        if self.padding == "same" and self.stride != 1:
            raise ValueError('padding = "same" needs stride = 1')
        return self

    @model_serializer(mode="wrap")
    def _leave_out_defaults(self, handler):  # short labels in reports; the engine fills them in again
        out = handler(self)
        return {k: v for k, v in out.items()
                if k == "channels" or v != type(self).model_fields[k].get_default()}


class TransferKeys(ModelBase):
    """Start from weights in a local file; train all of them or only the output layer."""

    weights: str | None = Field(None, description=(
        "local weight file to start from: .safetensors, or a torch state dict (.pt/.pth/.bin, read "
        "with weights_only=True); relative to the study file; nothing is downloaded"))
    finetune: Literal["all", "head"] = Field(
        "all", description=("with weights: all = fine-tune every layer; head = linear probe (only the "
                            "output layer trains)"))

    @field_validator("weights")
    @classmethod
    def _weights_file_exists(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        path = Path(v)
        if not path.is_absolute():
            path = Path((info.context or {}).get("base_dir", ".")) / path
        if not path.is_file():
            raise ValueError(f"no such weights file {v!r} (paths are relative to the study file)")
        if path.suffix not in WEIGHT_SUFFIXES:
            raise ValueError(f"{v!r}: expected a {' / '.join(WEIGHT_SUFFIXES)} file")
        return str(path.resolve())


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


class ResNet18Config(TransferKeys):
    """ResNet-18 with the CIFAR stem for small images: 3x3 conv, no max-pool; any number of input channels."""

    kind: Literal["resnet18"] = "resnet18"
    width: Annotated[int, Field(ge=4, le=256, description="channels of the first stage (doubled per stage)")] = 64


class ViTConfig(TransferKeys):
    """Vision transformer: patches -> linear embedding + class token + positions -> pre-norm encoder blocks."""

    kind: Literal["vit"] = "vit"
    patch: Annotated[int, Field(ge=1, description="patch side in pixels (must divide the image size)")] = 4
    dim: Annotated[int, Field(ge=4, description="embedding width")] = 128
    depth: Annotated[int, Field(ge=1, le=48, description="encoder blocks")] = 6
    heads: Annotated[int, Field(ge=1, description="attention heads (must divide dim)")] = 4
    mlp_dim: Annotated[int, Field(ge=1, description="hidden width of each block's MLP")] = 256
    dropout: Annotated[float, Field(ge=0.0, lt=1.0, description="dropout in attention output and MLP")] = 0.0

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> "ViTConfig":
        if self.dim % self.heads:
            raise ValueError(f"heads = {self.heads} must divide dim = {self.dim}")
        return self
