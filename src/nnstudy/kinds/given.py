"""``kind = "given"``: a network whose weights are written in the study file or read from an ``.npz``; the
numpy engine evaluates it (no training).

    [model]
    kind = "given"
    activation = "sign"                  # hidden units: sign | relu | tanh | ... (none after the output)
    weights = "solution.npz"             # w1, b1, w2, b2, ... (w: (out, in)); relative to the study file
    # or, inline, one table per layer:
    # [[model.layers]]
    # w = [[1, 1, 1], [1, 1, 1]]
    # b = [-1.5, -3.5]

The file's numbers are copied into ``layers``, so a trial's id changes when the file does. One output
unit scores class 1 when positive (binary); k outputs pick the largest.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_serializer, model_validator

from ..errors import StudyError
from ..spec._scalars import TypedScalars
from ..spec._schema import ModelBase
from . import Kind

MAX_NUMBERS = 100_000  # the weights live in every trial's stored config
GIVEN_ACTIVATIONS = ("sign", "relu", "tanh", "sigmoid", "elu", "selu", "leaky_relu", "identity")


class LayerWeights(TypedScalars):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    w: Annotated[list[list[float]], Field(min_length=1)]  # (out, in)
    b: list[float]  # (out,)


class GivenConfig(ModelBase):
    kind: Literal["given"] = "given"
    activation: Literal[GIVEN_ACTIVATIONS] = "sign"  # type: ignore[valid-type]
    weights: str | None = None
    layers: list[LayerWeights] = []
    sign_zero: Literal[0, 1] | None = Field(None, description=(
        "activation = \"sign\": the value of sign(0), 0 (numpy's; the default) or 1 (a threshold unit that "
        "fires at x >= 0, as the perceptron's step function)"))

    @field_validator("sign_zero")
    @classmethod
    def _sign_only(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and info.data.get("activation") != "sign":
            raise ValueError(f"applies to activation = \"sign\" (found {info.data.get('activation')!r})")
        return v

    @model_serializer(mode="wrap")
    def _leave_out_unset_sign_zero(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("sign_zero") is None:
            out.pop("sign_zero", None)
        return out

    @model_validator(mode="before")
    @classmethod
    def _read_weights_file(cls, raw: Any, info: ValidationInfo) -> Any:
        if not isinstance(raw, dict) or not isinstance(raw.get("weights"), str):
            return raw
        try:
            from_file = read_npz(_base_dir(info) / raw["weights"], raw["weights"])
        except ValueError:
            return raw  # reported under model.weights by _weights_file_readable
        if raw.get("layers") and raw["layers"] != from_file:  # a resolved config carries both, equal
            raise ValueError("give the weights either in a file (weights) or inline (layers), not both")
        return {**raw, "layers": from_file}

    @field_validator("weights")
    @classmethod
    def _weights_file_readable(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            read_npz(_base_dir(info) / v, v)
        return v

    @model_validator(mode="after")
    def _shapes_chain(self) -> "GivenConfig":
        if not self.layers:
            raise ValueError("kind 'given' needs weights = \"file.npz\" or [[model.layers]] tables with w and b")
        check_shapes(self.layers)
        return self

    def output_width(self) -> int:
        return len(self.layers[-1].w)


def _base_dir(info: ValidationInfo) -> Path:
    return Path((info.context or {}).get("base_dir", "."))


def check_shapes(layers: list[LayerWeights]) -> None:
    width, total = len(layers[0].w[0]), 0
    for i, layer in enumerate(layers, 1):
        rows = {len(r) for r in layer.w}
        if rows != {width}:
            raise ValueError(f"layer {i}: every row of w must have {width} numbers (found {sorted(rows)})")
        if len(layer.b) != len(layer.w):
            raise ValueError(f"layer {i}: b has {len(layer.b)} numbers, w has {len(layer.w)} rows")
        width = len(layer.w)
        total += len(layer.w) * (len(layer.w[0]) + 1)
    if total > MAX_NUMBERS:
        raise ValueError(f"{total} weights; a given network holds at most {MAX_NUMBERS} "
                         "(they are stored with every trial)")


def read_npz(path: Path, shown: str) -> list[dict[str, list]]:
    """Layers from arrays w1, b1, w2, b2, ... of an .npz file (no pickles)."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f"no such weights file {shown!r} (paths are relative to the study file)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a broken zip is not a traceback
        raise ValueError(f"cannot read {shown!r} as .npz ({' '.join(str(e).split())})") from None
    n = len(arrays) // 2
    expected = [f"{p}{i}" for i in range(1, n + 1) for p in "wb"]
    if n == 0 or sorted(arrays) != sorted(expected):
        raise ValueError(f"{shown!r} must hold arrays w1, b1, w2, b2, ... (found: {', '.join(sorted(arrays))})")
    layers = []
    for i in range(1, n + 1):
        w, b = arrays[f"w{i}"], arrays[f"b{i}"]
        if w.ndim != 2 or b.ndim != 1 or w.dtype.kind not in "iuf" or b.dtype.kind not in "iuf":
            raise ValueError(f"{shown!r}: w{i} must be a 2-D (out, in) and b{i} a 1-D numeric array")
        layers.append({"w": w.astype(float).tolist(), "b": b.astype(float).tolist()})
    return layers


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


# evaluate_given (engines/_numpy/_train.py) reads the [model] section and the data only, in float64: no optimizer,
# no loop key (epochs, batch_size, l1, l2, grad_noise, dtype, checkpoint_every) and no early stopping reaches it,
# so a study setting one is refused (spec/_unread.py); train.engine = "numpy" is the one train key it takes
KIND = Kind("given", GivenConfig, build={"numpy": build_numpy}, train={"numpy": evaluate}, tasks=("classification",),
            head=head, check=check, check_data=check_data, optimizer=False, early_stopping=False, reads=(),
            seeded=False,
            example={"data": {"name": "interval-sum", "dim": 6, "interval": [2, 4], "normalize": "none"},
                     "model": {"activation": "sign",  # sum(x) >= 2 and not sum(x) >= 5
                               "layers": [{"w": [[1] * 6, [1] * 6], "b": [-1.5, -4.5]},
                                          {"w": [[1, -1]], "b": [-0.5]}]},
                     "train": {"engine": "numpy"}},
            figures=())
