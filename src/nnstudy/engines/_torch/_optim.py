"""Optimizers and learning-rate schedules by study-file name."""

from __future__ import annotations

from typing import Any

import torch

from .._common import optimizer_eps, optimizer_rho


def make_optimizer(params: list[torch.nn.Parameter], tc: dict[str, Any]) -> torch.optim.Optimizer:
    """Each optimizer reads the train keys engines/_common.OPTIMIZER_KEYS declares for it, and no other of them."""
    name, lr = tc["optimizer"], tc["lr"]
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
    wd = tc["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=tc["momentum"], nesterov=name == "nesterov",
                               weight_decay=wd)
    eps = optimizer_eps(tc)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(tc["beta1"], tc["beta2"]), eps=eps, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(tc["beta1"], tc["beta2"]), eps=eps, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=optimizer_rho(tc), eps=eps, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=eps, weight_decay=wd)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=optimizer_rho(tc), eps=eps, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


def make_schedule(opt: torch.optim.Optimizer, sc: dict[str, Any], epochs: int):
    """StepLR or CosineAnnealingLR, stepped after each epoch; None for none and for plateau (the loop steps
    engines._common.Plateau with the epoch's metrics)."""
    if sc["kind"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=sc["step_size"], gamma=sc["gamma"])
    if sc["kind"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return None
