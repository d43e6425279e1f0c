"""``kind = "given"``: a network whose weights the study file gives; the numpy engine evaluates it (no training)."""

from __future__ import annotations

import math

from ..errors import StudyError
from ..spec._given import GivenConfig
from . import Kind


def check(study, label: str) -> None:
    from ..data import info

    model, data = study.model, study.data
    if study.train.engine != "numpy":
        raise StudyError(f"{label}: train.engine: a network with given weights is evaluated by the numpy "
                         "engine: set engine = \"numpy\"")
    if data.normalize != "none":
        raise StudyError(f"{label}: data.normalize: a network with given weights sees the inputs as they "
                         "are: set normalize = \"none\"")
    n_classes = len(data.classes) or info(data).n_classes  # the input width: check_data, on the data
    outputs = (1, n_classes) if n_classes == 2 else (n_classes,)
    if model.output_width() not in outputs:
        raise StudyError(f"{label}: model.layers: the last layer has {model.output_width()} outputs; "
                         f"{n_classes} classes need {' or '.join(map(str, outputs))}")


def check_data(mc: dict, data, label: str) -> None:
    """The inputs the network sees: after data.features, pca and encoding."""
    width, n_in = len(mc["layers"][0]["w"][0]), math.prod(data.input_shape)
    if width != n_in:
        raise StudyError(f"{label}: model.layers: the first layer takes {width} inputs; {data.name} has "
                         f"{n_in} (after any data.features, pca and encoding)")


def head(mc: dict, data):
    from ..engines._common import Head

    n_out = len(mc["layers"][-1]["w"])
    return Head(n_out, "binary" if n_out == 1 else "cross_entropy")


def build_numpy(mc: dict, n_in: int, n_out: int, dtype, init=None, dropout=None, exact_init: bool = True):
    from ..engines._numpy._network import given_network

    return given_network(mc, dtype)


def evaluate(trial, data, on_epoch, device: str = "cpu"):
    from ..engines._numpy._train import evaluate_given

    return evaluate_given(trial, data, on_epoch)


KIND = Kind("given", GivenConfig, build={"numpy": build_numpy}, train={"numpy": evaluate}, tasks=("classification",),
            head=head, check=check, check_data=check_data,
            example={"data": {"name": "interval-sum", "dim": 6, "interval": [2, 4], "normalize": "none"},
                     "model": {"activation": "sign",  # sum(x) >= 2 and not sum(x) >= 5
                               "layers": [{"w": [[1] * 6, [1] * 6], "b": [-1.5, -4.5]},
                                          {"w": [[1, -1]], "b": [-0.5]}]},
                     "train": {"engine": "numpy"}},
            figures=())
