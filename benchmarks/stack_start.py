"""A stacked study's start: the K models' starting weights, the data on the device, the step, the first steps.

    python benchmarks/stack_start.py [--device cuda] [--k 256 1024] [--repeat 3] [--batch 16]

(1) The K = 256 and 1024 default MLPs (784-200-200-10) as stacked tensors, built the old way (K modules,
each after ``torch.manual_seed(seed)``, moved to the device, then stacked: _stack_init.stack_modules) and the
new way (each trial's draws straight into the stacked tensors, in threads: _stack_init.draw_stack); both
give the same bits (tests/test_stack_init.py). Each kept at its fastest of ``--repeat``; old / new printed.
(2) The other start costs of the K = max(--k) stack of the seed-variance study (Fashion-MNIST, batch 16):
loading the data (from the cache), the data to the device, the optimizer and the stepper (on CUDA the graph
capture), the learning rates, the first epoch's permutations, the first step and a later one; and, in a
fresh process, what the first torch optimizer costs (the stack built one per trial for its learning rate).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from nnstudy.data import load
from nnstudy.engines._common import batch_plan, grad_norm_steps
from nnstudy.engines._torch._mlp import build_trainable
from nnstudy.engines._torch._stack_init import draw_stack, stack_modules
from nnstudy.engines._torch._stack_net import StackedMLP
from nnstudy.engines._torch._stack_optim import StackedOptimizer
from nnstudy.engines._torch._stack_step import Stepper
from nnstudy.engines._torch._stack_train import LearningRates
from nnstudy.engines._torch._tensors import DeviceData
from nnstudy.spec import expand, read_study

MODEL = {"kind": "mlp", "hidden": [200, 200], "activation": "relu", "dropout": 0.0, "norm": "none",
         "input_norm": "none"}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stacked_old(seeds: list[int], device: torch.device) -> StackedMLP:
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build_trainable(MODEL, 784, 10).to(device=device, dtype=torch.float32))
    return StackedMLP(stack_modules(models), MODEL, seeds, torch.zeros(len(seeds), 1, 1, device=device), device,
                      torch.float32)


def stacked_new(seeds: list[int], device: torch.device) -> StackedMLP:
    layers = draw_stack([MODEL] * len(seeds), seeds, 784, 10)
    return StackedMLP(layers, MODEL, seeds, torch.zeros(len(seeds), 1, 1, device=device), device, torch.float32)


def fastest(build, seeds: list[int], device: torch.device, repeat: int) -> tuple[float, StackedMLP]:
    best, net = float("inf"), None
    for _ in range(repeat):
        net = None  # the previous stack's memory back before the next
        sync(device)
        t0 = time.perf_counter()
        net = build(seeds, device)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, net


def timed(what: str, rows: list[tuple[str, float]], device: torch.device, fn):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    rows.append((what, time.perf_counter() - t0))
    return out


def start_costs(k: int, batch: int, device: torch.device) -> list[tuple[str, float]]:
    raw = {"study": {"name": "start"}, "data": {"name": "fashion-mnist", "normalize": "minmax"},
           "model": {"hidden": [200, 200]}, "train": {"optimizer": "sgd", "lr": 0.1, "batch_size": batch,
                                                      "epochs": 1}, "trials": {"seeds": k}}
    study, _, _ = read_study(raw)
    trials = expand(study)
    rows: list[tuple[str, float]] = []
    data = timed("load the data (cached files)", rows, device, lambda: load(study.data))
    dd = timed("data to the device", rows, device, lambda: DeviceData.from_dataset(data, device, torch.float32))
    x, y = dd.splits["train"]
    seeds = [t.seed for t in trials]
    net = timed(f"K = {k} models (drawn)", rows, device, lambda: stacked_new(seeds, device))
    tcs = [t.config["train"] for t in trials]
    opt = timed("optimizer", rows, device, lambda: StackedOptimizer("sgd", net.params, tcs))
    n = x.shape[0]
    size, steps = batch_plan(n, batch, "none")
    timed("learning rates (no schedule: no torch optimizer)", rows, device, lambda: LearningRates(tcs, steps))
    every, _ = grad_norm_steps(steps)
    counter = torch.zeros((), dtype=torch.int64, device=device)
    mode = "graph" if device.type == "cuda" else "eager"
    stepper = timed(f"stepper ({mode}{', graph capture' if mode == 'graph' else ''})", rows, device,
                    lambda: Stepper(net, opt, tcs, "cross_entropy", x, y, seeds, counter, size, n // size, steps,
                                    every, mode))
    gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    perm = timed("the first epoch's K permutations", rows, device,
                 lambda: torch.stack([torch.randperm(n, generator=g, device=device) for g in gens]))
    timed("first step", rows, device, lambda: stepper.epoch(perm, 1))
    timed("a later step", rows, device, lambda: stepper.epoch(perm, 1))
    return rows


def first_torch_optimizer() -> float:
    """Seconds to build a fresh process's first torch optimizer (it imports torch._dynamo), torch imported."""
    code = ("import time, torch; t = time.perf_counter(); "
            "torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--k", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads")
    print("\n| K | old: K modules, stacked (s) | new: drawn into the stack (s) | old / new |")
    print("|---:|---:|---:|---:|")
    for k in args.k:
        seeds = list(range(k))
        old, net_old = fastest(stacked_old, seeds, device, args.repeat)
        new, net_new = fastest(stacked_new, seeds, device, args.repeat)
        assert all(torch.equal(a, b) for a, b in zip(net_old.params, net_new.params)), "the starts differ"
        del net_old, net_new
        print(f"| {k} | {old:.3f} | {new:.3f} | {old / new:.2f} |", flush=True)
    rows = start_costs(max(args.k), args.batch, device)
    print(f"\nThe start of a K = {max(args.k)} stack, batch {args.batch}:\n\n| piece | s |\n|---|---:|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.3f} |")
    print(f"| (before: a stand-in torch SGD per trial; the process's first imports torch._dynamo) | "
          f"{first_torch_optimizer():.3f} |")


if __name__ == "__main__":
    main()
