"""Autoencoders on the PyTorch engine: ae, vae and stacked_ae (layer-wise pre-training, then fine-tuning).

Data stay on the device; one host sync per epoch. Metrics: ``<split>_loss`` (ae: reconstruction loss per
input; vae: negative ELBO per sample) and, for the vae, ``<split>_recon``, ``<split>_kl`` and the Fréchet
distance of prior samples ``val_fd`` / ``test_fd``; stacked_ae pre-training epochs add ``pretrain_loss``
and ``phase`` (the pair being trained, 1 = outermost).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ...data._dataset import Dataset
from ...kinds import of
from ...spec import Trial
from .._common import EpochLog, batch_plan
from .._checkpoint import Checkpoints
from .._result import OnEpoch, TrialResult
from ._generative_common import (AlongTraining, FrechetMeter, GradMeter, Inputs, image_artifacts, image_layout,
                                 is_image, split_means)
from ._generative_nets import StackedAE
from ._optim import make_optimizer, make_schedule
from ._optim_step import minimize
from ._trial_state import restore_trial, trial_state


class Setup:
    """Device, dtype, seeded generator and the inputs of one trial."""

    def __init__(self, trial: Trial, data: Dataset, device: str):
        mc, self.tc = trial.config["model"], trial.config["train"]
        self.dev = torch.device(device)
        self.dtype = torch.float64 if self.tc["dtype"] == "float64" else torch.float32
        torch.manual_seed(trial.seed)
        self.gen = torch.Generator(device=self.dev).manual_seed(trial.seed)
        unit = mc.get("loss", "bce") == "bce"
        self.inputs = Inputs.from_dataset(data, self.dev, self.dtype, unit)
        self.n_in = self.inputs.x["train"].shape[1]
        self.input_shape = tuple(data.input_shape)
        self.layout = image_layout(data.input_shape) if is_image(data) else None

    def sync(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """Device scalars to floats, with one host sync."""
        if not values:
            return {}
        return dict(zip(values, torch.stack([v.double() for v in values.values()]).tolist()))


def build(mc: dict[str, Any], s: Setup) -> torch.nn.Module:
    """The kind's network (nnstudy.kinds), on the trial's device and dtype."""
    return of(mc).build["torch"](mc, s.n_in, s.n_in, s.input_shape).to(device=s.dev, dtype=s.dtype)


def train_trial(trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
    mc = trial.config["model"]
    s = Setup(trial, data, device)
    model = build(mc, s)
    log = EpochLog(s.tc, on_epoch)
    fd = FrechetMeter(s.inputs, s.gen) if model.has_prior else None
    prior = None if fd is None else torch.randn(fd.n, model.latent_dim, generator=s.gen, device=s.dev,
                                                dtype=s.dtype)  # the same draws every epoch
    train_time, epoch = 0.0, 0
    along = AlongTraining(model, data, s.inputs, s.tc["epochs"])
    checkpoints = Checkpoints(s.tc, [trial.trial_id])
    saved = checkpoints.resume(  # taken during fine-tuning: pre-training is over
        lambda state: (state["model"], model.state_dict()))
    if isinstance(model, StackedAE) and saved is None:  # layer-wise pre-training first
        for pair in range(len(model.enc) if mc["pretrain_epochs"] else 0):
            pair_opt = pair_optimizer(model, pair, s, mc["pretrain_lr"])
            for _ in range(mc["pretrain_epochs"]):
                epoch += 1
                t0 = time.perf_counter()
                pre = pretrain_epoch(model, pair, s, pair_opt)
                train_time += _wait(s.dev, t0)
                row = s.sync({"pretrain_loss": pre, **split_means(model, s.inputs)})
                row |= {"phase": float(pair + 1), "time_s": train_time}
                log.history.append({"epoch": epoch, **row})
                log.on_epoch(epoch, row)
                if not math.isfinite(row["pretrain_loss"]):
                    log.status = "diverged"
                    return log.result(model, train_time, dict)
        if epoch:
            along.snap("after pre-training")
    opt = make_optimizer(list(model.parameters()), s.tc)
    schedule = make_schedule(opt, s.tc["schedule"], s.tc["epochs"])
    n = s.inputs.x["train"].shape[0]
    batch, steps = batch_plan(n, s.tc["batch_size"], "none")
    grads = GradMeter(model, steps)
    first = 1
    if saved is not None:
        epoch, state = saved
        train_time = restore_trial(state, model, opt, schedule, None, s.gen, None, log)
        first, (along.labels, along.images) = state["fine_tune_epoch"] + 1, state["along"]
    for fine_tune_epoch in range(first, s.tc["epochs"] + 1):
        epoch += 1
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=s.gen, device=s.dev)
        grads.reset()
        for i in range(steps):
            grads.measure(i, *minimize(opt, model.losses(s.inputs.x["train"][perm[i * batch:(i + 1) * batch]])
                                     ["loss"].mean()))
        if schedule is not None:
            schedule.step()
        train_time += _wait(s.dev, t0)
        metrics = s.sync(epoch_values(model, s, fd, prior) | grads.values())
        metrics["lr"] = float(opt.param_groups[0]["lr"])
        along.epoch(epoch, fine_tune_epoch)
        if log.record(epoch, metrics, train_time, model):
            break
        checkpoints.after_epoch(epoch, fine_tune_epoch == s.tc["epochs"], lambda: trial_state(
            model, opt, schedule, None, s.gen, None, log, train_time) | {
            "fine_tune_epoch": fine_tune_epoch, "along": [along.labels, along.images]})
    return log.result(model, train_time, lambda: image_artifacts(model, data, s.inputs, s.gen) | along.artifacts())


@torch.no_grad()
def epoch_values(model, s: Setup, fd: FrechetMeter | None, prior: torch.Tensor | None
                 ) -> dict[str, torch.Tensor]:
    """Every split's loss terms, and for a VAE the Fréchet distance of its decoded prior draws."""
    model.eval()
    values = split_means(model, s.inputs)
    if fd is not None:
        values |= fd(model.decode(prior))
    return values


def pair_optimizer(model: StackedAE, pair: int, s: Setup, lr: float | None) -> torch.optim.Optimizer:
    """An optimizer over the parameters of encoder/decoder pair ``pair`` only: nothing else can move."""
    params = [*model.enc[pair].parameters(), *model.dec[pair].parameters()]
    return make_optimizer(params, {**s.tc, "lr": lr or s.tc["lr"]})


def pretrain_epoch(model: StackedAE, pair: int, s: Setup, opt: torch.optim.Optimizer) -> torch.Tensor:
    """One epoch of pair ``pair`` on the codes of the pairs before it; the mean loss (device tensor)."""
    with torch.no_grad():
        h = model.encode(s.inputs.x["train"], upto=pair)
    n = h.shape[0]
    batch, steps = batch_plan(n, s.tc["batch_size"], "none")
    perm = torch.randperm(n, generator=s.gen, device=s.dev)
    total = torch.zeros((), dtype=torch.float64, device=s.dev)
    model.train()
    for i in range(steps):
        loss = model.pair_loss(pair, h[perm[i * batch:(i + 1) * batch]])
        minimize(opt, loss)
        total += loss.detach().double()
    return total / steps


def _wait(dev: torch.device, t0: float) -> float:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter() - t0
