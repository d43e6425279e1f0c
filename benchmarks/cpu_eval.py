"""A CNN's evaluation on the CPU: 8,192-row chunks (as before) against chunks that keep the widest activation within
``_tensors.CPU_EVAL_VALUES`` (engines/_torch/_tensors.eval_chunk): seconds, seconds in the kernel, page faults.

    python benchmarks/cpu_eval.py [--rows 16384] [--repeat 2]

Two CNNs of studies/cnn-variants.toml on Fashion-MNIST-sized inputs (random pixels: the time does not depend on
them): "small" (conv 32 -> pool -> conv 64 -> pool) and "dilated" (three same-padded, dilated blocks with batch
norm, 32/64/128 channels, global average pool). Each chunking runs --repeat times; the fastest is printed, then
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

MODELS = {
    "small": [{"channels": 32, "kernel": 3, "pool": "max"}, {"channels": 64, "kernel": 3, "pool": "max"}],
    "dilated": [{"channels": 32, "kernel": 3, "dilation": 2, "padding": "same", "batch_norm": True},
                {"channels": 64, "kernel": 3, "dilation": 2, "padding": "same", "batch_norm": True, "pool": "max"},
                {"channels": 128, "kernel": 3, "padding": "same", "batch_norm": True, "pool": "global_avg"}],
}


def timed(model: CNN, x: torch.Tensor, chunk: int) -> tuple[float, float, int]:
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
    x = torch.rand(args.rows, 784, generator=torch.Generator().manual_seed(0))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rows} rows")
    print("| model | chunk rows | s | s in the kernel | page faults |\n|---|---:|---:|---:|---:|")
    for name, blocks in MODELS.items():
        model = CNN((28, 28), blocks, [128], 10).eval()
        best = {}
        for chunk in (_tensors.EVAL_CHUNK, _tensors.eval_chunk(model, x)):
            best[chunk] = min((timed(model, x, chunk) for _ in range(args.repeat)), key=lambda r: r[0])
            s, sys_s, faults = best[chunk]
            print(f"| {name} | {chunk} | {s:.2f} | {sys_s:.2f} | {faults} |", flush=True)
        old, new = best.values()
        print(f"{name}: {old[0] / new[0]:.2f}x faster in chunks of {list(best)[1]} rows")


if __name__ == "__main__":
    main()
