"""Where trials run: this machine (LocalExecutor) or a Ray cluster (RayExecutor). Only the executor
writes the store while a study runs."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import StudyError

if TYPE_CHECKING:
    from ._driver import Driver

EXECUTORS = ("local", "ray")
STACK_MODES = ("auto", "on", "off")
_LAZY = {"LocalExecutor": "._local", "RunSummary": "._driver"}  # a worker process imports this package for its
# _worker module: the driver's modules (the store: pandas, SQLAlchemy) load only where they are used


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name], __name__), name)


@contextmanager
def connect(kind: str, address: str | None = None, workers: int | None = None) -> Iterator[type[Driver]]:
    """The executor class for `kind`, ready to use inside the block (Ray: joined, or started locally)."""
    if kind == "local":
        if address:
            raise StudyError(f"--address {address}: only for --executor ray")
        from ._local import LocalExecutor

        yield LocalExecutor
    elif kind == "ray":
        from ._cluster import ray_cluster
        from ._ray import RayExecutor, SharedRayExecutor

        with ray_cluster(address, workers) as owned:
            yield RayExecutor if owned else SharedRayExecutor
    else:
        raise StudyError(f"--executor {kind!r}: choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "STACK_MODES", "LocalExecutor", "RunSummary", "connect"]
