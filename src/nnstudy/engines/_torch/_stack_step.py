"""One training step for a whole stack of trials, and an epoch of them; on CUDA one graph replay per step.

Every trial takes a step on its own batch: its loss (mean over its batch; the perceptron's sum), its own
L1/L2 weights, gradient noise from its own stream (_rng), then the stacked optimizer. The step touches
only device tensors (the batch is picked by a device-side step counter in "indexed" and "graph"
mode), so it can be captured once in a CUDA graph and replayed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ... import _prefetch
from . import _rng
from ._mlp import NOISE_STREAM
from ._precision import forward_context
from ._stack_optim import StackedOptimizer, hyper

if TYPE_CHECKING:
    from ._stack_net import StackedMLP
    from ._stack_vmap import VmapNet


class Stepper:
    """One epoch of updates for the whole stack; on CUDA the whole-batch step is one graph replay."""

    def __init__(self, net: "StackedMLP | VmapNet", opt: StackedOptimizer, tcs: list[dict[str, Any]], loss: str,
                 x: torch.Tensor, y: torch.Tensor, seeds: list[int], counter: torch.Tensor, batch: int, full: int,
                 steps: int, every: int, mode: str):
        self.net, self.opt, self.loss, self.x, self.y = net, opt, loss, x, y
        self.batch, self.full, self.steps, self.every = batch, full, steps, every
        dev, dt = x.device, x.dtype
        self.forward_precision = forward_context(tcs[0], dev)  # train.precision is one for the stack (its key)
        self.l1, self.l2 = hyper(tcs, "l1", dev, dt), hyper(tcs, "l2", dev, dt)
        self.noise = hyper(tcs, "grad_noise", dev, dt)
        self.has_l1, self.has_l2 = any(tc["l1"] for tc in tcs), any(tc["l2"] for tc in tcs)
        self.has_noise = any(tc["grad_noise"] for tc in tcs)
        seed_t = torch.tensor(seeds, dtype=torch.int64, device=dev)
        self.noise_keys = [_rng.stream_key(seed_t.view(-1, *([1] * (p.dim() - 1))), NOISE_STREAM + j)
                           for j, p in enumerate(net.params)]
        self.counter = counter
        self.position = torch.zeros(1, dtype=torch.int64, device=dev)  # step within the epoch (graph mode)
        k = len(seeds)
        self.grad_sums = torch.zeros(len(net.weights), k, dtype=dt, device=dev)
        self.perm = torch.zeros(k, max(full, 1) * batch, dtype=torch.int64, device=dev)
        self.log_steps = any(tc.get("log_every_steps") for tc in tcs)  # keep each step's loss (K, steps)
        self.step_losses = torch.zeros(k, max(steps, 1), dtype=dt, device=dev)
        self.mode, self.graphs = mode, None
        if mode == "graph" and full > 0:
            self.graphs = self._capture()

    def update(self, idx: torch.Tensor, measure: bool, at: torch.Tensor | int = 0) -> None:
        """One step of every trial on its own batch idx (K, B); ``at``: the step's place in the epoch;
        ``measure``: add the weight gradients' norms to grad_sums (every ``every``-th step, as alone)."""
        xb, yb = self.x[idx], self.y[idx]
        with self.forward_precision():
            out = self.net.forward(xb, self.counter)
        out = out.to(xb.dtype)  # bf16: the loss in float32
        per_trial = trial_losses(out, yb, self.loss, "sum" if self.loss == "perceptron" else "mean")
        if self.log_steps:
            data = per_trial.detach() / (idx.shape[1] if self.loss == "perceptron" else 1)
            if isinstance(at, int):
                self.step_losses[:, at] = data
            else:
                self.step_losses.index_copy_(1, at, data.view(-1, 1))
        total = per_trial.sum()
        if self.has_l2:
            total = total + sum((self.l2.flatten() * (w * w).flatten(1).sum(1)).sum() for w in self.net.weights)
        if self.has_l1:
            total = total + sum((self.l1.flatten() * w.abs().flatten(1).sum(1)).sum() for w in self.net.weights)
        grads = torch.autograd.grad(total, self.net.params)
        with torch.no_grad():
            if measure:
                self.grad_sums.add_(torch.stack([torch.linalg.vector_norm(grads[j].flatten(1), dim=1)
                                                 for j in self.net.weight_index]))
            if self.has_noise:
                grads = [g + self._noise(j, p) for j, (g, p) in enumerate(zip(grads, self.net.params))]
            self.opt.step(list(grads))
            self.counter += 1

    def _noise(self, j: int, p: torch.Tensor) -> torch.Tensor:
        transposed = self.net.alone_t[j]  # stored (K, in, out), drawn as the one-trial (out, in)
        shape = (p.shape[2], p.shape[1]) if transposed else tuple(p.shape[1:])
        z = _rng.normal(self.noise_keys[j], self.counter, shape, p.dtype)
        z = z.transpose(1, 2) if transposed else z
        return self.noise.view(-1, *([1] * (p.dim() - 1))) * z

    def _graph_step(self, measure: bool) -> None:
        idx = self.perm.view(self.perm.shape[0], -1, self.batch).index_select(1, self.position).squeeze(1)
        self.update(idx, measure, self.position)
        self.position += 1

    def _state(self) -> list[torch.Tensor]:
        return self.net.params + self.net.buffers + self.opt.tensors() + [self.counter, self.position,
                                                                          self.grad_sums, self.step_losses]

    def _capture(self) -> tuple[torch.cuda.CUDAGraph, ...]:
        """Graphs of one step: with the gradient norms measured, and (when not every step is measured) without."""
        saved = [t.detach().clone() for t in self._state()]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for i in range(3):  # warm-up (cuBLAS handles, autograd), undone below
                self.position.zero_()
                self._graph_step(i % 2 == 0)
        torch.cuda.current_stream().wait_stream(stream)
        measures = (True, False) if self.every > 1 else (True,)
        graphs = tuple(torch.cuda.CUDAGraph() for _ in measures)
        for graph, measure in zip(graphs, measures):
            with torch.cuda.graph(graph):
                self._graph_step(measure)
        with torch.no_grad():
            for t, s in zip(self._state(), saved):
                t.copy_(s)
        return graphs

    def epoch(self, perm: torch.Tensor, taken: int | None = None) -> torch.Tensor:
        """The first ``taken`` steps (default: all) of one epoch on the per-trial permutations perm (K, n); the
        summed measured norms (L, K). Each step's loss is left in step_losses[:, :taken] (log_steps)."""
        _prefetch.training()  # the replays below leave the GIL to the report's imports
        self.grad_sums.zero_()
        b, taken = self.batch, self.steps if taken is None else taken
        full = min(self.full, taken)
        if self.mode in ("graph", "indexed") and full > 0:
            self.perm.copy_(perm[:, :self.full * b])
            self.position.zero_()
            for i in range(full):
                if self.graphs is not None:
                    self.graphs[i % self.every != 0].replay()
                else:
                    self._graph_step(i % self.every == 0)
        else:
            for i in range(full):
                self.update(perm[:, i * b:(i + 1) * b], i % self.every == 0, i)
        if taken > self.full:
            self.update(perm[:, self.full * b:], self.full % self.every == 0, self.full)
        return self.grad_sums


def trial_losses(out: torch.Tensor, y: torch.Tensor, loss: str, reduction: str = "mean") -> torch.Tensor:
    """(K,) data loss of each trial on its batch: out (K, B, C), y (K, B) or (K, B, C)."""
    k, b = out.shape[:2]
    if loss == "cross_entropy":
        per = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(k, b)
    elif loss == "mse":
        per = (out - y).square().mean(2)
    elif loss == "binary":
        per = F.binary_cross_entropy_with_logits(out[..., 0], y.to(out.dtype), reduction="none")
    elif loss == "perceptron":  # as _tensors.loss_fn: the top score minus the true class's
        per = (out.gather(2, out.argmax(2, keepdim=True)) - out.gather(2, y[..., None]))[..., 0]
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return per.mean(1) if reduction == "mean" else per.sum(1)
