"""GANs on the PyTorch engine (MLP or DCGAN), non-saturating loss.

Per iteration: ``d_steps`` discriminator updates, each on a fresh real batch, then ``g_steps`` generator
updates; an epoch is one pass of the discriminator over the training inputs. The two networks have their
own optimizers (train.optimizer) with learning rates ``g_lr`` and ``d_lr`` (default train.lr).
Per-epoch metrics: ``g_loss``, ``d_loss`` (mean over the epoch's updates), ``d_real`` / ``d_fake`` (mean
probability D gives real and generated batches), ``train_loss`` = ``g_loss``, and ``val_fd`` / ``test_fd``
(Fréchet distance of generated samples to the split in a PCA space of the training inputs).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from ...data._dataset import Dataset
from ...spec import Trial
from .._common import EpochLog, batch_plan
from .._result import OnEpoch, TrialResult
from ._autoencoders import Setup, _wait
from ._generative_common import FrechetMeter, GradMeter, image_artifacts
from ._generative_nets import GAN
from ._optim import make_optimizer, make_schedule
from ._optim_step import minimize


def gan_optimizers(model: GAN, mc: dict[str, Any], tc: dict[str, Any]
                   ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(generator optimizer, discriminator optimizer), each at its own learning rate."""
    opt_g = make_optimizer(list(model.generator.parameters()), {**tc, "lr": mc["g_lr"] or tc["lr"]})
    opt_d = make_optimizer(list(model.discriminator.parameters()), {**tc, "lr": mc["d_lr"] or tc["lr"]})
    return opt_g, opt_d


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    mc = trial.config["model"]
    s = Setup(trial, data, device)
    model = GAN(mc, s.n_in, s.layout).to(device=s.dev, dtype=s.dtype)
    opt_g, opt_d = gan_optimizers(model, mc, s.tc)
    schedules = [make_schedule(o, s.tc["schedule"], s.tc["epochs"]) for o in (opt_g, opt_d)]
    fd = FrechetMeter(s.inputs, s.gen)
    fixed_z = torch.randn(fd.n, model.latent_dim, generator=s.gen, device=s.dev, dtype=s.dtype)
    x = s.inputs.x["train"]
    n = x.shape[0]
    norm = "batch" if mc["architecture"] == "conv" else "none"
    batch, steps = batch_plan(n, s.tc["batch_size"], norm)
    iterations = math.ceil(steps / mc["d_steps"])
    log = EpochLog(s.tc, on_epoch)
    d_grads = GradMeter(model.discriminator, iterations * mc["d_steps"], "D.")
    g_grads = GradMeter(model.generator, iterations * mc["g_steps"], "G.")
    train_time = 0.0
    for epoch in range(1, s.tc["epochs"] + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=s.gen, device=s.dev)
        sums = torch.zeros(4, dtype=torch.float64, device=s.dev)  # d_loss, d_real, d_fake, g_loss
        d_grads.reset()
        g_grads.reset()
        for it in range(iterations):
            for k in range(mc["d_steps"]):
                i = (it * mc["d_steps"] + k) % steps
                values, stepped = d_step(model, opt_d, x[perm[i * batch:(i + 1) * batch]], s)
                sums[:3] += values
                d_grads.measure(it * mc["d_steps"] + k, *stepped)
            for k in range(mc["g_steps"]):
                value, stepped = g_step(model, opt_g, batch, s)
                sums[3] += value
                g_grads.measure(it * mc["g_steps"] + k, *stepped)
        for sched in schedules:
            if sched is not None:
                sched.step()
        train_time += _wait(s.dev, t0)
        means = sums / torch.tensor([iterations * mc["d_steps"]] * 3 + [iterations * mc["g_steps"]],
                                    dtype=torch.float64, device=s.dev)
        model.eval()
        with torch.no_grad():
            fds = fd(model.generate(fixed_z))
        metrics = s.sync({"g_loss": means[3], "d_loss": means[0], "d_real": means[1], "d_fake": means[2],
                          **fds, **g_grads.values(), **d_grads.values()})
        metrics = {"train_loss": metrics["g_loss"], **metrics, "lr": float(opt_g.param_groups[0]["lr"])}
        if log.record(epoch, metrics, train_time, model):
            break
    return log.result(model, train_time, lambda: image_artifacts(model, data, s.inputs, s.gen))


def _noise(n: int, model: GAN, s: Setup) -> torch.Tensor:
    return torch.randn(n, model.latent_dim, generator=s.gen, device=s.dev, dtype=s.dtype)


def d_step(model: GAN, opt: torch.optim.Optimizer, real: torch.Tensor, s: Setup):
    """One discriminator update; (loss, mean D(real), mean D(fake)) as a detached device tensor, and the
    discriminator's (parameters, gradients)."""
    with torch.no_grad():
        fake = model.generate(_noise(real.shape[0], model, s))
    out_real, out_fake = model.discriminator(real)[:, 0], model.discriminator(fake)[:, 0]
    loss = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
            + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
    stepped = minimize(opt, loss)
    return torch.stack([loss.detach(), torch.sigmoid(out_real.detach()).mean(),
                        torch.sigmoid(out_fake.detach()).mean()]).double(), stepped


def g_step(model: GAN, opt: torch.optim.Optimizer, batch: int, s: Setup):
    """One generator update (non-saturating: make D call the samples real); the loss, detached, and the
    generator's (parameters, gradients). The discriminator's weight gradients are not computed."""
    out = model.discriminator(model.generate(_noise(batch, model, s)))[:, 0]
    loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
    return loss.detach().double(), minimize(opt, loss)
