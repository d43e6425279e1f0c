"""Intra-op threads of a trial (torch and BLAS), and the conditions a trial ran under.

A trial trains with ``--threads`` threads; by default the cores divided among the worker processes, at least
one, so that ``--workers 1`` uses the whole machine and ``--workers 2`` on two cores one thread each: never more
threads than cores. The same limit holds for a trial in a pool worker, in the driver (``--workers 1``) and in a
Ray task, and for a CPU stack in a pool worker. A stack in the driver (the run's only work) and the median
pruner's lockstep train alone: on the CPU they take every core unless ``--threads`` says otherwise. More threads
split a reduction in another order, so a trial's numbers may differ in the last digits between thread counts:
each trial records the count it ran with.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any, Iterator


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def trial_threads(threads: int | None, workers: int | None) -> int:
    """The threads of each trial: `threads` when given, else cores // workers (workers default: the cores)."""
    if threads:
        return threads
    return max(1, cores() // (workers or cores()))


def alone_threads(threads: int | None, workers: int | None, device: str) -> int:
    """The threads of work that trains alone in the driver (a stack, the lockstep): on the CPU every core unless
    `threads` is given; elsewhere (a GPU does the work) as a trial's."""
    return threads or cores() if device == "cpu" else trial_threads(threads, workers)


@contextlib.contextmanager
def limited(threads: int) -> Iterator[None]:
    """Torch and every BLAS/OpenMP pool of this process use `threads` threads inside the block; restored after."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def set_process_threads(threads: int) -> None:
    """A worker process's limit, for the life of the process (pool and Ray workers). torch, when this process
    has not imported it yet, reads the variables when it does (a NumPy-engine or classical worker never does)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    threadpool_limits(limits=threads)  # the pools already loaded (numpy's BLAS); later ones read the variables


def conditions(device: str, threads: int, executor: str, host: str | None = None,
               stacked: int | None = None) -> dict[str, Any]:
    """What a trial's timing depends on: device, threads, host (default: this one), versions, executor, and the
    size of the stack it trained in (absent: alone)."""
    torch = sys.modules.get("torch")  # a driver whose workers train has not imported it (a second): not for this
    out: dict[str, Any] = {"device": device, "threads": threads, "host": host or socket.gethostname(),
                           "nnstudy": _version("nnstudy"), "torch": torch.__version__ if torch else _version("torch"),
                           "python": platform.python_version(), "executor": executor}
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
    if stacked:
        out["stacked"] = stacked
    return out


@functools.cache
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
