"""Analytic gradients of the training objective against centred finite differences, in float64.

The numerical derivative is the fourth-order centred difference
(-f(w+2h) + 8 f(w+h) - 8 f(w-h) + f(w-2h)) / 12h with h = 1e-4: its truncation error (~h^4) stays
far below the tolerance, and its rounding error (~eps |f| / h) below it for gradients down to about
1e-5. The two-point (f(w+h) - f(w-h)) / 2h would need h ~ 1e-6, where rounding alone is 1e-7 of a
1e-3 gradient. The loss is differenced through the network; the L1 / L2 penalties
add up weight by weight, so each is differenced on its own weight (a large penalty sum would
otherwise drown the loss's digits). Entries whose probes cross a kink (a ReLU unit switching
side, the perceptron's prediction changing, |w| near 0 under L1) are skipped: the derivative the
difference quotient sees there is not the one backward computes.

Per parameter tensor the error is max |analytic - numerical| / max(|analytic|, |numerical|) over the
checked entries: relative to the tensor's gradient scale, so tiny entries do not turn rounding into
noise. A tensor whose gradients all stay below 1e-8 (a bias right before batch norm) counts as zero.
Dropout masks are drawn once and kept fixed while the objective is probed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data._dataset import Dataset
from ...spec import Trial
from .._common import head_of
from ._activations import Activation
from ._losses import PerceptronCriterion, make_loss
from ._network import build_network
from ._step import Objective
from ._train import as_arrays

TOLERANCE = 1e-7
STEP = 1e-4
ZERO = 1e-8
KINKED = ("relu", "leaky_relu", "sign")
STENCIL = ((2, -1 / 12), (1, 8 / 12), (-1, -8 / 12), (-2, 1 / 12))  # (offset in h, weight)


@dataclass
class ParamCheck:
    name: str
    shape: tuple[int, ...]
    checked: int  # entries compared
    max_grad: float  # max |analytic gradient| over them
    error: float

    @property
    def ok(self) -> bool:
        return self.error <= TOLERANCE


def check_gradients(objective: Objective, xb: np.ndarray, yb: np.ndarray, entries: int,
                    rng: np.random.Generator, h: float = STEP) -> list[ParamCheck]:
    """Compare ``entries`` random entries per tensor (all when 0 or when the tensor is smaller)."""
    net = objective.net
    objective.gradients(xb, yb)  # draws the dropout masks ...
    for layer in net.dropouts():
        layer.frozen = True  # ... which stay while the objective is probed
    try:
        objective.gradients(xb, yb)
        analytic = [g.copy() for g in net.grads]
        return [_check_tensor(objective, xb, yb, name, p, a, entries, rng, h)
                for name, p, a in zip(net.param_names, net.params, analytic)]
    finally:
        for layer in net.dropouts():
            layer.frozen = False


def _check_tensor(objective: Objective, xb, yb, name: str, p: np.ndarray, analytic: np.ndarray,
                  entries: int, rng: np.random.Generator, h: float) -> ParamCheck:
    flat = p.reshape(-1)  # a view: writing it moves the parameter
    picked = np.arange(flat.size) if not entries or flat.size <= entries else \
        np.sort(rng.choice(flat.size, entries, replace=False))
    penalized = any(p is w for w in objective.weights)
    if penalized and objective.l1:
        picked = picked[np.abs(flat[picked]) > 2 * h]
    numerical, smooth = np.empty(len(picked)), np.ones(len(picked), bool)
    objective.data_value(xb, yb)
    pattern = _kinks(objective)
    for j, k in enumerate(picked):
        orig = flat[k]
        d = 0.0
        for offset, weight in STENCIL:
            flat[k] = orig + offset * h
            d += weight * objective.data_value(xb, yb)
            smooth[j] &= all(np.array_equal(a, b) for a, b in zip(pattern, _kinks(objective)))
            if penalized:
                d += weight * objective.penalty(orig + offset * h)
        flat[k] = orig
        numerical[j] = d / h
    picked, numerical = picked[smooth], numerical[smooth]
    a = analytic.reshape(-1)[picked]
    scale = max(np.abs(a).max(initial=0.0), np.abs(numerical).max(initial=0.0))
    error = float(np.abs(a - numerical).max() / scale) if scale > ZERO else 0.0
    return ParamCheck(name, p.shape, len(picked), float(np.abs(a).max(initial=0.0)), error)


def _kinks(objective: Objective) -> list[np.ndarray]:
    """Which side of its kink each ReLU-like unit and the perceptron's argmax were on, last forward."""
    sides = [layer.d.copy() for layer in objective.net.layers
             if isinstance(layer, Activation) and layer.name in KINKED]
    if isinstance(objective.loss, PerceptronCriterion):
        sides.append(objective.out.argmax(1))
    return sides


def check_trial(trial: Trial, data: Dataset, batch: int = 8, entries: int = 64) -> list[ParamCheck]:
    """The trial's model and objective (loss + L1/L2) in float64 on ``batch`` training samples.

    A perceptron starts at zero, where every class ties and the loss has a kink: it is checked at
    random weights instead."""
    mc, tc = trial.config["model"], trial.config["train"]
    rng = np.random.default_rng(trial.seed)
    x, y = as_arrays(data, np.float64)["train"]
    idx = rng.choice(len(x), min(batch, len(x)), replace=False)
    head = head_of(mc, data)
    net = build_network(mc, x.shape[1], head.n_out, np.float64, rng, rng, zero_perceptron=False,
                        input_shape=data.input_shape)
    objective = Objective(net, make_loss(head.loss), tc["l1"], tc["l2"])
    return check_gradients(objective, x[idx], y[idx], entries, rng)
