"""A torch trial's whole training state, for checkpoints (engines/_checkpoint.py): weights and batch-norm
statistics, optimizer, schedule, plateau, shuffling generator, torch's global generator, the step counter of
the counter-based streams (_rng), the epoch log (history, early stopping, step-loss buffers), training time."""

from __future__ import annotations

from typing import Any

import torch

from .._checkpoint import log_state, plain_state, restore_log, restore_plain


def trial_state(model, opt, schedule, plateau, gen: torch.Generator, counter: torch.Tensor, log,
                train_time: float) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "schedule": None if schedule is None else schedule.state_dict(),
            "plateau": None if plateau is None else plain_state(plateau),
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "counter": int(counter),
            "log": log_state(log), "train_time": train_time}


def restore_trial(state: dict[str, Any], model, opt, schedule, plateau, gen: torch.Generator,
                  counter: torch.Tensor, log) -> float:
    """Puts ``state`` back into the objects a fresh trial built; returns the training time so far."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    restore_plain(plateau, state["plateau"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    counter.fill_(state["counter"])
    restore_log(log, state["log"])
    return float(state["train_time"])
