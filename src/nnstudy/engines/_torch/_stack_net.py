"""K MLPs of one shape as stacked tensors: weights (K, in, out), one batched matmul per layer for all trials.

Built from the K trials' starting layers (_stack_init: drawn straight into stacked tensors, or stacked
from K ordinary ``MLP`` modules; either way the weights each trial starts from alone) and turned back into
one ``MLP``'s state dict for a trial's artifacts. Per-trial hyperparameters (dropout rate) are (K, 1, 1)
tensors.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import _rng
from ._mlp import DROPOUT_STREAM, apply_dropout
from ._precision import norm_dtype
from ._stack_init import StackedLayer
from ._tensors import cpu_rows

BN_EPS, BN_MOMENTUM, LN_EPS = 1e-5, 0.1, 1e-5
EVAL_VALUES = 1 << 26


def activate(h: torch.Tensor, name: str) -> torch.Tensor:
    if name == "relu":
        return F.relu(h)
    if name == "tanh":
        return torch.tanh(h)
    if name == "sigmoid":
        return torch.sigmoid(h)
    if name == "elu":
        return F.elu(h)
    if name == "selu":
        return F.selu(h)
    if name == "leaky_relu":
        return F.leaky_relu(h, 0.01)
    return h


class StackedMLP:
    """Parameters in the order of ``MLP.parameters()``; ``alone_t[j]`` tells which are stored transposed."""

    def __init__(self, layers: list[StackedLayer], mc: dict[str, Any], seeds: list[int], dropout: torch.Tensor,
                 device: torch.device, dtype: torch.dtype):
        self.mc, self.k = mc, len(layers[0].positions)
        self.activation, self.norm = mc.get("activation", "relu"), mc.get("norm", "none")
        self.layers: list[dict[str, Any]] = []  # per linear: W, b, and the norm's tensors
        self.params: list[torch.Tensor] = []
        self.alone_t: list[bool] = []
        self.buffers: list[torch.Tensor] = []  # batch-norm running statistics
        self.named: list[tuple[str, torch.Tensor, bool]] = []  # (attribute, stacked tensor, transposed)
        self.names: list[list[str]] = [[] for _ in range(self.k)]  # each trial's own state-dict names, as in `named`

        def stack(layer: StackedLayer, attr: str, transposed: bool = False) -> torch.Tensor:
            t = layer.tensors[attr].to(device=device, dtype=dtype)
            t = (t.transpose(1, 2) if transposed else t.unsqueeze(1)).clone(memory_format=torch.contiguous_format)
            self.named.append((attr, t, transposed))
            for names, pos in zip(self.names, layer.positions):
                names.append(f"{pos}.{attr}")
            return t

        for layer in layers:
            if layer.module is nn.Linear:
                w, b = stack(layer, "weight", transposed=True), stack(layer, "bias")
                self.layers.append({"W": w, "b": b})
                self._add_params([w, b], [True, False])
            else:
                g, beta = stack(layer, "weight"), stack(layer, "bias")
                self.layers[-1].update(gamma=g, beta=beta)
                self._add_params([g, beta], [False, False])
                if layer.module is nn.BatchNorm1d:
                    rm, rv = stack(layer, "running_mean"), stack(layer, "running_var")
                    self.layers[-1].update(mean=rm, var=rv)
                    self.buffers += [rm, rv]
        for p in self.params:
            p.requires_grad_(True)
        self.weights = [layer["W"] for layer in self.layers]
        self.weight_index = [j for j, t in enumerate(self.alone_t) if t]
        seed_t = torch.tensor(seeds, dtype=torch.int64, device=device).view(-1, 1, 1)
        self.drop_keys = [_rng.stream_key(seed_t, DROPOUT_STREAM + i) for i in range(len(self.layers) - 1)]
        self.dropout = dropout
        self.use_dropout = bool(mc.get("dropout", 0.0) > 0) or bool((dropout > 0).any())

    def eval_rows(self, n_in: int) -> int:
        """Rows per evaluation chunk: rows x K x the widest layer stays under EVAL_VALUES (on the CPU within
        _tensors.cpu_rows)."""
        values = self.k * max(max(layer["W"].shape[2] for layer in self.layers), n_in)
        return cpu_rows(max(1, EVAL_VALUES // values), values, self.layers[0]["W"].device)

    def _add_params(self, tensors: list[torch.Tensor], transposed: list[bool]) -> None:
        self.params += tensors
        self.alone_t += transposed

    def forward(self, x: torch.Tensor, step: torch.Tensor | None = None, train: bool = True) -> torch.Tensor:
        """x: (K, B, in) per-trial batches, or (B, in) shared by all trials (evaluation)."""
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = torch.baddbmm(layer["b"], h, layer["W"]) if h.dim() == 3 else torch.matmul(h, layer["W"]) + layer["b"]
            if i == last:
                return h
            if self.norm != "none":
                h = self._norm(h, layer, train)
            h = activate(h, self.activation)
            if train and self.use_dropout:
                u = _rng.uniform(self.drop_keys[i], step, tuple(h.shape[1:]), h.dtype)
                h = apply_dropout(h, u, self.dropout)
        return h

    def _norm(self, h: torch.Tensor, layer: dict[str, torch.Tensor], train: bool) -> torch.Tensor:
        """Batch or layer norm. A bfloat16 h (train.precision = "bf16") is normalized in float32 and answered in
        the dtype one trial's norm answers (_precision.norm_dtype)."""
        low = h.dtype in (torch.bfloat16, torch.float16)
        x = h.float() if low else h
        if self.norm == "batch":
            x = self._batch_norm(x, layer, train)
        else:
            x = F.layer_norm(x, x.shape[-1:], eps=LN_EPS) * layer["gamma"] + layer["beta"]
        return x.to(norm_dtype(f"{self.norm}_norm", h)) if low else x

    @staticmethod
    def _batch_norm(h: torch.Tensor, layer: dict[str, torch.Tensor], train: bool) -> torch.Tensor:
        if train:
            var, mean = torch.var_mean(h, dim=1, keepdim=True, correction=0)
            n = h.shape[1]
            with torch.no_grad():
                layer["mean"].lerp_(mean, BN_MOMENTUM)
                layer["var"].lerp_(var * (n / (n - 1)), BN_MOMENTUM)
        else:
            mean, var = layer["mean"], layer["var"]
        return (h - mean) * torch.rsqrt(var + BN_EPS) * layer["gamma"] + layer["beta"]

    def trial_state(self, k: int) -> dict[str, torch.Tensor]:
        """Trial k's weights as the state dict of its own ``MLP`` (cloned)."""
        out = {}
        for name, (_, t, transposed) in zip(self.names[k], self.named):
            out[name] = (t[k].t() if transposed else t[k, 0]).detach().clone()
            if name.endswith("running_var"):
                out[name.replace("running_var", "num_batches_tracked")] = torch.zeros((), dtype=torch.long)
        return out
