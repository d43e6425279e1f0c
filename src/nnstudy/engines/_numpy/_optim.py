"""Optimizers as composable gradient transformations, optax style, with torch.optim's arithmetic.

A transformation is ``init(params) -> state`` and ``update(updates, state, params) -> (updates, state)``;
``chain`` runs several in order and an optimizer ends with ``scale_by_learning_rate`` (updates become
``-lr * ...``), then ``apply_updates`` adds them to the parameters. For speed, transformations work in
place: ``updates`` (the engine's gradient buffers) and state arrays are overwritten, never allocated, and
an optimizer's ``step`` fuses the learning rate into the update of the parameters (one BLAS axpy per
array: p += -lr * u in one pass instead of two).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from .._common import optimizer_eps, optimizer_rho

Arrays = list[np.ndarray]


class Transformation(NamedTuple):
    init: Callable[[Arrays], Any]
    update: Callable[[Arrays, Any, Arrays], tuple[Arrays, Any]]
    step: Callable[[Arrays, Any, Arrays], Any] | None = None  # update and apply in one: new state
    descent_lr: Callable[[Any], float] | None = None  # plain SGD: the rate of the next step (_step.make_step)


def chain(*ts: Transformation) -> Transformation:
    def init(params):
        return tuple(t.init(params) for t in ts)

    def update(updates, state, params):
        new = []
        for t, s in zip(ts, state):
            updates, s = t.update(updates, s, params)
            new.append(s)
        return updates, tuple(new)

    def step(updates, state, params):
        new = []
        for t, s in zip(ts[:-1], state):
            updates, s = t.update(updates, s, params)
            new.append(s)
        return (*new, ts[-1].step(updates, state[-1], params))

    return Transformation(init, update, step if ts and ts[-1].step is not None else None)


def apply_updates(params: Arrays, updates: Arrays) -> None:
    for p, u in zip(params, updates):
        p += u


@functools.cache
def _axpy(dtype: np.dtype) -> Callable[..., np.ndarray]:
    return get_blas_funcs("axpy", dtype=dtype)


def add_scaled(params: Arrays, updates: Arrays, scale: float) -> None:
    """p += scale * u for each pair, in place, one pass (BLAS axpy) where both are contiguous."""
    for p, u in zip(params, updates):
        if p.flags.c_contiguous and u.flags.c_contiguous and p.dtype == u.dtype and p.dtype.kind == "f":
            _axpy(u.dtype)(u.ravel(), p.ravel(), a=scale)
        else:
            p += scale * u


def _zeros(params: Arrays) -> Arrays:
    return [np.zeros_like(p) for p in params]


def add_decayed_weights(wd: float) -> Transformation:
    """u + wd * p: L2 weight decay folded into the gradient (torch's weight_decay)."""
    def update(updates, state, params):
        for u, p, tmp in zip(updates, params, state):
            np.multiply(p, wd, out=tmp)
            u += tmp
        return updates, state

    return Transformation(_zeros, update)


def trace(decay: float, nesterov: bool) -> Transformation:
    """Momentum: t = decay t + u; the update is t, or u + decay t (Nesterov). t starts at 0, so the
    first step's t is u, as torch.optim.SGD's buffer."""
    def update(updates, state, params):
        for u, t in zip(updates, state):
            t *= decay
            t += u
            if nesterov:
                u += decay * t
            else:
                np.copyto(u, t)
        return updates, state

    return Transformation(_zeros, update)


def scale_by_adam(b1: float, b2: float, eps: float) -> Transformation:
    """m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps), eps outside the root as torch.optim.Adam."""
    def init(params):
        return {"t": 0, "m": _zeros(params), "v": _zeros(params)}

    def update(updates, state, params):
        state["t"] += 1
        c1, c2 = 1 - b1 ** state["t"], np.sqrt(1 - b2 ** state["t"])
        for u, m, v in zip(updates, state["m"], state["v"]):
            m += (1 - b1) * (u - m)  # torch's lerp
            v *= b2
            v += (1 - b2) * u * u
            np.sqrt(v, out=u)
            u /= c2
            u += eps
            np.divide(m, u, out=u)
            u /= c1
        return updates, state

    return Transformation(init, update)


def scale_by_rms(alpha: float, eps: float) -> Transformation:
    """u / (sqrt(s) + eps) with s = alpha s + (1 - alpha) u^2 (torch.optim.RMSprop, not centred)."""
    def update(updates, state, params):
        for u, s in zip(updates, state):
            s *= alpha
            s += (1 - alpha) * u * u
            u /= np.sqrt(s) + eps
        return updates, state

    return Transformation(_zeros, update)


def scale_by_rss(eps: float) -> Transformation:
    """u / (sqrt(sum of u^2 so far) + eps) (torch.optim.Adagrad, no lr decay)."""
    def update(updates, state, params):
        for u, s in zip(updates, state):
            s += u * u
            u /= np.sqrt(s) + eps
        return updates, state

    return Transformation(_zeros, update)


def scale_by_adadelta(rho: float, eps: float) -> Transformation:
    """sqrt(a + eps) / sqrt(s + eps) * u, with running averages s of u^2 and a of the steps squared."""
    def init(params):
        return {"s": _zeros(params), "a": _zeros(params)}

    def update(updates, state, params):
        for u, s, a in zip(updates, state["s"], state["a"]):
            s *= rho
            s += (1 - rho) * u * u
            u *= np.sqrt(a + eps) / np.sqrt(s + eps)
            a *= rho
            a += (1 - rho) * u * u
        return updates, state

    return Transformation(init, update)


def scale_by_learning_rate(schedule: Callable[[int], float]) -> Transformation:
    """-lr(t) * u, where t counts the updates so far."""
    def update(updates, state, params):
        lr = schedule(state[0])
        state[0] += 1
        for u in updates:
            u *= -lr
        return updates, state

    def step(updates, state, params):
        lr = schedule(state[0])
        state[0] += 1
        add_scaled(params, updates, -lr)
        return state

    return Transformation(lambda params: [0], update, step)


def make_optimizer(tc: dict[str, Any], schedule: Callable[[int], float]) -> Transformation:
    """The study file's ``train.optimizer`` with torch.optim's defaults and hyperparameters."""
    name, wd = tc["optimizer"], tc["weight_decay"]
    decay = [add_decayed_weights(wd)] if wd else []
    lr = scale_by_learning_rate(schedule)
    if name == "sgd":  # without decay, p -= lr g: a step the weights' own products can take (_step.make_step)
        return chain(*decay, lr) if decay else chain(lr)._replace(descent_lr=lambda state: schedule(state[0][0]))
    if name in ("momentum", "nesterov"):
        return chain(*decay, trace(tc["momentum"], name == "nesterov"), lr)
    eps = optimizer_eps(tc)  # read by the adaptive ones only (engines/_common.OPTIMIZER_KEYS)
    if name == "adam":
        return chain(*decay, scale_by_adam(tc["beta1"], tc["beta2"], eps), lr)
    if name == "adamw":  # decoupled: p - lr (adam + wd p) = p (1 - lr wd) - lr adam
        return chain(scale_by_adam(tc["beta1"], tc["beta2"], eps), *decay, lr)
    if name == "rmsprop":
        return chain(*decay, scale_by_rms(optimizer_rho(tc), eps), lr)
    if name == "adagrad":
        return chain(*decay, scale_by_rss(eps), lr)
    if name == "adadelta":
        return chain(*decay, scale_by_adadelta(optimizer_rho(tc), eps), lr)
    raise ValueError(f"optimizer {name!r} is not available on the numpy engine")


def lr_schedule(tc: dict[str, Any], epochs: int | None = None) -> Callable[[int], float]:
    """The learning rate of epoch e (0-based), as torch's StepLR / CosineAnnealingLR(T_max=epochs); epochs:
    those planned (train.epochs, or what train.steps needs)."""
    base, sc, epochs = tc["lr"], tc["schedule"], tc["epochs"] if epochs is None else epochs
    if sc["kind"] == "step":
        return lambda e: base * sc["gamma"] ** (e // sc["step_size"])
    if sc["kind"] == "cosine":
        return lambda e: 0.5 * base * (1 + np.cos(np.pi * e / epochs))
    return lambda e: base
