"""Start a model from a local weight file; a linear probe trains only the output layer.

Files: ``.safetensors``, or a state dict saved by ``torch.save`` and read with ``weights_only=True``.
Every tensor of the body must match by name and shape; the output layer is taken only when its
shape matches (a probe on other classes starts it fresh).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def read_state(path: str) -> dict[str, torch.Tensor]:
    if Path(path).suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in state.items()}


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
