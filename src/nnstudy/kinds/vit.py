"""``kind = "vit"``: a vision transformer (patches, class token, pre-norm encoder blocks)."""

from __future__ import annotations

from ..spec._models_deep import ViTConfig
from . import Kind, _deep


def _make(mc: dict, input_shape: tuple[int, ...], n_out: int):
    from ..engines._torch._vit import ViT

    return ViT(input_shape, n_out, mc["patch"], mc["dim"], mc["depth"], mc["heads"], mc["mlp_dim"], mc["dropout"])


KIND = Kind("vit", ViTConfig, build={"torch": _deep.builder(_make)}, stacking="vmap",
            batch_norm=lambda mc: False, check_data=_deep.check_data, figure_module=_deep.FIGURE_MODULE,
            example=_deep.example({"patch": 2, "dim": 8, "depth": 1, "heads": 2, "mlp_dim": 8}),
            figures=_deep.FIGURES)
