"""The MLP family: mlp, logistic regression and the perceptron (one network, linear ones without hidden layers).

Trained by the torch and numpy engines' shared loops; stacked as hand-batched matmuls.
"""

from __future__ import annotations

from ..spec._schema import LogisticConfig, MLPConfig, PerceptronConfig
from . import Kind

CLASSIFICATION = ("classification",)


def _hidden(mc: dict) -> list[int]:
    return mc["hidden"] if mc["kind"] == "mlp" else []


def build_torch(mc: dict, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()):
    """PyTorch's default init; the perceptron starts at zero."""
    import torch

    from ..engines._torch._mlp import MLP

    if mc["kind"] == "mlp":
        return MLP(n_in, mc["hidden"], n_out, mc["activation"], mc["dropout"], mc["norm"])
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


_BUILD = {"torch": build_torch, "numpy": build_numpy}
TRAIN = {"lr": 0.05, "batch_size": 32, "epochs": 1}

KINDS = [
    Kind("mlp", MLPConfig, build=_BUILD, stacking="mlp",
         example={"data": {"name": "moons", "n_samples": 200}, "model": {"hidden": [8]}, "train": TRAIN},
         figures=("decision_boundary.png", "grad_norms.png")),
    Kind("logistic", LogisticConfig, build=_BUILD, tasks=CLASSIFICATION, head=_logistic_head, stacking="mlp",
         example={"data": {"name": "digits", "train_size": 200}, "model": {}, "train": TRAIN},
         figures=("first_layer_weights.png", "class_errors.png", "misclassified.png")),
    Kind("perceptron", PerceptronConfig, build=_BUILD, tasks=CLASSIFICATION, head=_perceptron_head,
         stacking="mlp", example={"data": {"name": "iris"}, "model": {}, "train": TRAIN}),
]
