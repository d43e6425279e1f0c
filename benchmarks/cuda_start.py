"""What a CUDA process's start costs (issue 21): import torch, CUDA's start, the first kernels, the report's imports.

    python benchmarks/cuda_start.py

Each step's seconds in a fresh process, in this order (each import pays only for what the earlier ones left).
"""

from __future__ import annotations

import importlib
import time


def steps():
    torch = importlib.import_module("torch")
    yield "import torch"
    torch.cuda.is_available()
    yield "torch.cuda.is_available()"
    torch.cuda.init()
    yield "torch.cuda.init()"
    torch.cuda.get_device_name(0)
    yield "torch.cuda.get_device_name(0)"
    x = torch.ones(1024, 1024, device="cuda")
    torch.cuda.synchronize()
    yield "the first tensor on the device"
    x @ x
    torch.cuda.synchronize()
    yield "the first matmul (cuBLAS)"
    torch.bmm(x.view(4, 256, 1024), x.view(4, 1024, 256))
    torch.cuda.synchronize()
    yield "the first bmm"
    torch.randperm(54000, generator=torch.Generator(device="cuda").manual_seed(0), device="cuda")
    torch.cuda.synchronize()
    yield "the first randperm with a generator"
    for name in ("pandas", "sqlalchemy", "pydantic", "matplotlib.pyplot", "scipy.stats"):
        importlib.import_module(name)
        yield f"import {name}"


def main() -> None:
    t0 = last = time.perf_counter()
    try:
        for what in steps():
            now = time.perf_counter()
            print(f"{what:40s} {now - last:7.3f} s", flush=True)
            last = now
    finally:
        print(f"{'total':40s} {last - t0:7.3f} s")


if __name__ == "__main__":
    main()
