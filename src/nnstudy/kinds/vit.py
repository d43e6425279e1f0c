"""``kind = "vit"``: a vision transformer (patches, class token, pre-norm encoder blocks)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..errors import StudyError
from . import Kind, _deep
from ._deep import TransferKeys


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


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._vit import ViT

    return ViT(input_shape, n_out, mc["patch"], mc["dim"], mc["depth"], mc["heads"], mc["mlp_dim"], mc["dropout"])


def build_numpy(mc: dict, n_in: int, n_out: int, dtype, init, dropout, exact_init: bool = True,
                input_shape: tuple[int, ...] = ()):
    from ..engines._numpy._vit import image_shape, vit_network

    return vit_network(image_shape(input_shape or (n_in,)), n_out, mc["patch"], mc["dim"], mc["depth"],
                       mc["heads"], mc["mlp_dim"], mc["dropout"], dtype, init, dropout)


def check(study, label: str) -> None:
    """The numpy engine trains a ViT from scratch: no weights file (no engine but torch augments: spec)."""
    if study.train.engine != "numpy":
        return
    if study.model.weights is not None:
        raise StudyError(f"{label}: model.weights: the numpy engine trains a ViT from its own initial weights; "
                         "starting from a weights file needs engine = \"torch\"")


def _size(mc: dict, n_in: int, n_out: int) -> tuple[str, int]:
    """Each encoder block's attention (4 dim x dim) and MLP (2 dim x mlp_dim), and the patch embedding."""
    blocks = mc["depth"] * (4 * mc["dim"] ** 2 + 2 * mc["dim"] * mc["mlp_dim"])
    return ("dim" if mc["dim"] >= mc["mlp_dim"] else "mlp_dim"), blocks + n_in * mc["dim"]


KIND = Kind("vit", ViTConfig, size=_size, build={"torch": _deep.builder(_make), "numpy": build_numpy}, stacking="vmap",
            check=check,
            batch_norm=lambda mc: False, check_data=_deep.check_data,
            laid_out="cuts images and signals into patches", figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"patch": 2, "dim": 8, "depth": 1, "heads": 2, "mlp_dim": 8}),
            figures=_deep.FIGURES)
