"""What a CUDA process's start costs (issue 21): import torch, CUDA's start, the first kernels, the report's imports.

    python benchmarks/cuda_start.py

Each step's seconds in a fresh process, in this order (each import pays only for what the earlier ones left),
after a line saying whether torch's modules load from a bytecode cache (a host whose site-packages hold no
``.pyc`` and cannot take one compiles torch from source in every process: seconds).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time


def bytecode_cache() -> str:
    """Where torch's bytecode would come from, and whether it is there."""
    spec = importlib.util.find_spec("torch")
    source = spec.origin
    cached = importlib.util.cache_from_source(source)
    folder = os.path.dirname(source)
    return (f"torch at {folder}; sys.pycache_prefix={sys.pycache_prefix}; its __init__ bytecode "
            f"{'present' if os.path.exists(cached) else 'absent'} ({cached}); folder writable: "
            f"{os.access(os.path.dirname(cached) if os.path.isdir(os.path.dirname(cached)) else folder, os.W_OK)}")


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
    print(bytecode_cache(), flush=True)
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
