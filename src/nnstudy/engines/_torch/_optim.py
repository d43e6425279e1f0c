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


def gradients(value: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """d value / d p for each parameter (None where the value does not depend on it), laid out as
    ``backward`` lays ``p.grad`` out: the same numbers wherever they are reduced or added."""
    grads = torch.autograd.grad(value, params, allow_unused=True)
    return [g if g is None or g.stride() == p.stride() else torch.empty_like(p).copy_(g)
            for p, g in zip(params, grads)]


@torch.no_grad()
def take_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], grads: list[torch.Tensor | None]) -> None:
    """opt's step on ``grads``. SGD (plain, momentum, Nesterov) is torch.optim.SGD's update written out, op for
    op (bitwise its numbers, its momentum buffers in ``opt.state``), without the per-call overhead that makes
    up a quarter of a small network's step on the CPU; other optimizers take the gradients as ``p.grad``."""
    if type(opt) is not torch.optim.SGD:
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        return
    (group,) = opt.param_groups
    live = [(p, g) for p, g in zip(params, grads) if g is not None]
    ps, gs = [p for p, _ in live], [g for _, g in live]
    if group["maximize"]:
        gs = torch._foreach_neg(gs)
    if group["weight_decay"] != 0:
        gs = torch._foreach_add(gs, ps, alpha=group["weight_decay"])
    momentum = group["momentum"]
    if momentum != 0:
        bufs = []
        for p, g in zip(ps, gs):
            state = opt.state[p]
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = g.detach().clone()
            else:
                state["momentum_buffer"].mul_(momentum).add_(g, alpha=1 - group["dampening"])
            bufs.append(state["momentum_buffer"])
        gs = torch._foreach_add(gs, bufs, alpha=momentum) if group["nesterov"] else bufs
    torch._foreach_add_(ps, gs, alpha=-group["lr"])
    opt._opt_called = True  # what opt.step's wrapper tells an LR schedule (else it warns at its first step)


def make_schedule(opt: torch.optim.Optimizer, sc: dict[str, Any], epochs: int):
    """StepLR or CosineAnnealingLR, stepped after each epoch; None for none and for plateau (the loop steps
    engines._common.Plateau with the epoch's metrics)."""
    if sc["kind"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=sc["step_size"], gamma=sc["gamma"])
    if sc["kind"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return None
