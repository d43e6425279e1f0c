"""A CNN's evaluation on the CPU: 8,192-row chunks (as before) against chunks that keep the widest activation within
``_tensors.CPU_EVAL_VALUES`` (engines/_torch/_tensors.eval_chunk): seconds, seconds in the kernel, page faults.

    python benchmarks/cpu_eval.py [--rows 16384] [--repeat 2]

Two CNNs of studies/cnn-variants.toml on Fashion-MNIST-sized inputs (random pixels: the time does not depend on
them): "small" (conv 32 -> pool -> conv 64 -> pool) and "dilated" (three same-padded, dilated blocks with batch
norm, 32/64/128 channels, global average pool); and "resnet18" on CIFAR-10-sized inputs (its own chunk: 1,024). Each chunking runs --repeat times; the fastest is printed, then
the ratio. On Linux glibc gives a freed block over its mmap threshold back to the system, so large chunks fault
their activations in afresh at every chunk (the kernel's time).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from nnstudy.engines._torch import _tensors
from nnstudy.engines._torch._cnn import CNN
from nnstudy.engines._torch._resnet import ResNet18

MODELS = {  # name: (model, input shape)
    "small": (lambda: CNN((28, 28), [{"channels": 32, "kernel": 3, "pool": "max"},
                                     {"channels": 64, "kernel": 3, "pool": "max"}], [128], 10), (28, 28)),
    "dilated": (lambda: CNN((28, 28), [
        {"channels": 32, "kernel": 3, "dilation": 2, "padding": "same", "batch_norm": True},
        {"channels": 64, "kernel": 3, "dilation": 2, "padding": "same", "batch_norm": True, "pool": "max"},
        {"channels": 128, "kernel": 3, "padding": "same", "batch_norm": True, "pool": "global_avg"}], [128], 10),
        (28, 28)),
    "resnet18": (lambda: ResNet18((3, 32, 32), 10), (3, 32, 32)),
}


def timed(model: torch.nn.Module, x: torch.Tensor, chunk: int) -> tuple[float, float, int]:
    """(seconds, seconds in the kernel, minor page faults) of one pass over x in chunks."""
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            model(x[start:start + chunk])
    after = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - t0, after.ru_stime - before.ru_stime, after.ru_minflt - before.ru_minflt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16384)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rows} rows (resnet18: a quarter)")
    print("| model | chunk rows | s | s in the kernel | page faults |\n|---|---:|---:|---:|---:|")
    for name, (make, shape) in MODELS.items():
        model = make().eval()
        rows = args.rows // 4 if name == "resnet18" else args.rows
        x = torch.rand(rows, torch.Size(shape).numel(), generator=torch.Generator().manual_seed(0))
        best = {}
        for chunk in (getattr(model, "eval_chunk", _tensors.EVAL_CHUNK), _tensors.eval_chunk(model, x)):
            best[chunk] = min((timed(model, x, chunk) for _ in range(args.repeat)), key=lambda r: r[0])
            s, sys_s, faults = best[chunk]
            print(f"| {name} | {chunk} | {s:.2f} | {sys_s:.2f} | {faults} |", flush=True)
        old, new = best.values()
        print(f"{name}: {old[0] / new[0]:.2f}x faster in chunks of {list(best)[1]} rows")


if __name__ == "__main__":
    main()
