"""Artifacts of a trained classifier on images or signals: test predictions, misclassified samples,
first-layer conv filters, and (``train.save_weights``) the weights as ``weights.safetensors``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...data._dataset import Dataset
from .._common import predictions_artifact
from ._tensors import DeviceData, eval_chunk, predict

MAX_FILTERS = 64


@torch.no_grad()
def classifier_artifacts(model: nn.Module, dd: DeviceData, data: Dataset, loss: str,
                         save_weights: bool) -> dict[str, bytes]:
    model.eval()
    out: dict[str, bytes] = {}
    if save_weights:
        from safetensors.torch import save

        out["weights.safetensors"] = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    if data.task != "classification" or len(data.y_test) == 0:
        return out
    x, _ = dd.splits["test"]
    chunk = eval_chunk(model, x)
    y_pred = torch.cat([predict(model(x[i:i + chunk]), loss) for i in range(0, len(x), chunk)])
    if len(data.input_shape) < 2:  # a table or points: the labels only (confusion matrix, per-class scores)
        return out | predictions_artifact(data.y_test, y_pred.cpu().numpy(), data, samples=False)
    out |= predictions_artifact(data.y_test, y_pred.cpu().numpy(), data)
    first = model.linears()[0]
    if isinstance(first, (nn.Conv1d, nn.Conv2d)):
        out |= filters_artifact(first.weight.detach().float().cpu().numpy())
    elif hasattr(model, "embed"):  # a transformer's patch embedding: one (C, ph, pw) filter per width unit
        e = model.embed
        w = first.weight.detach().float().cpu().numpy()
        out |= filters_artifact(w.reshape(len(w), e.shape[0], e.ph, e.pw))
    return out


def filters_artifact(w: np.ndarray) -> dict[str, bytes]:
    """first_layer_weights.npz of a conv layer: (filters, channels, kh, kw) float16, up to 64 filters."""
    from .._common import _npz

    if w.ndim == 3:  # 1-D filters are one pixel high
        w = w[:, :, None, :]
    units = w[:MAX_FILTERS].astype(np.float16)
    labels = np.array([f"filter {i + 1}" for i in range(len(units))])
    if units.shape[1] == 1:
        units = units[:, 0]
    return {"first_layer_weights.npz": _npz(w=units, labels=labels, total_units=np.array(len(w)))}
