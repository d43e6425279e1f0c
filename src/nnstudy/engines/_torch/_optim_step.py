"""A trial's gradients and its optimizer's step on them. On the CPU, SGD (plain, momentum, Nesterov), Adam and
AdamW are torch.optim's single-tensor updates written out op for op: bitwise their numbers, their state in
``opt.state`` (checkpoints, schedules), without the per-call overhead that is a quarter of a small network's
step. Elsewhere, and for every other optimizer or option, torch.optim steps on the gradients as ``p.grad``.
"""

from __future__ import annotations

from typing import Callable

import torch

UNWRITTEN_OPTIONS = ("maximize", "amsgrad", "capturable", "differentiable", "fused", "foreach")


def gradients(value: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """d value / d p for each parameter (None where the value does not depend on it), laid out as
    ``backward`` lays ``p.grad`` out: the same numbers wherever they are reduced or added."""
    grads = torch.autograd.grad(value, params, allow_unused=True)
    return [g if g is None or g.stride() == p.stride() else torch.empty_like(p).copy_(g)
            for p, g in zip(params, grads)]


@torch.no_grad()
def take_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], grads: list[torch.Tensor | None]) -> None:
    """opt's step on ``grads`` (one per parameter of ``params``, None: none)."""
    written = WRITTEN.get(type(opt))
    group = opt.param_groups[0]
    if (written is None or len(opt.param_groups) > 1 or not params or params[0].device.type != "cpu"
            or any(group.get(option) for option in UNWRITTEN_OPTIONS)):
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        return
    live = [(p, g) for p, g in zip(params, grads) if g is not None]
    written(opt, group, [p for p, _ in live], [g for _, g in live])
    opt._opt_called = True  # what opt.step's wrapper tells an LR schedule (else it warns at its first step)


def _sgd(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
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


def _adam(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
    (beta1, beta2), lr, eps, wd = group["betas"], group["lr"], group["eps"], group["weight_decay"]
    decoupled = group.get("decoupled_weight_decay", isinstance(opt, torch.optim.AdamW))
    for p, g in zip(ps, gs):
        state = opt.state[p]
        if not state:
            scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
            state["step"] = torch.tensor(0.0, dtype=scalar)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        if wd != 0:
            if decoupled:
                p.mul_(1 - lr * wd)
            else:
                g = g.add(p, alpha=wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        step = state["step"].item()
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        p.addcdiv_(exp_avg, denom, value=-(lr / (1 - beta1 ** step)))


WRITTEN: dict[type, Callable[..., None]] = {torch.optim.SGD: _sgd, torch.optim.Adam: _adam,
                                            torch.optim.AdamW: _adam}
