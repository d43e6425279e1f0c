"""A torch trial's whole training state, for checkpoints (engines/_checkpoint.py): weights and batch-norm
statistics, optimizer, schedule, plateau, shuffling generator, torch's global generator, the step counter of
the counter-based streams (_rng), the epoch log (history, early stopping, step-loss buffers), training time."""

from __future__ import annotations

from typing import Any

import torch

from .._checkpoint import log_state, plain_state, restore_log, restore_plain


def trial_state(model, opt, schedule, plateau, gen: torch.Generator, counter: torch.Tensor | None, log,
                train_time: float) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "schedule": None if schedule is None else schedule.state_dict(),
            "plateau": None if plateau is None else plain_state(plateau),
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "counter": None if counter is None else int(counter), "log": log_state(log), "train_time": train_time}


def restore_trial(state: dict[str, Any], model, opt, schedule, plateau, gen: torch.Generator,
                  counter: torch.Tensor | None, log) -> float:
    """Puts ``state`` back into the objects a fresh trial built; returns the training time so far."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    restore_plain(plateau, state["plateau"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if counter is not None:
        counter.fill_(state["counter"])
    restore_log(log, state["log"])
    return float(state["train_time"])


def stack_state(net, opt, gens: list[torch.Generator], counter: torch.Tensor, lrs, logs: list, views: list,
                active: list[bool], train_time: list[float]) -> dict[str, Any]:
    """A stack's state (engines/_torch/_stack_train.py): its stacked parameters, batch-norm statistics and
    optimizer slots, each trial's generator, schedule, plateau, epoch log and frozen weights."""
    return {"params": list(net.params), "buffers": list(net.buffers), "optimizer": opt.tensors(),
            "generators": [g.get_state() for g in gens], "torch_rng": torch.get_rng_state(),
            "counter": int(counter), "lr_opts": [o.state_dict() for o in lrs.opts],
            "schedules": [None if s is None else s.state_dict() for s in lrs.schedules],
            "plateaus": [None if p is None else plain_state(p) for p in lrs.plateaus],
            "logs": [log_state(log) for log in logs], "frozen": [v.frozen for v in views],
            "active": list(active), "train_time": list(train_time)}


@torch.no_grad()
def restore_stack(state: dict[str, Any], net, opt, gens: list[torch.Generator], counter: torch.Tensor, lrs,
                  logs: list, views: list) -> tuple[list[bool], list[float]]:
    """Puts ``state`` back into a freshly built stack, in place; returns (active, train_time)."""
    for dst, src in zip(list(net.params) + list(net.buffers) + opt.tensors(),
                        state["params"] + state["buffers"] + state["optimizer"]):
        dst.copy_(src)
    for g, s in zip(gens, state["generators"]):
        g.set_state(s)
    torch.set_rng_state(state["torch_rng"])
    counter.fill_(state["counter"])
    for i, opt_state in enumerate(state["lr_opts"]):
        lrs.opts[i].load_state_dict(opt_state)
        if lrs.schedules[i] is not None:
            lrs.schedules[i].load_state_dict(state["schedules"][i])
        restore_plain(lrs.plateaus[i], state["plateaus"][i])
    for log, s in zip(logs, state["logs"]):
        restore_log(log, s)
    for view, frozen in zip(views, state["frozen"]):
        view.frozen = frozen
    return list(state["active"]), [float(t) for t in state["train_time"]]
