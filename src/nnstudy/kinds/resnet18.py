"""``kind = "resnet18"``: ResNet-18 with the CIFAR stem (3x3 conv, no max-pool)."""

from __future__ import annotations

from ..spec._models_deep import ResNet18Config
from . import Kind, _deep


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._resnet import ResNet18

    return ResNet18(input_shape, n_out, mc["width"])


KIND = Kind("resnet18", ResNet18Config, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: True, check_data=_deep.check_data, figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"width": 4}), figures=(*_deep.FIGURES, "first_layer_weights.png"))
