"""What the image classifiers (cnn, resnet18, vit) share: weights to start from, a build check on the data,
stacking by torch.func.vmap, and the image-classifier figures."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import StudyError

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
