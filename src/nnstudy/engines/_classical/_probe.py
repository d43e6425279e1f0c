"""Linear probe: logistic regression (scikit-learn) on a hidden layer's activations of another study's
trained torch MLP, or on the features a trained cnn or resnet18 feeds its output layer. The source (weights file, model section) was resolved from the store before training
(nnstudy._sources)."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import torch

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._metrics import class_scores, classifier_artifacts, one_row, supervised_metrics


def load_source(mc: dict, n_in: int, input_shape: tuple[int, ...] = ()) -> torch.nn.Module:
    """The source model with its trained weights (the output width is read from the weights)."""
    from safetensors.torch import load as load_safetensors

    from ..._sources import weights_path
    from .._torch._mlp import build_model

    if not mc.get("source_sha256") or not mc.get("source_model"):
        raise ValueError("the probe's source is not resolved: run the study with nnstudy run / nnstudy.run")
    path = weights_path(mc["source_sha256"])
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != mc["source_sha256"]:
        raise ValueError(f"{path}: the weights changed since the probe's source was resolved")
    state = load_safetensors(blob)
    if mc["source_model"]["kind"] != "mlp":
        return _load_deep(mc["source_model"], state, n_in, input_shape)
    linear_weights = sorted((k for k in state if k.endswith(".weight") and state[k].ndim == 2),
                            key=lambda k: int(k.split(".")[0]))  # "0.weight", "2.weight", ...: module order
    n_out = state[linear_weights[-1]].shape[0]
    first = state[linear_weights[0]].shape[1]
    if first != n_in:
        raise ValueError(f"the source model takes {first} inputs; this probe's data has {n_in}")
    model = build_model(mc["source_model"], n_in, n_out)
    model.load_state_dict(state)
    return model.eval()


def _load_deep(source: dict, state: dict, n_in: int, input_shape: tuple[int, ...]) -> torch.nn.Module:
    """A cnn or resnet18 source: built for the data, the output width read from its output layer's weights."""
    from .._torch._mlp import build_model
    from .._torch._transfer import head_prefix

    source = {k: v for k, v in source.items() if k != "weights"}  # trained: its own starting file is not needed
    head = head_prefix(build_model(source, n_in, 1, input_shape))
    model = build_model(source, n_in, state[f"{head}weight"].shape[0], input_shape)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"the source model does not fit this probe's data ({' '.join(str(e).split())[:160]})") \
            from None
    return model.eval()


@torch.no_grad()
def deep_features(model: torch.nn.Module, x: np.ndarray, layer: int) -> np.ndarray:
    """A cnn's or resnet18's features: what its output layer reads (layer -1 only)."""
    if layer != -1:
        raise ValueError(f"model.layer = {layer}: a cnn or resnet18 source gives the features its output layer "
                         "reads: layer = -1")
    head = model.linears()[-1]
    seen: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach()))
    dtype = next(model.parameters()).dtype
    try:
        for start in range(0, len(x), 1024):
            model(torch.as_tensor(x[start:start + 1024], dtype=dtype))
    finally:
        hook.remove()
    if not seen:
        return np.zeros((0, head.in_features))
    return torch.cat(seen).double().numpy()


@torch.no_grad()
def features(model: torch.nn.Module, x: np.ndarray, layer: int) -> np.ndarray:
    """Activations after hidden layer ``layer`` (1-based; negative counts from the last hidden layer)."""
    from .._torch._cnn import CNN

    if isinstance(model, CNN) or not isinstance(model, torch.nn.Sequential):  # cnn, resnet18
        return deep_features(model, x, layer)
    linears = [i for i, m in enumerate(model) if isinstance(m, torch.nn.Linear)]
    hidden = len(linears) - 1
    if hidden == 0:
        raise ValueError("the source model has no hidden layer")
    chosen = layer if layer > 0 else hidden + 1 + layer
    if not 1 <= chosen <= hidden:
        raise ValueError(f"model.layer = {layer}: the source model has {hidden} hidden layers")
    stop = linears[chosen]  # the modules before the next linear layer: linear, norm, activation, dropout
    dtype = next(model.parameters()).dtype
    h = torch.as_tensor(x, dtype=dtype)
    for m in list(model)[:stop]:
        h = m(h)
    return h.double().numpy()


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    from sklearn.linear_model import LogisticRegression

    mc = trial.config["model"]
    source = load_source(mc, data.x_train.shape[1], tuple(data.input_shape))
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"x_{split}"] = features(source, getattr(data, f"x_{split}"), mc["layer"])
        arrays[f"y_{split}"] = getattr(data, f"y_{split}")
    feats = Dataset(data.name, data.task, **arrays, input_shape=(arrays["x_train"].shape[1],), classes=data.classes)
    model = LogisticRegression(C=mc["C"], max_iter=mc["max_iter"])
    t0 = time.perf_counter()
    model.fit(feats.x_train, feats.y_train)
    train_time = time.perf_counter() - t0
    return one_row(trial, supervised_metrics(model, feats), train_time, on_epoch,
                   lambda: probe_artifacts(model, feats, data))


def probe_artifacts(model, feats: Dataset, data: Dataset) -> dict[str, bytes]:
    """predictions.npz; its misclassified samples are the inputs the source model saw, not their features."""
    if not len(feats.x_test):
        return {}
    return classifier_artifacts(class_scores(model, feats.x_test, len(data.classes)).argmax(1), data)
