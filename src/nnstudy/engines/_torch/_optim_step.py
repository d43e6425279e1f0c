"""A trial's gradients and its optimizer's step on them. On the CPU, the optimizers a study names (SGD plain, with
momentum or Nesterov's, Adam, AdamW, RMSprop, Adagrad, Adadelta) run torch.optim's single-tensor updates written
out op for op: bitwise their numbers, their state in ``opt.state`` (checkpoints, schedules), without the per-call
overhead that is a quarter of a small network's step. Elsewhere (a GPU, L-BFGS, an option a study cannot set)
torch.optim steps on the gradients as ``p.grad``.
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


def weight_norms(weights: list[torch.Tensor], params: list[torch.Tensor],
                 grads: list[torch.Tensor | None]) -> list[torch.Tensor]:
    """The L2 norm of each weight's gradient among ``grads`` (of ``params``); 0 for a weight without one (frozen,
    or not the stepping optimizer's)."""
    of = {id(p): g for p, g in zip(params, grads)}
    found = [of.get(id(w)) for w in weights]
    return torch._foreach_norm([torch.zeros_like(w) if g is None else g for w, g in zip(weights, found)])


def minimize(opt: torch.optim.Optimizer, value: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """One step of ``opt`` down ``value``'s gradients with respect to its parameters only (no other module's
    are computed); (those parameters, their gradients)."""
    params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
    grads = gradients(value, params)
    take_step(opt, params, grads)
    return params, grads


@torch.no_grad()
def take_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], grads: list[torch.Tensor | None]) -> None:
    """opt's step on ``grads`` (one per parameter of ``params``, None: none)."""
    written, unwritten = WRITTEN.get(type(opt), (None, ()))
    group = opt.param_groups[0]
    if (written is None or len(opt.param_groups) > 1 or not params or params[0].device.type != "cpu"
            or any(group.get(option) for option in UNWRITTEN_OPTIONS + unwritten)):
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


def _scalar() -> torch.dtype:
    """The dtype of torch.optim's step counters."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _state(opt: torch.optim.Optimizer, p: torch.Tensor, *slots: str) -> dict:
    """p's state, made as torch.optim makes it at the first step: a step counter and zeroed slots."""
    state = opt.state[p]
    if not state:
        state["step"] = torch.zeros((), dtype=_scalar())
        for slot in slots:
            state[slot] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return state


def _adam(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
    (beta1, beta2), lr, eps, wd = group["betas"], group["lr"], group["eps"], group["weight_decay"]
    decoupled = group.get("decoupled_weight_decay", isinstance(opt, torch.optim.AdamW))
    for p, g in zip(ps, gs):
        state = _state(opt, p, "exp_avg", "exp_avg_sq")
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


def _rmsprop(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
    alpha, lr, eps, wd = group["alpha"], group["lr"], group["eps"], group["weight_decay"]
    for p, g in zip(ps, gs):
        state = _state(opt, p, "square_avg")
        state["step"] += 1
        if wd != 0:
            g = g.add(p, alpha=wd)
        state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
        p.addcdiv_(g, state["square_avg"].sqrt().add_(eps), value=-lr)


def _adagrad(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
    lr, eps, wd, lr_decay = group["lr"], group["eps"], group["weight_decay"], group["lr_decay"]
    for p, g in zip(ps, gs):
        state = opt.state[p]  # made by Adagrad's constructor
        state["step"] += 1
        step = state["step"].item()
        if wd != 0:
            g = g.add(p, alpha=wd)
        state["sum"].addcmul_(g, g, value=1)
        p.addcdiv_(g, state["sum"].sqrt().add_(eps), value=-(lr / (1 + (step - 1) * lr_decay)))


def _adadelta(opt: torch.optim.Optimizer, group: dict, ps: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
    rho, lr, eps, wd = group["rho"], group["lr"], group["eps"], group["weight_decay"]
    for p, g in zip(ps, gs):
        state = _state(opt, p, "square_avg", "acc_delta")
        state["step"] += 1
        if wd != 0:
            g = g.add(p, alpha=wd)
        state["square_avg"].mul_(rho).addcmul_(g, g, value=1 - rho)
        std = state["square_avg"].add(eps).sqrt_()
        delta = state["acc_delta"].add(eps).sqrt_().div_(std).mul_(g)
        state["acc_delta"].mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-lr)


# each optimizer written out, and the options of its own it is not written for (a study sets none of them)
WRITTEN: dict[type, tuple[Callable[..., None], tuple[str, ...]]] = {
    torch.optim.SGD: (_sgd, ()), torch.optim.Adam: (_adam, ()), torch.optim.AdamW: (_adam, ()),
    torch.optim.RMSprop: (_rmsprop, ("momentum", "centered")), torch.optim.Adagrad: (_adagrad, ()),
    torch.optim.Adadelta: (_adadelta, ())}
