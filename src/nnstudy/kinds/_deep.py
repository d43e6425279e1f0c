"""What the image classifiers (cnn, resnet18, vit) share: the convolution block and the keys to start from
weights (their config classes' parts), weights loaded into a built model, a build check on the data, and
the image-classifier figures.

Every kind also takes ``weights = "file.safetensors"`` (or a ``torch.save``-d state dict, read with
``weights_only=True``; relative to the study file) and ``finetune = "all" | "head"``: start from those
weights and train everything, or only the output layer (a linear probe). Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_serializer, model_validator

from ..errors import StudyError
from ..spec._schema import ACTIVATIONS, ModelBase, Section

POOLS = ("none", "max", "avg", "global_avg")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class ConvBlock(Section):
    """One convolution block: conv -> [batch norm] -> activation -> [pool] -> [dropout].

    With ``branches = [1, 3, 5]`` the convolution is Inception-style: one convolution per kernel size, side
    by side on the same input ("same" padding, stride 1), each with ``channels`` filters, concatenated
    (``channels`` x 3 output channels here).
    """

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
    branches: Annotated[list[Annotated[int, Field(ge=1, le=31)]], Field(min_length=1, max_length=8)] | None = \
        Field(None, description=(
            "Inception-style block: the kernel sizes (odd) of parallel convolutions on the same input, each "
            "with `channels` filters and \"same\" padding, concatenated (channels x len(branches) outputs); "
            "kernel, stride and padding are then not used"))

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> "ConvBlock":
        if self.padding == "same" and self.stride != 1:
            raise ValueError('padding = "same" needs stride = 1')
        return self

    @model_validator(mode="after")
    def _padding_within_reach(self) -> "ConvBlock":
        reach = self.dilation * (self.kernel - 1)
        if self.branches is None and isinstance(self.padding, int) and self.padding > reach:
            raise ValueError(f"padding: {self.padding} is more than the kernel reaches (dilation x (kernel - 1) = "
                             f"{reach}), so its outer rows would see zeros only: give at most {reach}")
        return self

    @model_validator(mode="after")
    def _pool_size_of_a_window(self) -> "ConvBlock":
        if "pool_size" in self.model_fields_set and self.pool not in ("max", "avg"):
            raise ValueError(f"pool_size: the window of pool = \"max\" or \"avg\"; with pool = {self.pool!r} it "
                             "changes nothing: leave it out or set pool")
        return self

    @model_validator(mode="after")
    def _branches_keep_the_size(self) -> "ConvBlock":
        if self.branches is None:
            return self
        even = [k for k in self.branches if k % 2 == 0]
        if even:
            raise ValueError(f"branches: kernel sizes must be odd (keep the size with \"same\" padding); got {even[0]}")
        if len(set(self.branches)) != len(self.branches):
            raise ValueError(f"branches: a kernel size repeats ({self.branches})")
        if self.stride != 1 or self.padding != 0 or self.kernel != 3:
            raise ValueError("branches: each branch has its own kernel, stride 1 and \"same\" padding: leave "
                             "kernel, stride and padding out")
        return self

    def out_channels(self) -> int:
        return self.channels * len(self.branches or [0])

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


FIGURES = ("class_errors.png", "misclassified.png")  # + right_vs_wrong.png when configurations differ
FIGURE_MODULE = "nnstudy.report._figures_deep"


def builder(make: Callable[[dict, tuple[int, ...], int], Any]) -> Callable:
    """A torch build(mc, n_in, n_out, input_shape) that starts from ``mc["weights"]`` when given."""

    def build(mc: dict, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()):
        model = make(mc, tuple(input_shape) or (n_in,), n_out)
        if mc.get("weights"):
            from ..engines._torch._transfer import load_weights

            load_weights(model, mc["weights"])
        return model

    return build


def check_data(mc: dict, data, label: str) -> None:
    """A model that cannot be built for its data (a ViT patch that does not divide the image, conv blocks
    that shrink it to nothing, weights that do not fit) is a bad study file, not a failed trial."""
    from ..engines._common import head_of
    from . import of

    try:
        of(mc).build["torch"](mc, 0, head_of(mc, data).n_out, data.input_shape)
    except ValueError as e:
        raise StudyError(f"{label}: model: {e}") from None


def example(model: dict) -> dict:
    return {"data": {"name": "digits", "train_size": 64},
            "model": model, "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 1}}
