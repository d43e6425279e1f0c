"""Where trials run: this machine (LocalExecutor) or a Ray cluster (RayExecutor). Only the executor
writes the store while a study runs."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import StudyError
from ._driver import Driver, RunSummary
from ._local import LocalExecutor
from ._stacked import STACK_MODES

EXECUTORS = ("local", "ray")


@contextmanager
def connect(kind: str, address: str | None = None, workers: int | None = None) -> Iterator[type[Driver]]:
    """The executor class for `kind`, ready to use inside the block (Ray: joined, or started locally)."""
    if kind == "local":
        if address:
            raise StudyError(f"--address {address}: only for --executor ray")
        yield LocalExecutor
    elif kind == "ray":
        from ._cluster import ray_cluster
        from ._ray import RayExecutor, SharedRayExecutor

        with ray_cluster(address, workers) as owned:
            yield RayExecutor if owned else SharedRayExecutor
    else:
        raise StudyError(f"--executor {kind!r}: choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "STACK_MODES", "LocalExecutor", "RunSummary", "connect"]
