"""`nnstudy summary`: each layer's output shape, parameters and mult-adds, and the totals (like Keras' summary()).

One configuration of the study (the first, or the one ``--point`` picks) is built for the torch
engine and two samples of its dataset's shape are passed through it under torchinfo, which records
every module's output shape and parameters. Mult-adds (shown per sample) are those of the matrix products
and convolutions a module runs, attention's included, as torch's FlopCounterMode counts them (half its
FLOPs; bias additions and elementwise operations are not counted), the NumPy engine's count too (torchinfo
1.8 counts a Linear layer of a transformer once per sample, not per token). The rows stay ours: the
model's children with plain containers opened one level, the model's own parameters (a transformer's
class token) as a row, and the batch dimension as Keras writes it, ``(None, ...)``. A study with
``train.engine = "numpy"`` is described by the NumPy engine's network instead (engines/_numpy/_summary.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .errors import StudyError
from .spec import Trial, expand, parse_overrides, read_study


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # the module's class
    output_shape: tuple[int, ...] | None  # without the batch dimension
    params: int
    mult_adds: int = 0  # per sample, the module's submodules included


@dataclass(frozen=True)
class Summary:
    layers: list[Layer]
    total: int
    trainable: int
    trial: Trial | None
    input_shape: tuple[int, ...]
    mult_adds: int = 0  # per sample, the whole pass


def summarize_study(path: str, points: list[str], overrides: dict | None = None) -> Summary:
    """The summary of one configuration of the study at ``path``; StudyError for bad input."""
    from .gradcheck import pick

    study, _, label = read_study(path, overrides)
    trial = pick(expand(study, label), parse_overrides(points, label, "--point"), label)
    if trial.config["train"]["engine"] == "numpy":
        return summarize_numpy(trial, label)
    if trial.config["train"]["engine"] != "torch":
        raise StudyError(f"{label}: train.engine: summary describes torch and numpy models; this study uses "
                         f"{trial.config['train']['engine']!r}")
    return summarize_trial(trial, label)


def summarize_numpy(trial: Trial, label: str = "<study>") -> Summary:
    """The NumPy engine's network of the trial (float64): its layers, and inside attention q/k/v and weights."""
    import numpy as np

    from .data import load
    from .engines._common import head_of
    from .engines._numpy._network import build_network
    from .engines._numpy._summary import summarize_network
    from .kinds import check_weights_fit
    from .spec._schema import DataConfig

    data = load(DataConfig.model_validate(trial.config["data"]))
    mc, rng = trial.config["model"], np.random.default_rng(trial.seed)
    check_weights_fit(mc, data, label, {"dtype": "float64"})  # built in float64
    try:
        net = build_network(mc, data.x_train.reshape(len(data.x_train), -1).shape[1], head_of(mc, data).n_out,
                            np.float64, rng, rng, input_shape=data.input_shape)
    except ValueError as err:
        raise StudyError(f"{label}: model: {err}") from None
    return summarize_network(net, tuple(data.input_shape), trial)


def summarize_trial(trial: Trial, label: str = "<study>") -> Summary:
    from .data import load
    from .engines._common import head_of
    from .engines._torch._mlp import build_model
    from .engines._torch._transfer import trainable as trainable_params
    from .kinds import check_on_data, of, training_numerics
    from .spec._schema import DataConfig

    data = load(DataConfig.model_validate(trial.config["data"]))
    mc = trial.config["model"]
    # what `run` refuses on this data (an output of the wrong shape, say)
    check_on_data(mc, data, label, training_numerics(trial.config["train"]))
    try:
        if of(mc).summary is not None:  # a kind with its own loop (autoencoders, GANs) or its own wrapping
            model = of(mc).summary(trial, data)
        else:
            model = build_model(mc, data.x_train.shape[1], head_of(mc, data).n_out, data.input_shape)
    except ValueError as err:
        raise StudyError(f"{label}: model: {err}") from None
    trainable_params(model, mc.get("finetune", "all"))
    return summarize_model(model, tuple(data.input_shape), trial)


def summarize_model(model, input_shape: tuple[int, ...], trial: Trial | None = None) -> Summary:
    """The rows of a built torch model that takes flat inputs of ``input_shape``."""
    import math

    seen, hooks = _attention_inputs(model)
    try:
        macs, total, stats = _counted(model, lambda: _statistics(model, math.prod(input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
    rows = _rows(model, stats, macs, seen)
    return Summary(rows, stats.total_params, stats.trainable_params, trial, tuple(input_shape), total)


_BATCH = 2  # samples in the example pass (two, so that batch norm sees a batch)


def _shown(model) -> list[tuple[str, object]]:
    """The modules that get a row: the model's children, with plain containers opened one level."""
    from torch import nn

    out = []
    for name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and len(child) and not isinstance(model, nn.Sequential):
            out += [(f"{name}.{sub}", m) for sub, m in child.named_children()]
        else:
            out.append((name, child))
    return out


def _statistics(model, n_in: int):
    """torchinfo's statistics of one eval-mode forward pass: through the classifier, the autoencoder,
    or G then D of a GAN (torchinfo calls ``forward``; a wrapper runs the pass the model needs)."""
    import torch
    import torchinfo
    from torch import nn

    if hasattr(model, "losses"):
        x, run = torch.rand(_BATCH, n_in), lambda x: model.losses(x)
    elif hasattr(model, "generate"):
        x, run = torch.randn(_BATCH, model.latent_dim), lambda z: model.discriminator(model.generate(z=z))
    else:
        x, run = torch.zeros(_BATCH, n_in), model

    class ExamplePass(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return run(x)

    with torch.no_grad():
        return torchinfo.summary(ExamplePass(), input_data=[x], mode="eval", verbose=0)


def _counted(model, run: Callable[[], Any]) -> tuple[dict[int, int], int, Any]:
    """({id of a shown module: its mult-adds per sample}, the whole pass's, what ``run`` returned), run's forward
    pass counted by torch's FlopCounterMode: a module's share is what the count grew by while it ran (every call)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    flops: dict[int, int] = {}
    started: dict[int, list[int]] = {}
    hooks = []
    for _, m in _shown(model):
        hooks.append(m.register_forward_pre_hook(
            lambda mod, args: started.setdefault(id(mod), []).append(counter.get_total_flops())))
        hooks.append(m.register_forward_hook(lambda mod, args, out: flops.__setitem__(
            id(mod), flops.get(id(mod), 0) + counter.get_total_flops() - started[id(mod)].pop())))
    try:
        with counter:
            result = run()
    finally:
        for hook in hooks:
            hook.remove()
    per_sample = 2 * _BATCH  # FLOPs: a mult-add is two
    return {k: v // per_sample for k, v in flops.items()}, counter.get_total_flops() // per_sample, result


def _attention_inputs(model) -> tuple[dict, list]:
    """({id: input of the example pass}, hooks to remove) for each self-attention layer of a transformer."""
    from .engines._torch._vit import SelfAttention

    seen: dict[int, object] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.__setitem__(id(mod), args[0].detach()))
             for m in model.modules() if isinstance(m, SelfAttention)]
    return seen, hooks


def _attention_rows(name: str, module, seen: dict) -> list[Layer]:
    """Inside each self-attention layer of a shown module: the queries, keys and values per head and the
    attention weights, from the example pass's input (they are no module's output, so torchinfo has no row)."""
    import torch

    from .engines._torch._vit import SelfAttention

    out = []
    for sub, m in module.named_modules():
        if isinstance(m, SelfAttention) and id(m) in seen:
            with torch.no_grad():
                q, k, _ = m.split_heads(seen[id(m)])
            where = f"{name}.{sub}" if sub else name
            out += [Layer(f"{where}: q, k, v", "per head", tuple(q.shape[1:]), 0),
                    Layer(f"{where}: weights", "softmax(q kᵀ/√d)", tuple((q @ k.transpose(-2, -1)).shape[1:]), 0)]
    return out


def _rows(model, stats, macs: dict[int, int], seen: dict | None = None) -> list[Layer]:
    """One row per shown module: its output shape (last call) and parameters, from torchinfo's layers, and its
    mult-adds per sample (``macs``)."""
    infos = {}
    for info in stats.summary_list:  # in call order: a module called twice keeps its last output
        infos[id(info.module)] = info
    rows = []
    for name, m in _shown(model):
        info = infos.get(id(m))
        shape = tuple(info.output_size[1:]) if info is not None and info.output_size else None
        rows.append(Layer(name, type(m).__name__, shape, sum(p.numel() for p in m.parameters()), macs.get(id(m), 0)))
        rows += _attention_rows(name, m, seen or {})
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:  # parameters of the model itself, e.g. a transformer's class token and positions
        names = ", ".join(n for n, _ in model.named_parameters(recurse=False))
        rows.insert(0, Layer(names, "Parameter", None, own, 0))
    return rows
