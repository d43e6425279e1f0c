"""The elementwise optimizers of the torch engine for stacked parameters (K, ...), each trial with its own
hyperparameters as (K, 1, 1) tensors. Same update rules as ``torch.optim`` (single-tensor form), so a
trial's trajectory matches the one-trial engine's to rounding; no host sync, capturable in a CUDA graph.
"""

from __future__ import annotations

from typing import Any

import torch

from .._common import optimizer_eps, optimizer_rho
from ._stack import STACKABLE



def hyper(tcs: list[dict[str, Any]], key: str, device, dtype) -> torch.Tensor:
    return torch.tensor([tc[key] for tc in tcs], dtype=dtype, device=device).view(-1, 1, 1)


def _per_trial(values: list[float], device, dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device).view(-1, 1, 1)


class StackedOptimizer:
    def __init__(self, name: str, params: list[torch.Tensor], tcs: list[dict[str, Any]]):
        if name not in STACKABLE:
            raise ValueError(f"optimizer {name!r} cannot be stacked")
        self.name, self.params = name, params
        dev, dt = params[0].device, params[0].dtype
        self.lr = hyper(tcs, "lr", dev, dt)  # written each epoch by the schedule; 0 freezes a trial
        self.wd = hyper(tcs, "weight_decay", dev, dt)
        self.has_wd = any(tc["weight_decay"] for tc in tcs)  # none: skip the decay's two passes over p
        self.momentum = hyper(tcs, "momentum", dev, dt)
        self.beta1, self.beta2 = hyper(tcs, "beta1", dev, dt), hyper(tcs, "beta2", dev, dt)
        self.eps = _per_trial([optimizer_eps(tc) for tc in tcs], dev, dt)  # adadelta: its own default
        self.rho = _per_trial([optimizer_rho(tc) for tc in tcs], dev, dt)  # rmsprop's alpha, adadelta's rho
        self.t = torch.zeros((), dtype=dt, device=dev)  # steps taken, for Adam's bias correction
        self.state = [[torch.zeros_like(p) for _ in range(self._slots())] for p in params]

    def _slots(self) -> int:
        return {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adagrad": 1}.get(self.name, 2)

    def tensors(self) -> list[torch.Tensor]:
        """Everything the optimizer changes (to snapshot before a CUDA-graph warm-up)."""
        return [self.t] + [s for slots in self.state for s in slots]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        if self.name in ("adam", "adamw"):  # the only readers of t (one kernel less per step for the rest)
            self.t += 1
        for p, g, slots in zip(self.params, grads, self.state):
            lr = self._lr_for(p)
            if self.has_wd and self.name == "adamw":
                p.mul_(1 - lr * self._h(self.wd, p))
            elif self.has_wd:
                g = g + self._h(self.wd, p) * p
            getattr(self, f"_{self.name}")(p, g, slots, lr)

    def _lr_for(self, p: torch.Tensor) -> torch.Tensor:
        return self._h(self.lr, p)

    @staticmethod
    def _h(h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """(K, 1, 1) hyperparameter viewed to broadcast against p (K, ...)."""
        return h.view(-1, *([1] * (p.dim() - 1)))

    def _sgd(self, p, g, slots, lr):
        p.addcmul_(lr, g, value=-1)

    def _momentum(self, p, g, slots, lr, nesterov: bool = False):
        (buf,) = slots
        mu = self._h(self.momentum, p)
        buf.mul_(mu).add_(g)
        p.addcmul_(lr, g + mu * buf if nesterov else buf, value=-1)

    def _nesterov(self, p, g, slots, lr):
        self._momentum(p, g, slots, lr, nesterov=True)

    def _adam(self, p, g, slots, lr):
        m, v = slots
        b1, b2, eps = self._h(self.beta1, p), self._h(self.beta2, p), self._h(self.eps, p)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g * (1 - b2))
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        denom = v.sqrt() / bc2.sqrt() + eps
        p.sub_((lr / bc1) * m / denom)

    _adamw = _adam

    def _rmsprop(self, p, g, slots, lr):
        (v,) = slots
        alpha = self._h(self.rho, p)
        v.mul_(alpha).addcmul_(g, g * (1 - alpha))
        p.sub_(lr * g / (v.sqrt() + self._h(self.eps, p)))

    def _adagrad(self, p, g, slots, lr):
        (acc,) = slots
        acc.addcmul_(g, g)
        p.sub_(lr * g / (acc.sqrt() + self._h(self.eps, p)))

    def _adadelta(self, p, g, slots, lr):
        sq, acc_delta = slots
        rho, eps = self._h(self.rho, p), self._h(self.eps, p)
        sq.mul_(rho).addcmul_(g, g * (1 - rho))
        delta = (acc_delta + eps).sqrt() / (sq + eps).sqrt() * g
        acc_delta.mul_(rho).addcmul_(delta, delta * (1 - rho))
        p.sub_(lr * delta)
