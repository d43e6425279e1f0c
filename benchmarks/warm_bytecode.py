"""Compile the modules a study's run imports into Python's bytecode cache, as pip does when it installs them.

    python benchmarks/warm_bytecode.py

gpu_issue21.sh runs it before timing a study's start on a host whose packages came without bytecode (and with
PYTHONDONTWRITEBYTECODE set), so the start measured is an ordinary install's. Honours PYTHONPYCACHEPREFIX.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import py_compile
import sys
import time

MODULES = ["torch", "torch.func", "pandas", "scipy.stats", "matplotlib.pyplot", "sqlalchemy", "pydantic",
           "nnstudy.cli", "nnstudy.api", "nnstudy.report", "nnstudy.engines._torch._stack_train"]


def compiled(path: str) -> bool:
    try:
        py_compile.compile(path, doraise=True)
    except (py_compile.PyCompileError, OSError):
        return False
    return True


def main() -> None:
    t0 = time.perf_counter()
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as err:  # one missing package leaves the others
            print(f"{name}: {err}")
    files = sorted({f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None) or "").endswith(".py")})
    with concurrent.futures.ProcessPoolExecutor() as pool:
        done = sum(pool.map(compiled, files, chunksize=32))
    print(f"{done} of {len(files)} modules compiled in {time.perf_counter() - t0:.1f} s "
          f"(cache: {sys.pycache_prefix or 'beside the sources'})")


if __name__ == "__main__":
    main()
