"""Bernoulli RBM building blocks in torch (CPU or CUDA): binarized inputs, CD-k, Gibbs chains,
exact pseudo-log-likelihood. Parameters: W (visible, hidden), b (visible), c (hidden)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

PLL_CHUNK = 256


@contextlib.contextmanager
def few_threads(device: torch.device, threads: int = 1):
    """Small matrices: on the CPU one thread beats a team that waits on itself (and on other work)."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(min(threads, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seeded_start(trial, data, device: str):
    """(device, generator, binarized splits, batch size) of a Boltzmann-machine trial, seeded by it."""
    from .._common import batch_plan

    dev = torch.device(device)
    torch.manual_seed(trial.seed)
    gen = torch.Generator(device=dev).manual_seed(trial.seed)
    x = binarize(data, dev)
    batch, _ = batch_plan(len(x["train"]), trial.config["train"]["batch_size"], "none")
    return dev, gen, x, batch


def binarize(data, device: torch.device) -> dict[str, torch.Tensor]:
    """Every split scaled to [0, 1] by the training range, then thresholded at 0.5: float {0, 1}."""
    lo, hi = data.x_train.min(0), data.x_train.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = {}
    for name in ("train", "val", "test"):
        x = getattr(data, f"x_{name}")
        out[name] = torch.as_tensor(((x - lo) / span) > 0.5, dtype=torch.float32, device=device)
    return out


def draw(p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Bernoulli draws while training; weights gone non-finite (a learning rate far too high) give NaN
    probabilities, drawn as 0.5 so that the epoch ends and its NaN loss marks the trial diverged."""
    return torch.bernoulli(p.nan_to_num(0.5), generator=gen)


class RBM:
    def __init__(self, n_visible: int, n_hidden: int, v_mean: torch.Tensor, gen: torch.Generator):
        dev = v_mean.device
        self.W = 0.01 * torch.randn(n_visible, n_hidden, generator=gen, device=dev)
        p = v_mean.clamp(1e-3, 1 - 1e-3)
        self.b = torch.log(p / (1 - p))
        self.c = torch.zeros(n_hidden, device=dev)
        self.gen = gen

    def p_h(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v @ self.W + self.c)

    def p_v(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.W.T + self.b)

    def sample(self, p: torch.Tensor) -> torch.Tensor:
        return draw(p, self.gen)

    def cd_step(self, v0: torch.Tensor, k: int, lr: float) -> None:
        """One contrastive-divergence update from the batch v0 (B, visible) with k Gibbs steps."""
        ph0 = self.p_h(v0)
        ph = ph0
        for _ in range(k):
            v = self.sample(self.p_v(self.sample(ph)))
            ph = self.p_h(v)
        n = len(v0)
        self.W += lr * (v0.T @ ph0 - v.T @ ph) / n
        self.b += lr * (v0 - v).mean(0)
        self.c += lr * (ph0 - ph).mean(0)

    def epoch(self, x: torch.Tensor, batch: int, k: int, lr: float) -> None:
        perm = torch.randperm(len(x), generator=self.gen, device=x.device)
        for start in range(0, len(x), batch):
            self.cd_step(x[perm[start:start + batch]], k, lr)


def pseudo_ll(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> float:
    """Mean over samples of sum_i log P(v_i | v_-i), exact (every bit flipped in turn)."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, len(x), PLL_CHUNK):
        v = x[start:start + PLL_CHUNK]  # (B, d)
        a = v @ W + c  # (B, h)
        s = 1 - 2 * v  # +1 where a bit turns on, -1 where it turns off
        a_flip = a[:, None, :] + s[:, :, None] * W[None]  # (B, d, h)
        # free energy F(v) = -v.b - sum softplus(a); delta = F(flipped) - F(v)
        delta = -s * b - (F.softplus(a_flip) - F.softplus(a)[:, None, :]).sum(2)  # (B, d)
        total += F.logsigmoid(delta).double().sum()
    return float(total) / max(len(x), 1)


def gibbs_samples(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, n: int, steps: list[int],
                  gen: torch.Generator) -> np.ndarray:
    """(len(steps), n, visible) mean visible activity after each number of Gibbs steps from noise."""
    v = torch.bernoulli(torch.full((n, len(b)), 0.5, device=b.device), generator=gen)
    out, done = [], 0
    for target in steps:
        for _ in range(target - done):
            h = torch.bernoulli(torch.sigmoid(v @ W + c), generator=gen)
            pv = torch.sigmoid(h @ W.T + b)
            v = torch.bernoulli(pv, generator=gen)
        done = target
        out.append(pv.cpu().numpy())
    return np.stack(out)


def inpaint(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, x: torch.Tensor, hidden: torch.Tensor,
            steps: int, gen: torch.Generator) -> np.ndarray:
    """Fill in the pixels where ``hidden`` (visible,) is True by Gibbs sampling with the rest clamped;
    returns the visible means averaged over the second half of the steps (the first half is burn-in): an
    estimate of P(pixel on | the pixels shown), (n, visible)."""
    v = torch.where(hidden, torch.bernoulli(torch.full_like(x, 0.5), generator=gen), x)
    total, kept = torch.zeros_like(x), 0
    for step in range(steps):
        h = torch.bernoulli(torch.sigmoid(v @ W + c), generator=gen)
        pv = torch.sigmoid(h @ W.T + b)
        v = torch.where(hidden, torch.bernoulli(pv, generator=gen), x)
        if 2 * step >= steps:
            total += pv
            kept += 1
    return torch.where(hidden, total / max(kept, 1), x).cpu().numpy()
