"""K models of any torch kind as one program: ``torch.func.vmap`` over their stacked parameters.

The same interface as ``StackedMLP`` (so the stacked trainer does not care which): parameters in the
order of ``model.parameters()``, each ``(K, *shape)``; buffers (batch-norm statistics, dropout keys)
likewise. Used for the CNN family; the MLP keeps its hand-batched matmuls, which are faster.

CONV: how the ``cnn`` kind's convolutions run for the K trials. "grouped": as vmap writes them, one grouped
convolution (groups = K); "unfold": windows x weight, one batched matrix product over the trials
(_conv_matmul); "grouped-cl": one grouped convolution and max pool on the trials' channels side by side,
channels-last, outside vmap's rules (_conv_grouped; 2-D convolutions without batch norm or adaptive pools, else
grouped). "auto" (the default): grouped-cl where it applies, except on CUDA in float32 and TF32, which unfold
(as do the models grouped-cl cannot take; on the CPU those stay grouped). Measured at K = 64, batch 16 on an
H200: unfold 2.23 ms a step against grouped's 2.95 in float32 (cuDNN's TF32 off, as "float32" sets it) and 1.70
against 2.09 in TF32 (benchmarks/cnn_stack.py); written by hand (conv_forms.py) grouped channels-last took 1.30
ms in bfloat16 against 1.68 unfolded, but 1.91 against 1.73 in TF32. On 2 CPU cores (K = 8, float32)
grouped-cl took 23.4 ms a step and 90 s to evaluate every split against grouped's 39.8 ms and 134 s (unfold
47.5 ms, 84 s). Other kinds (ResNet-18, ViT, user modules) keep the grouped convolution. A trial trained alone
never unfolds.
"""

from __future__ import annotations

import contextlib
import re
import warnings

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ._cnn import CNN, PooledFirst
from ._precision import vmap_autocast
from ._conv_grouped import grouped_channels_last, ready
from ._conv_matmul import convs_by_matmul
from ._tensors import cpu_rows, widest_activation

# torch.func.vmap's warning, several lines long, for an op it runs one slice at a time (no batching rule)
SLOW_OP_WARNING = "There is a performance drop because we have not yet implemented the batching rule for "
SLOW_OP = re.compile(re.escape(SLOW_OP_WARNING) + r"(\S+)\. Please")
MAX_EVAL_VALUES = 1 << 25  # rows x K x input size per evaluation chunk
CONV = "auto"  # or "grouped", "unfold", "grouped-cl": read at each forward pass


@contextlib.contextmanager
def quiet_slow_ops():
    """Stacked training without vmap's warning for ops it runs slice by slice: the start of a run names them
    once (kinds/module.py's stack note)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=re.escape(SLOW_OP_WARNING))
        yield


def slow_ops(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """The ops vmap warned it runs slice by slice, from warnings caught with ``record=True``; every other
    warning is shown again."""
    ops = []
    for w in caught:
        m = SLOW_OP.search(str(w.message))
        if m is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif m[1] not in ops:
            ops.append(m[1])
    return tuple(ops)


class VmapNet:
    def __init__(self, models: list[nn.Module], step: torch.Tensor, precision: str = "float32"):
        self.k, self.template, self.precision = len(models), models[0], precision
        params, buffers = stack_module_state(models)
        self.param_dict = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
        self.buffer_dict = {n: b.clone() for n, b in buffers.items()}
        self.params = list(self.param_dict.values())
        self.buffers = list(self.buffer_dict.values())
        self.alone_t = [False] * len(self.params)
        names = dict((id(p), n) for n, p in self.template.named_parameters())
        weight_names = [names[id(m.weight)] for m in self.template.linears()]
        self.weights = [self.param_dict[n] for n in weight_names]
        self.weight_index = [list(self.param_dict).index(n) for n in weight_names]
        self.state_names = list(self.template.state_dict())
        for m in self.template.modules():  # dropout layers read the shared step counter
            if hasattr(m, "step"):
                m.step = step
        self.evaluated = PooledFirst(self.template) if isinstance(self.template, CNN) else None
        self.cl_ready = isinstance(self.template, CNN) and ready(self.template)

    def forward(self, x: torch.Tensor, step: torch.Tensor | None = None, train: bool = True) -> torch.Tensor:
        """x: (K, B, in) per-trial batches, or (B, in) shared by all trials (evaluation)."""
        self.template.train(train)
        module, params, buffers = self.template, self.param_dict, self.buffer_dict
        if not train and self.evaluated is not None:
            module = self.evaluated
            params, buffers = ({f"cnn.{n}": t for n, t in d.items()} for d in (params, buffers))

        def one(params, buffers, xb):
            return functional_call(module, (params, buffers), (xb,))

        with self._convs(x.device), vmap_autocast(x.device.type):  # nothing unless autocast is on ("bf16")
            return vmap(one, in_dims=(0, 0, 0 if x.dim() == 3 else None))(params, buffers, x)

    def _convs(self, device: torch.device) -> contextlib.AbstractContextManager:
        form = self.conv_form(device)
        if form == "unfold":
            return convs_by_matmul(self.template, self.k)
        if form == "grouped-cl":
            return grouped_channels_last(self.template)
        return contextlib.nullcontext()

    def conv_form(self, device: torch.device) -> str:
        """CONV as it applies to this stack on ``device``."""
        if not isinstance(self.template, CNN):
            return "grouped"
        if CONV == "auto":
            cuda = device.type == "cuda"
            if self.cl_ready and not (cuda and self.precision != "bf16"):
                return "grouped-cl"
            return "unfold" if cuda else "grouped"
        if CONV == "grouped-cl" and self.cl_ready or CONV == "unfold":
            return CONV
        return "grouped"

    def eval_rows(self, n_in: int) -> int:
        """Rows per evaluation chunk: on the CPU the K trials' widest activation within _tensors.cpu_rows."""
        rows = max(1, MAX_EVAL_VALUES // (self.k * max(n_in, 1) * 16))
        first = self.params[0]
        if first.device.type != "cpu":
            return rows
        widest = widest_activation(self.template, torch.zeros(1, n_in, dtype=first.dtype))
        return cpu_rows(rows, self.k * widest, first.device)

    def trial_state(self, k: int) -> dict[str, torch.Tensor]:
        both = {**self.param_dict, **self.buffer_dict}
        return {name: both[name][k].detach().clone() for name in self.state_names}
