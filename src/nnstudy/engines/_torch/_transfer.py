"""Start a model from a local weight file; a linear probe trains only the output layer.

Files: ``.safetensors``, or a state dict saved by ``torch.save`` and read with ``weights_only=True``.
Every tensor of the body must match by name and shape; the output layer is taken only when its
shape matches (a probe on other classes starts it fresh).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def read_state(path: str, suffix: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a weight file; ``suffix`` gives its format when its name does not (a cached copy)."""
    if (suffix or Path(path).suffix) == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_init_weights(path: str, shown: str) -> dict[str, torch.Tensor]:
    """The tensors of an MLP's starting weights: an .npz (no pickles) or a state dict (``read_state``)."""
    if not shown.endswith(".npz"):
        try:
            return read_state(path, Path(shown).suffix)
        except ValueError:
            raise
        except Exception as e:  # a damaged file is one line, not a traceback
            raise ValueError(f"model.init_weights: cannot read {shown!r} ({' '.join(str(e).split())[:120]})") from None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(np.asarray(z[k], dtype=np.float64)) for k in z.files}
    except Exception as e:
        raise ValueError(f"model.init_weights: cannot read {shown!r} as .npz ({' '.join(str(e).split())[:120]})") \
            from None


def load_init_weights(model: nn.Module, path: str, shown: str) -> None:
    """Start ``model`` from the file's weights: arrays w1, b1, w2, b2, ... (w: (out, in), one pair per linear
    layer, in order), or the model's own state-dict names. ValueError (one line) when they do not fit."""
    state, own = read_init_weights(path, shown), model.state_dict()
    ids = {id(m) for m in model.linears()}
    linear_names = [n for n, m in model.named_modules() if id(m) in ids]
    if any(k.startswith("w") and k[1:].isdigit() for k in state):
        expected = {f"{p}{i}" for i in range(1, len(linear_names) + 1) for p in "wb"}
        if set(state) != expected:
            raise ValueError(f"model.init_weights: {shown} holds {', '.join(sorted(state))}; this MLP has "
                             f"{len(linear_names)} linear layers: {', '.join(sorted(expected))}")
        state = {f"{name}.{part}": state[f"{p}{i}"]
                 for i, name in enumerate(linear_names, 1) for p, part in (("w", "weight"), ("b", "bias"))}
    unknown = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    missing = [f"{name}.{part}" for name in linear_names for part in ("weight", "bias")
               if f"{name}.{part}" not in state]
    if unknown or wrong or missing:
        what = (f"{unknown[0]} is not a tensor of this MLP" if unknown else
                f"{wrong[0]} is {tuple(state[wrong[0]].shape)}, the MLP's is {tuple(own[wrong[0]].shape)}" if wrong
                else f"missing {missing[0]}")
        raise ValueError(f"model.init_weights: {shown} does not fit this model ({what})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)


def head_prefix(model: nn.Module) -> str:
    """The state-dict prefix of the output layer (the last weight-carrying layer)."""
    head = model.linears()[-1]
    return next(name for name, m in model.named_modules() if m is head) + "."


def load_weights(model: nn.Module, path: str) -> None:
    """Copy the file's tensors into ``model``; ValueError (one line) when the body does not match."""
    state, own = read_state(path), model.state_dict()
    head = head_prefix(model)
    missing = [k for k in own if not k.startswith(head) and k not in state]
    wrong = [k for k in own if k in state and not k.startswith(head) and state[k].shape != own[k].shape]
    if missing or wrong:
        what = (f"missing {', '.join(missing[:3])}" if missing else
                f"{wrong[0]} is {tuple(state[wrong[0]].shape)}, the model's is {tuple(own[wrong[0]].shape)}")
        raise ValueError(f"model.weights: {Path(path).name} does not fit this model ({what})")
    take = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(take, strict=False)


def trainable(model: nn.Module, finetune: str) -> list[nn.Parameter]:
    """The parameters the optimizer updates: all, or (linear probe) the output layer's only."""
    if finetune != "head":
        return list(model.parameters())
    head = model.linears()[-1]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(True)
    return list(head.parameters())


def body_frozen(mc: dict) -> bool:
    """A linear probe keeps the body in eval mode: frozen batch-norm statistics, no dropout."""
    return mc.get("finetune") == "head"
