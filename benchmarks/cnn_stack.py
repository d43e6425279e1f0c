"""The stacked CNN's training step, its convolutions grouped or unfolded: seconds per step and per epoch per trial.

    python benchmarks/cnn_stack.py [--device cuda] [--batch 16] [--k 64] [--steps 300]
        [--variants grouped unfold ...] [--precision float32] [--typical-fraction 1.0] [--typical-repeat 1]
        [--skip-eval]

The model is sweep_throughput's CNN (conv 32 -> pool -> conv 64 -> pool -> dense 10, Fashion-MNIST, SGD
lr 0.1), K seeds stacked by torch.func.vmap (engines/_torch/_stack_vmap.py). Each variant builds the stack
as engines/_torch/_stack_train.py does (models, VmapNet, optimizer, Stepper: one CUDA graph per step on the
GPU), takes a few warm-up steps, then times ``--steps`` steps and one per-epoch evaluation (every split):
    grouped            _stack_vmap.CONV = "grouped": vmap's one grouped convolution (groups = K)
    grouped+benchmark  the same with torch.backends.cudnn.benchmark on (cuDNN picks its algorithms by trial)
    grouped+tf32-conv  the same with torch.backends.cudnn.allow_tf32 on: torch's default, which nnstudy's
                       "float32" turns off (cuDNN's float32 convolutions take TF32 inputs unless told not to)
    unfold             _stack_vmap.CONV = "unfold": windows x weight, one batched matmul over the K trials
    unfold+tf32        the same with torch.backends.cuda.matmul.allow_tf32 on
    grouped-cl         _stack_vmap.CONV = "grouped-cl": one grouped convolution and pool on the K trials' channels
                       side by side, channels-last (_conv_grouped; "auto" takes it on CUDA for --precision bf16)
The flags not named are those --precision sets (engines/_torch/_precision.py: "float32" exact, "tf32" both on).
An epoch is extrapolated as (steps per epoch) x (s/step) + one evaluation, per trial: / K. The typical loop
(sweep_throughput.typical_loop, one epoch or --typical-fraction of one, scaled; the median of --typical-repeat
runs, each printed) gives the ratio printed last.
"""

from __future__ import annotations

import argparse
import time
import types

import torch

from sweep_throughput import repeats, study, sync, typical_repeated

from nnstudy.data import load
from nnstudy.engines._common import batch_plan, grad_norm_steps, head_of
from nnstudy.engines._torch import _stack_vmap
from nnstudy.engines._torch._precision import precision_of, trial_precision
from nnstudy.engines._torch._stack_optim import StackedOptimizer
from nnstudy.engines._torch._stack_step import Stepper
from nnstudy.engines._torch._stack_train import _built, evaluate_stacked
from nnstudy.engines._torch._tensors import DeviceData

VARIANTS = {  # name: (CONV, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32); None: as the precision sets it
    "grouped": ("grouped", False, None, None),
    "grouped+benchmark": ("grouped", True, None, None),
    "grouped+tf32-conv": ("grouped", False, True, None),
    "unfold": ("unfold", False, None, None),
    "unfold+tf32": ("unfold", False, None, True),
    "grouped-cl": ("grouped-cl", False, None, None),
}
WARM_UP = 10


def measure(trials, data, device: str, steps: int, evaluate: bool, conv: str, benchmark: bool,
            cudnn_tf32: bool | None, matmul_tf32: bool | None) -> tuple[float, float, int]:
    """(seconds per step, seconds per evaluation of every split (0 if not ``evaluate``), steps per epoch)."""
    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    before = _stack_vmap.CONV, flags[0].benchmark, flags[0].allow_tf32, flags[1].allow_tf32
    try:
        with trial_precision(trials[0].config["train"], torch.device(device)):
            _stack_vmap.CONV, flags[0].benchmark = conv, benchmark
            if cudnn_tf32 is not None:
                flags[0].allow_tf32 = cudnn_tf32
            if matmul_tf32 is not None:
                flags[1].allow_tf32 = matmul_tf32
            return _measure(trials, data, device, steps, evaluate)
    finally:
        _stack_vmap.CONV, flags[0].benchmark, flags[0].allow_tf32, flags[1].allow_tf32 = before


def _measure(trials, data, device: str, steps: int, evaluate: bool) -> tuple[float, float, int]:
    dev, tcs = torch.device(device), [t.config["train"] for t in trials]
    dd = DeviceData.from_dataset(data, dev, torch.float32)
    x, y = dd.splits["train"]
    head = head_of(trials[0].config["model"], data)
    counter = torch.zeros((), dtype=torch.int64, device=dev)
    models = [_built(t, x.shape[1], head.n_out, data, counter, dev, torch.float32) for t in trials]
    net = _stack_vmap.VmapNet(models, counter, precision_of(tcs[0]))
    opt = StackedOptimizer(tcs[0]["optimizer"], net.params, tcs)
    batch, per_epoch = batch_plan(x.shape[0], tcs[0]["batch_size"], "none")
    full = x.shape[0] // batch
    stepper = Stepper(net, opt, tcs, head.loss, x, y, [t.seed for t in trials], counter, batch, full, per_epoch,
                      grad_norm_steps(per_epoch)[0], "graph" if dev.type == "cuda" else "eager")
    gens = [torch.Generator(device=dev).manual_seed(t.seed) for t in trials]
    perm = torch.stack([torch.randperm(x.shape[0], generator=g, device=dev) for g in gens])
    stepper.epoch(perm, WARM_UP)
    sync(device)
    t0 = time.perf_counter()
    stepper.epoch(perm, min(steps, full))
    sync(device)
    step_s = (time.perf_counter() - t0) / min(steps, full)
    if not evaluate:
        return step_s, 0.0, per_epoch
    t0 = time.perf_counter()
    evaluate_stacked(net, dd, head.loss)
    sync(device)
    return step_s, time.perf_counter() - t0, per_epoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--steps", type=int, default=300, help="timed steps per variant (after 10 warm-up steps)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--precision", default="float32", choices=["float32", "tf32", "bf16"])
    ap.add_argument("--typical-fraction", type=float, default=1.0,
                    help="time the typical loop on this fraction of the training set and scale to an epoch "
                         "(0: leave it out)")
    ap.add_argument("--typical-repeat", type=int, default=1,
                    help="time the typical loop this many times and take the median (every one printed)")
    ap.add_argument("--skip-eval", action="store_true",
                    help="leave out the per-epoch evaluation (70,000 images x K: minutes on a small CPU)")
    args = ap.parse_args()
    if args.typical_repeat < 1:
        ap.error("--typical-repeat must be at least 1")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; CNN stack, batch {args.batch}, K = {args.k}, "
          f"{args.precision}, {args.steps} timed steps per variant; default CONV = {_stack_vmap.CONV!r}; "
          f"cudnn.allow_tf32 {torch.backends.cudnn.allow_tf32}, matmul.allow_tf32 "
          f"{torch.backends.cuda.matmul.allow_tf32}", flush=True)
    s, trials = study(args.batch, 2, args.k, "cnn", args.precision)
    data = load(s.data)
    typical = float("nan")
    if args.typical_fraction > 0:
        n = max(args.batch, int(len(data.x_train) * args.typical_fraction))
        part = types.SimpleNamespace(x_train=data.x_train[:n], y_train=data.y_train[:n])
        typical, all_s = typical_repeated(part, args.batch, args.device, "cnn", args.typical_repeat,
                                          len(data.x_train) / n)
        print(f"typical loop: {typical:.3f} s/epoch{repeats(all_s, 3)}", flush=True)
    rows = []
    for variant in args.variants:
        try:  # one failing variant (out of memory, a missing batching rule) leaves the others' figures
            step_s, eval_s, per_epoch = measure(trials, data, args.device, args.steps, not args.skip_eval,
                                                *VARIANTS[variant])
        except RuntimeError as err:
            print(f"{variant}: failed: {' '.join(str(err).split())[:300]}", flush=True)
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
            continue
        epoch_trial = (per_epoch * step_s + eval_s) / args.k
        rows.append((variant, step_s, eval_s, epoch_trial))
        print(f"{variant}: {step_s * 1e3:.3f} ms/step, evaluation {eval_s:.3f} s, {epoch_trial:.5f} s/epoch/trial "
              f"({per_epoch} steps{'' if args.skip_eval else ' + 1 evaluation'})", flush=True)
    if not rows:
        return
    base_name, base = next(((r[0], r[1]) for r in rows if r[0] == "grouped"), rows[0][:2])
    print(f"\n| variant | ms/step | evaluation s | s/epoch/trial | {base_name} s/step / variant's | "
          "typical / stacked |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant, step_s, eval_s, epoch_trial in rows:
        versus_typical = f"{typical / epoch_trial:.1f}x" if typical == typical else "-"
        print(f"| {variant} | {step_s * 1e3:.3f} | {eval_s:.3f} | {epoch_trial:.5f} | {base / step_s:.2f}x | "
              f"{versus_typical} |")

if __name__ == "__main__":
    main()
