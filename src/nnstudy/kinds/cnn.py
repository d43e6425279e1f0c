"""``kind = "cnn"``: convolution blocks, then dense layers (2-D convolutions on images, 1-D on signals)."""

from __future__ import annotations

from ..spec._models_deep import CNNConfig
from . import Kind, _deep


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._cnn import CNN

    return CNN(input_shape, mc["blocks"], mc["hidden"], n_out, mc["activation"], mc["dropout"])


KIND = Kind("cnn", CNNConfig, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: any(b.get("batch_norm", False) for b in mc["blocks"]),
            check_data=_deep.check_data, figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"blocks": [{"channels": 4, "pool": "max"}], "hidden": [8]}),
            figures=(*_deep.FIGURES, "first_layer_weights.png"))
