"""The starting weights of K stacked MLPs, drawn straight into (K, ...) tensors without building K modules.

Trial k gets bit for bit what its own ``MLP`` gets after ``torch.manual_seed(seed_k)`` (as
engines/_torch/_train.py builds it): the same CPU generator stream (a ``torch.Generator`` seeded alike),
the same draws in the same order as ``nn.Linear.reset_parameters`` (kaiming-uniform weight, then uniform
bias, layer after layer) in the default dtype on the CPU; the norm layers start at ones and zeros as
``nn.BatchNorm1d`` / ``nn.LayerNorm`` do; the perceptron at zero. No module per trial, no per-trial copy
into the stack; the random numbers themselves are then most of the cost, so the trials' draws run in
threads, each with its own generator (torch lets go of the GIL while it draws).

The last trial is also built as a module with the global generator, exactly as alone: that leaves the
global generator where the one-by-one loop left it, and its weights are compared with the drawn ones;
should they ever differ (another torch, another init), the caller builds the modules instead.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...kinds import of
from ._mlp import build_trainable

DRAWN_KINDS = ("mlp", "logistic", "perceptron")


@dataclass
class StackedLayer:
    """One module of the MLP that holds tensors: a Linear, BatchNorm1d or LayerNorm, in network order."""

    module: type[nn.Module]
    positions: list[int]  # its index in each trial's nn.Sequential (dropout layers shift them per trial)
    tensors: dict[str, torch.Tensor]  # attribute -> (K, *its shape in one trial's module)


def stack_modules(models: list[nn.Sequential]) -> list[StackedLayer]:
    """The layers of K built ``MLP`` modules, stacked (the general path)."""
    kept = (nn.Linear, nn.BatchNorm1d, nn.LayerNorm)  # dropout layers exist only where the rate is > 0
    per_model = [[(pos, m) for pos, m in enumerate(model) if isinstance(m, kept)] for model in models]
    layers = []
    for j, (_, module) in enumerate(per_model[0]):
        attrs = _attributes(module)
        layers.append(StackedLayer(type(module), [mods[j][0] for mods in per_model],
                                   {a: torch.stack([getattr(mods[j][1], a).detach() for mods in per_model])
                                    for a in attrs}))
    return layers


def _attributes(module: nn.Module) -> tuple[str, ...]:
    stats = ("running_mean", "running_var") if isinstance(module, nn.BatchNorm1d) else ()
    return ("weight", "bias") + stats


def drawable(mc: dict[str, Any]) -> bool:
    """Whether ``draw_stack`` knows this model's start: the MLP family's own build, default init."""
    from ...kinds.mlp import build_torch

    return (mc.get("kind") in DRAWN_KINDS and of(mc).build.get("torch") is build_torch
            and not mc.get("init_weights") and mc.get("input_norm", "none") == "none" and not mc.get("weights"))


def shell(mc: dict[str, Any], n_in: int, n_out: int, input_shape: tuple[int, ...] = ()) -> nn.Module:
    """The trial's module with no values in it (built on the meta device: no random numbers drawn)."""
    with torch.device("meta"):
        return build_trainable(mc, n_in, n_out, input_shape)


def draw_stack(mcs: list[dict[str, Any]], seeds: list[int], n_in: int, n_out: int,
               input_shape: tuple[int, ...] = (), workers: int | None = None) -> list[StackedLayer] | None:
    """The K trials' starting layers (CPU, default dtype), as K modules built one by one would hold them;
    the global generator is left as that loop leaves it. None: a drawn value differs from the module's."""
    shells: dict[bool, nn.Module] = {}  # one per layout: dropout layers present or not
    for mc in mcs:
        if dropout_layers(mc) not in shells:
            shells[dropout_layers(mc)] = shell(mc, n_in, n_out, input_shape)
    drawn = mcs[0]["kind"] != "perceptron"  # the perceptron starts at zero (its build zeroes what it drew)
    layers = _empty_layers([shells[dropout_layers(mc)] for mc in mcs], zero_linears=not drawn)
    if drawn:
        linears = [layer for layer in layers if layer.module is nn.Linear]
        workers = max(1, min(len(seeds), workers or torch.get_num_threads()))
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda ks: _draw_trials(linears, seeds, ks),
                          [range(w, len(seeds), workers) for w in range(workers)]))
    torch.manual_seed(seeds[-1])  # the last trial alone: the global generator, and a check of the draws
    own = stack_modules([build_trainable(mcs[-1], n_in, n_out, input_shape)])
    for mine, theirs in zip(layers, own, strict=True):
        if any(not torch.equal(mine.tensors[attr][-1], t[0]) for attr, t in theirs.tensors.items()):
            return None
    return layers


def dropout_layers(mc: dict[str, Any]) -> bool:
    return mc.get("dropout", 0.0) > 0


def _empty_layers(shells: list[nn.Sequential], zero_linears: bool) -> list[StackedLayer]:
    """Stacked layers shaped after each trial's shell: norm layers at their start (weight and running
    variance ones, the rest zero); the Linears' tensors zero or left to be drawn."""
    kept = (nn.Linear, nn.BatchNorm1d, nn.LayerNorm)
    positions = {id(s): [pos for pos, m in enumerate(s) if isinstance(m, kept)] for s in shells}
    template = shells[0]
    k, dtype = len(shells), torch.get_default_dtype()
    layers = []
    for j, pos in enumerate(positions[id(template)]):
        module = template[pos]
        tensors = {}
        for attr in _attributes(module):
            shape = (k, *getattr(module, attr).shape)
            if isinstance(module, nn.Linear):
                tensors[attr] = (torch.zeros if zero_linears else torch.empty)(shape, dtype=dtype)
            else:
                tensors[attr] = (torch.ones if attr in ("weight", "running_var") else torch.zeros)(shape, dtype=dtype)
        layers.append(StackedLayer(type(module), [positions[id(s)][j] for s in shells], tensors))
    return layers


def _draw_trials(linears: list[StackedLayer], seeds: list[int], trials: range) -> None:
    for k in trials:
        gen = torch.Generator().manual_seed(seeds[k])
        for layer in linears:  # as nn.Linear.reset_parameters, into the trial's contiguous slice
            weight, bias = layer.tensors["weight"][k], layer.tensors["bias"][k]
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
            fan_in = weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(bias, -bound, bound, generator=gen)


class ArtifactModels:
    """A module per trial to load its weights into for its artifacts: the built ones, or (drawn starts)
    one empty module per layout and thread, shared by the trials that thread takes one after another."""

    def __init__(self, models: list[nn.Module] | None, mcs: list[dict[str, Any]], n_in: int, n_out: int,
                 input_shape: tuple[int, ...], dev: torch.device, dtype: torch.dtype):
        self.models, self.mcs, self.shape, self.dev, self.dtype = models, mcs, (n_in, n_out, input_shape), dev, dtype
        self.shells: dict[tuple[int, bool], nn.Module] = {}
        self.linear_names = (models[0] if models is not None else shell(mcs[0], *self.shape)).linear_names

    def of(self, i: int) -> nn.Module:
        if self.models is not None:
            return self.models[i]
        key = threading.get_ident(), dropout_layers(self.mcs[i])
        if key not in self.shells:
            self.shells[key] = _materialized(shell(self.mcs[i], *self.shape), self.dev, self.dtype)
        return self.shells[key]


def _materialized(module: nn.Module, dev: torch.device, dtype: torch.dtype) -> nn.Module:
    """The meta module with empty tensors on dev (its float ones in dtype), through load_state_dict: a meta
    module's to_empty imports torch's symbolic shapes (0.4 s of a run's start)."""
    module.load_state_dict({name: torch.empty(t.shape, device=dev, dtype=dtype if t.is_floating_point() else t.dtype)
                            for name, t in module.state_dict().items()}, assign=True)
    return module
