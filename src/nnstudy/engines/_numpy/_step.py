"""The training objective (data loss + L2 / L1 on the linear layers' weights) and one update step."""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from . import _blas
from ._losses import Loss
from ._network import Network
from ._optim import Transformation, apply_updates


class Objective:
    """loss(net(x), y) + l2 sum w^2 + l1 sum |w| over the weights of every Linear (not biases)."""

    def __init__(self, net: Network, loss: Loss, l1: float, l2: float):
        self.net, self.loss, self.l1, self.l2 = net, loss, l1, l2
        self.weights = [lin.w for lin in net.linears()]
        self.wgrads = [lin.dw for lin in net.linears()]
        self._tmp = [np.empty_like(w) for w in self.weights]

    def data_value(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """The loss alone (training mode), without the penalties; the output stays in ``self.out``."""
        self.out = self.net.forward(xb, train=True)
        return self._data(self.out, yb)

    def penalty(self, w: float) -> float:
        """The penalty of one weight: the penalties add up weight by weight."""
        return self.l2 * w * w + self.l1 * abs(w)

    def gradients(self, xb: np.ndarray, yb: np.ndarray, want_value: bool = False,
                  data_only: bool = False, penalties: bool = True) -> float | None:
        """Fills ``net.grads`` with the objective's gradient on the batch; its value (or the data loss alone,
        data_only) on request. penalties False: the data loss's gradient alone (a step that descends in place
        applies the L2 penalty itself)."""
        out = self.net.forward(xb, train=True)
        value = (self._data(out, yb) if data_only else self._value(out, yb)) if want_value else None
        self.net.backward(self.loss.grad(out, yb, 1.0 / len(yb) if self.loss.train_mean else 1.0))
        if not penalties:
            return value
        for w, g, tmp in zip(self.weights, self.wgrads, self._tmp):
            if self.l2:
                np.multiply(w, 2 * self.l2, out=tmp)
                g += tmp
            if self.l1:
                np.sign(w, out=tmp)
                tmp *= self.l1
                g += tmp
        return value

    def _data(self, out: np.ndarray, yb: np.ndarray) -> float:
        total = self.loss.total(out, yb)
        return total / len(yb) if self.loss.train_mean else total

    def _value(self, out: np.ndarray, yb: np.ndarray) -> float:
        value = self._data(out, yb)
        if self.l2:
            value += self.l2 * sum(float(np.vdot(w, w)) for w in self.weights)
        if self.l1:
            value += self.l1 * sum(float(np.abs(w).sum()) for w in self.weights)
        return value


def make_step(objective: Objective, opt: Transformation, grad_noise: float, noise: np.random.Generator,
              fused: bool = True) -> Callable[..., tuple[float | None, np.ndarray | None]]:
    """step(xb, yb, measure, want_value=False) -> (objective before the update or None, the L2 norm of
    each layer's weight gradient or None): one update, as the torch engine's step.

    fused: the learning rate applied in the optimizer's one-pass ``step`` (scipy's BLAS axpy). Only where
    BLAS runs one thread: with several, scipy's OpenBLAS and numpy's own keep separate thread pools that
    fight over the cores when called in turn (a batch-1024 epoch took 5x as long). There, SGD without momentum
    or weight decay also takes each Linear's step inside its weight gradient's product (``descend``): one gemm
    writes (1 - 2 lr l2) w - lr x^T dy over w, where the gradient would be written, then read and added (a
    batch-16 epoch of the default MLP: -23 %). Not with an L1 penalty or gradient noise, and not on the steps
    that measure the gradients' norms: those need the gradients."""
    net = objective.net
    state = opt.init(net.params)
    linears, gemm, rest = _descending(objective, opt, grad_noise) if fused else ([], None, None)

    def step(xb: np.ndarray, yb: np.ndarray, measure: bool, want_value: bool = False, data_only: bool = False):
        nonlocal state
        norms = None
        if linears and not measure:
            lr = opt.descent_lr(state)
            descend = functools.partial(gemm, lr, 1.0 - 2.0 * lr * objective.l2)  # descend(x, dy, w)
            for lin in linears:
                lin.descend = descend
            value = objective.gradients(xb, yb, want_value, data_only, penalties=False)  # l2: in keep
            for lin in linears:
                lin.descend = None
            params, grads = rest  # the biases and every other parameter
        else:
            value = objective.gradients(xb, yb, want_value, data_only)
            if measure:
                norms = np.array([np.sqrt(np.vdot(g, g)) for g in objective.wgrads])
            if grad_noise:
                for g in net.grads:
                    g += grad_noise * noise.standard_normal(g.shape, dtype=g.dtype)
            params, grads = net.params, net.grads
        if fused and opt.step is not None:
            state = opt.step(grads, state, params)
        else:
            updates, state = opt.update(grads, state, params)
            apply_updates(params, updates)
        return value, norms

    def set_state(new) -> None:  # the optimizer's state from a checkpoint (engines/_checkpoint.py)
        nonlocal state
        state = new

    step.get_state, step.set_state = lambda: state, set_state
    return step


def _descending(objective: Objective, opt: Transformation, grad_noise: float):
    """(Linears, gemm, (other params, their grads)) where SGD descends in the Linears' own products: no weight
    decay, no L1 penalty, no gradient noise, a gemm that writes in place; else ([], None, None)."""
    net = objective.net
    linears = net.linears()
    gemm = _blas.descent(linears[0].dtype) if linears else None
    if opt.descent_lr is None or objective.l1 or grad_noise or gemm is None:
        return [], None, None
    own = {id(lin.w) for lin in linears}
    rest = [(p, g) for p, g in zip(net.params, net.grads) if id(p) not in own]
    return linears, gemm, ([p for p, _ in rest], [g for _, g in rest])
