"""Two-layer deep Boltzmann machine v - h1 - h2: greedy RBM pre-training (CD-1), then joint training with
mean-field posteriors for the data term and persistent Gibbs chains for the model term.

Loss: reconstruction cross-entropy (summed over pixels) of v from its mean-field h1. Artifacts: filters
of both layers (layer 2 projected to pixels through W1) and samples of the DBM next to the pre-trained
first-layer RBM's.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ...data._dataset import Dataset
from ...spec import Trial
from .._result import OnEpoch, TrialResult
from ._boltzmann import RBM, draw, few_threads, gibbs_samples, seeded_start
from ._metrics import Snapshot, epoch_log, npz
from ._rbm import MAX_FILTERS, N_SHOWN, image_shape, sample_steps


class DBM:
    def __init__(self, rbm1: RBM, rbm2: RBM, chains: int, gen: torch.Generator):
        self.W1, self.W2 = rbm1.W.clone(), rbm2.W.clone()  # (d, h1), (h1, h2)
        self.b, self.c1, self.c2 = rbm1.b.clone(), (rbm1.c + rbm2.b) / 2, rbm2.c.clone()
        self.gen = gen
        dev = self.b.device
        self.v = torch.bernoulli(torch.full((chains, len(self.b)), 0.5, device=dev), generator=gen)
        self.h1 = torch.bernoulli(torch.full((chains, len(self.c1)), 0.5, device=dev), generator=gen)
        self.h2 = torch.bernoulli(torch.full((chains, len(self.c2)), 0.5, device=dev), generator=gen)

    def mean_field(self, v: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means (mu1, mu2); the bottom-up start doubles W1 to stand in for the missing top-down input."""
        mu1 = torch.sigmoid(2 * (v @ self.W1) + self.c1)
        mu2 = torch.sigmoid(mu1 @ self.W2 + self.c2)
        for _ in range(steps):
            mu1 = torch.sigmoid(v @ self.W1 + mu2 @ self.W2.T + self.c1)
            mu2 = torch.sigmoid(mu1 @ self.W2 + self.c2)
        return mu1, mu2

    def gibbs(self, v, h2, steps: int):
        """Alternate h1 | (v, h2) and (v, h2) | h1; returns (v, h1, h2, mean of v)."""
        for _ in range(steps):
            h1 = draw(torch.sigmoid(v @ self.W1 + h2 @ self.W2.T + self.c1), self.gen)
            pv = torch.sigmoid(h1 @ self.W1.T + self.b)
            v = draw(pv, self.gen)
            h2 = draw(torch.sigmoid(h1 @ self.W2 + self.c2), self.gen)
        return v, h1, h2, pv

    def update(self, v: torch.Tensor, mf_steps: int, lr: float) -> None:
        mu1, mu2 = self.mean_field(v, mf_steps)
        self.v, self.h1, self.h2, _ = self.gibbs(self.v, self.h2, 1)
        n, m = len(v), len(self.v)
        self.W1 += lr * (v.T @ mu1 / n - self.v.T @ self.h1 / m)
        self.W2 += lr * (mu1.T @ mu2 / n - self.h1.T @ self.h2 / m)
        self.b += lr * (v.mean(0) - self.v.mean(0))
        self.c1 += lr * (mu1.mean(0) - self.h1.mean(0))
        self.c2 += lr * (mu2.mean(0) - self.h2.mean(0))

    def recon_loss(self, v: torch.Tensor, mf_steps: int) -> float:
        if not len(v):
            return float("nan")
        mu1, _ = self.mean_field(v, mf_steps)
        logits = mu1 @ self.W1.T + self.b
        return float(F.binary_cross_entropy_with_logits(logits, v, reduction="sum")) / len(v)

    def samples(self, n: int, steps: list[int]) -> np.ndarray:
        dev = self.b.device
        v = torch.bernoulli(torch.full((n, len(self.b)), 0.5, device=dev), generator=self.gen)
        h2 = torch.bernoulli(torch.full((n, len(self.c2)), 0.5, device=dev), generator=self.gen)
        out, done = [], 0
        for target in steps:
            v, _, h2, pv = self.gibbs(v, h2, target - done)
            done = target
            out.append(pv.cpu().numpy())
        return np.stack(out)


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    with few_threads(torch.device(device)):
        return _train(trial, data, on_epoch, device)


def _train(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str) -> TrialResult:
    mc, tc = trial.config["model"], trial.config["train"]
    dev, gen, x, batch = seeded_start(trial, data, device)
    n = len(x["train"])
    h1, h2 = mc["hidden"]
    t0 = time.perf_counter()
    rbm1 = RBM(x["train"].shape[1], h1, x["train"].mean(0), gen)
    for _ in range(mc["pretrain_epochs"]):
        rbm1.epoch(x["train"], batch, 1, tc["lr"])
    hidden1 = rbm1.sample(rbm1.p_h(x["train"]))
    rbm2 = RBM(h1, h2, hidden1.mean(0), gen)
    for _ in range(mc["pretrain_epochs"]):
        rbm2.epoch(rbm1.sample(rbm1.p_h(x["train"])), batch, 1, tc["lr"])
    dbm = DBM(rbm1, rbm2, mc["chains"], gen)
    train_time = time.perf_counter() - t0
    log = epoch_log(trial, on_epoch)
    for epoch in range(1, tc["epochs"] + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen, device=dev)
        for start in range(0, n, batch):
            dbm.update(x["train"][perm[start:start + batch]], mc["mean_field_steps"], tc["lr"])
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_time += time.perf_counter() - t0
        metrics = {f"{name}_loss": dbm.recon_loss(v, mc["mean_field_steps"]) for name, v in x.items() if len(v)}
        if log.record(epoch, metrics, train_time, Snapshot({"model": None})):
            break
    return log.result(Snapshot({"model": None}), train_time, lambda: artifacts(dbm, rbm1, data, mc, gen))


def artifacts(dbm: DBM, rbm1: RBM, data: Dataset, mc: dict, gen) -> dict[str, bytes]:
    shape = image_shape(data)
    if shape is None:
        return {}
    steps = sample_steps(mc["gibbs_steps"])
    w1 = dbm.W1.T[:MAX_FILTERS].cpu().numpy()
    w2 = (dbm.W1 @ dbm.W2).T[:MAX_FILTERS].cpu().numpy()  # layer-2 units seen in pixel space
    return {"dbm.npz": npz(
        filters1=w1.reshape(len(w1), *shape), filters2=w2.reshape(len(w2), *shape), steps=np.array(steps),
        samples=dbm.samples(N_SHOWN, steps).reshape(len(steps), N_SHOWN, *shape),
        rbm_samples=gibbs_samples(rbm1.W, rbm1.b, rbm1.c, N_SHOWN, steps, gen).reshape(len(steps), N_SHOWN, *shape))}
