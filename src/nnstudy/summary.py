"""`nnstudy summary`: each layer's output shape and parameter count, and the total (like Keras' summary()).

One configuration of the study (the first, or the one ``--point`` picks) is built for the torch
engine and one sample of its dataset's shape is passed through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import StudyError
from .spec import Trial, expand, parse_overrides, read_study


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # the module's class
    output_shape: tuple[int, ...] | None  # without the batch dimension
    params: int


@dataclass(frozen=True)
class Summary:
    layers: list[Layer]
    total: int
    trainable: int
    trial: Trial | None
    input_shape: tuple[int, ...]


def summarize_study(path: str, points: list[str], overrides: dict | None = None) -> Summary:
    """The summary of one configuration of the study at ``path``; StudyError for bad input."""
    from .gradcheck import pick

    study, _, label = read_study(path, overrides)
    trial = pick(expand(study, label), parse_overrides(points, label), label)
    if trial.config["train"]["engine"] != "torch":
        raise StudyError(f"{label}: train.engine: summary describes torch models; this study uses "
                         f"{trial.config['train']['engine']!r}")
    return summarize_trial(trial, label)


def summarize_trial(trial: Trial, label: str = "<study>") -> Summary:
    from .data import load
    from .engines._common import head_of
    from .engines._torch._mlp import build_model
    from .engines._torch._transfer import trainable as trainable_params
    from .kinds import of
    from .spec._schema import DataConfig

    data = load(DataConfig.model_validate(trial.config["data"]))
    mc = trial.config["model"]
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

    rows = _rows(model, _example_pass(model, math.prod(input_shape)))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Summary(rows, total, trainable, trial, tuple(input_shape))


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


def _example_pass(model, n_in: int):
    """One forward pass of two samples: through the classifier, the autoencoder, or G then D of a GAN."""
    import torch

    if hasattr(model, "losses"):
        return lambda: model.losses(torch.rand(2, n_in))
    if hasattr(model, "generate"):
        return lambda: model.discriminator(model.generate(torch.randn(2, model.latent_dim)))
    return lambda: model(torch.zeros(2, n_in))


def _rows(model, forward) -> list[Layer]:
    import torch

    shown = _shown(model)
    shapes: dict[int, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda m, _i, out, i=i: shapes.__setitem__(
        i, tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None)) for i, (_, m) in enumerate(shown)]
    try:
        with torch.no_grad():
            model.eval()
            forward()
    finally:
        for h in hooks:
            h.remove()
    rows = [Layer(name, type(m).__name__, shapes.get(i), sum(p.numel() for p in m.parameters()))
            for i, (name, m) in enumerate(shown)]
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:  # parameters of the model itself, e.g. a transformer's class token and positions
        names = ", ".join(n for n, _ in model.named_parameters(recurse=False))
        rows.insert(0, Layer(names, "Parameter", None, own))
    return rows
