"""The MLP family: mlp, logistic regression and the perceptron (one network, linear ones without hidden layers).

Trained by the torch and numpy engines' shared loops; stacked as hand-batched matmuls.
"""

from __future__ import annotations

from ..spec._schema import LogisticConfig, MLPConfig, PerceptronConfig
from . import Kind, dense_parameters

CLASSIFICATION = ("classification",)


def _hidden(mc: dict) -> list[int]:
    return mc["hidden"] if mc["kind"] == "mlp" else []


def build_torch(mc: dict, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()):
    """PyTorch's default init; the perceptron starts at zero."""
    import torch

    from ..engines._torch._mlp import MLP

    if mc["kind"] == "mlp":
        model = MLP(n_in, mc["hidden"], n_out, mc["activation"], mc["dropout"], mc["norm"],
                    mc.get("input_norm", "none"))
        if mc.get("init_weights"):
            from .. import _userfiles
            from ..engines._torch._transfer import load_init_weights

            path = _userfiles.cached(mc["init_weights_sha256"])
            if not path.is_file():
                raise ValueError(f"model.init_weights: {mc['init_weights']!r} (sha256 "
                                 f"{mc['init_weights_sha256'][:12]}) is not in this machine's cache")
            load_init_weights(model, str(path), mc["init_weights"])
        return model
    model = MLP(n_in, [], n_out)
    if mc["kind"] == "perceptron":
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
    return model


def build_numpy(mc: dict, n_in: int, n_out: int, dtype, init, dropout, exact_init: bool = True):
    """Freshly drawn weights (``exact_init`` False: the perceptron too, for gradient checks)."""
    from ..engines._numpy._network import mlp_network

    zero = mc["kind"] == "perceptron" and exact_init
    return mlp_network(n_in, _hidden(mc), n_out, mc.get("activation", "relu"), mc.get("dropout", 0.0),
                       mc.get("norm", "none"), dtype, init, dropout, zero_output=zero)


def _logistic_head(mc: dict, data):
    from ..engines._common import Head

    return Head(1, "binary") if data.n_outputs == 2 else Head(data.n_outputs, "cross_entropy")


def _perceptron_head(mc: dict, data):
    from ..engines._common import Head

    return Head(data.n_outputs, "perceptron")


TORCH_ONLY = ("input_norm", "init_weights")  # keys of the torch MLP only: set, the trial trains alone


def _torch_only_keys(mc: dict) -> list[str]:
    return [k for k in TORCH_ONLY if mc.get(k) not in (None, "none")]


def _mlp_check(study, label: str) -> None:
    from ..errors import StudyError

    asked = _torch_only_keys(study.model.model_dump())
    if asked and study.train.engine != "torch":
        raise StudyError(f"{label}: model.{asked[0]}: only the torch engine has it (train.engine = "
                         f"{study.train.engine!r})")


def _mlp_check_data(mc: dict, data, label: str) -> None:
    """Starting weights that do not fit the network are a bad study file, not a failed trial."""
    if not mc.get("init_weights"):
        return
    import math

    from ..engines._common import head_of
    from ..errors import StudyError

    try:
        build_torch(mc, math.prod(data.input_shape), head_of(mc, data).n_out, data.input_shape)
    except ValueError as e:
        raise StudyError(f"{label}: {e}") from None


def _mlp_stack_key(trial):
    """Hand-batched matmuls, unless the torch-only keys are set (input batch norm, starting weights)."""
    from ..engines._torch._stack import hand_batched_key

    return None if _torch_only_keys(trial.config["model"]) else hand_batched_key(trial)


_BUILD = {"torch": build_torch, "numpy": build_numpy}
TRAIN = {"lr": 0.05, "batch_size": 32, "epochs": 1}

KINDS = [
    Kind("mlp", MLPConfig, build=_BUILD, stacking="mlp", stack_key=_mlp_stack_key, check=_mlp_check,
         size=lambda mc, n_in, n_out: ("hidden", dense_parameters([n_in, *mc["hidden"], n_out])),
         check_data=_mlp_check_data,
         batch_norm=lambda mc: mc.get("norm") == "batch" or mc.get("input_norm") == "batch",
         example={"data": {"name": "moons", "n_samples": 200}, "model": {"hidden": [8]}, "train": TRAIN},
         figures=("decision_boundary.png", "grad_norms.png")),
    Kind("logistic", LogisticConfig, build=_BUILD, tasks=CLASSIFICATION, head=_logistic_head, stacking="mlp",
         example={"data": {"name": "digits", "train_size": 200}, "model": {}, "train": TRAIN},
         figures=("first_layer_weights.png", "class_errors.png", "misclassified.png")),
    Kind("perceptron", PerceptronConfig, build=_BUILD, tasks=CLASSIFICATION, head=_perceptron_head,
         stacking="mlp", example={"data": {"name": "iris"}, "model": {}, "train": TRAIN}),
]
