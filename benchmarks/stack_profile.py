"""Where a stacked sweep's time goes, and the cost per trial as K grows (issue 21).

    python benchmarks/stack_profile.py [--device cuda] [--batch 16] [--k 1 16 256 1024 4096] [--steps 300]
        [--precision float32] [--profile K] [--model mlp|cnn] [--train-size 4000] [--csv FILE]

(1) --k: the default MLP (784-200-200-10, SGD lr 0.1) on Fashion-MNIST stacked K times, started and stepped
as a real run does (graph mode on CUDA: the measured-norm and plain steps in the epoch's proportion). The
step is timed over --steps steps, one per-epoch evaluation of every split is timed, and an epoch is
steps_per_epoch x step + evaluation; printed per trial, with the peak GPU memory. The largest K that fits
is the last row printed before an out-of-memory line (--no-evaluation: the steps alone, for K too large to
evaluate quickly).
(2) --profile K: torch.profiler over a stack of K trials trained for one epoch on --train-size images in
"indexed" mode (the captured step run eagerly, so every kernel shows) and in graph mode; the kernels by
their total device time, and the share of the evaluation.
"""

from __future__ import annotations

import argparse
import time

import torch

from nnstudy.data import load
from nnstudy.engines._common import batch_plan, grad_norm_steps
from nnstudy.engines._torch._stack_init import draw_stack
from nnstudy.engines._torch._stack_net import StackedMLP
from nnstudy.engines._torch._stack_optim import StackedOptimizer
from nnstudy.engines._torch._stack_step import Stepper
from nnstudy.engines._torch._stack_train import evaluate_stacked, train_group
from nnstudy.engines._torch._tensors import DeviceData
from nnstudy.engines._torch._precision import trial_precision

from stack_start import MODEL
from sweep_throughput import study, sync

MAX_SEEDS = 10000  # trials.seeds at most, as a study file allows
CSV_HEADER = "k,start_s,step_ms,evaluation_s,epoch_s,s_per_epoch_per_trial,of_which_steps,peak_gib"


def per_trial_cost(k: int, batch: int, n_steps: int, precision: str, data, dd: DeviceData, device,
                   evaluate: bool = True) -> str:
    """One row of the K figure: start, step, evaluation (nan without `evaluate`), s/epoch/trial, peak memory."""
    _, trials = study(batch, 1, min(k, MAX_SEEDS), precision=precision)
    seeds = [t.seed for t in trials]
    seeds += range(max(seeds) + 1, max(seeds) + 1 + k - len(seeds))  # past a study file's limit: more seeds
    tcs = [trials[0].config["train"]] * k
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    x, y = dd.splits["train"]
    n = x.shape[0]
    size, steps = batch_plan(n, batch, "none")
    every, _ = grad_norm_steps(steps)
    with trial_precision(tcs[0], device):
        sync(device.type)
        t0 = time.perf_counter()
        net = StackedMLP(draw_stack([MODEL] * k, seeds, 784, 10), MODEL, seeds, torch.zeros(k, 1, 1, device=device),
                         device, torch.float32)
        opt = StackedOptimizer("sgd", net.params, tcs)
        counter = torch.zeros((), dtype=torch.int64, device=device)
        stepper = Stepper(net, opt, tcs, "cross_entropy", x, y, seeds, counter, size, n // size, steps, every,
                          "graph" if device.type == "cuda" else "eager")
        gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        perm = torch.stack([torch.randperm(n, generator=g, device=device) for g in gens])
        sync(device.type)
        start = time.perf_counter() - t0
        taken = min(n_steps, steps)
        stepper.epoch(perm, min(20, taken))  # warm-up
        sync(device.type)
        t0 = time.perf_counter()
        stepper.epoch(perm, taken)
        sync(device.type)
        step = (time.perf_counter() - t0) / taken
        ev = float("nan")
        if evaluate:
            evaluate_stacked(net, dd, "cross_entropy")
            sync(device.type)
            t0 = time.perf_counter()
            evaluate_stacked(net, dd, "cross_entropy")
            sync(device.type)
            ev = time.perf_counter() - t0
    epoch = steps * step + (ev if evaluate else 0.0)
    mem = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else float("nan")
    return f"{k},{start:.3f},{step * 1e3:.4f},{ev:.4f},{epoch:.4f},{epoch / k:.6f},{steps * step / k:.6f},{mem:.2f}"


def profile(k: int, batch: int, precision: str, model: str, train_size: int, device) -> None:
    from torch.profiler import ProfilerActivity, profile as torch_profile

    s, trials = study(batch, 1, k, model, precision, train_size)
    data = load(s.data)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sorts = ["self_device_time_total", "self_cuda_time_total"] if device.type == "cuda" else ["self_cpu_time_total"]
    modes = ["indexed", "graph"] if device.type == "cuda" else ["indexed"]
    for mode in modes:
        train_group(trials, data, lambda *a: None, device.type, mode=mode)  # warm-up (cuDNN, cuBLAS handles)
        sync(device.type)
        t0 = time.perf_counter()
        with torch_profile(activities=acts) as prof:
            train_group(trials, data, lambda *a: None, device.type, mode=mode)
            sync(device.type)
        wall = time.perf_counter() - t0
        print(f"\n### {model}, K = {k}, batch {batch}, {precision}, mode {mode}: one epoch of {train_size} images "
              f"under the profiler, {wall:.3f} s wall\n")
        for sort in sorts:  # the device column's name differs between torch versions
            try:
                print(prof.key_averages().table(sort_by=sort, row_limit=40, max_name_column_width=80))
                break
            except Exception as e:  # noqa: BLE001
                print(f"(no table sorted by {sort}: {e})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--k", type=int, nargs="*", default=[])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--precision", default="float32", choices=["float32", "tf32", "bf16"])
    ap.add_argument("--profile", type=int, nargs="*", default=[], metavar="K")
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    ap.add_argument("--train-size", type=int, default=4000)
    ap.add_argument("--no-evaluation", action="store_true",
                    help="--k without the per-epoch evaluation (the largest K: the steps' memory and time only)")
    ap.add_argument("--csv", help="also write the --k table here (benchmarks/plot_k_figure.py draws it)")
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch}; {args.precision}", flush=True)
    if args.k:
        s, _ = study(args.batch, 1, 1, precision=args.precision)
        data = load(s.data)
        dd = DeviceData.from_dataset(data, device, torch.float32)
        print("\n| K | start s | step ms | evaluation s | epoch s | s/epoch/trial | of which steps | peak GiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
        rows = [CSV_HEADER]
        for k in args.k:
            try:
                rows.append(per_trial_cost(k, args.batch, args.steps, args.precision, data, dd, device,
                                           evaluate=not args.no_evaluation))
                print("| " + rows[-1].replace(",", " | ") + " |", flush=True)
            except torch.OutOfMemoryError as e:
                print(f"| {k} | out of memory: {str(e).splitlines()[0][:120]} |||||||", flush=True)
                break
        if args.csv:  # for plot_k_figure.py
            with open(args.csv, "w") as f:
                f.write("\n".join(rows) + "\n")
    for k in args.profile:
        profile(k, args.batch, args.precision, args.model, args.train_size, device)


if __name__ == "__main__":
    main()
