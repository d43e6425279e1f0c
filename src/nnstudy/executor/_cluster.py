"""Joining a Ray cluster (--address auto | HOST:PORT) or starting a local one for the length of a study."""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from typing import Iterator

from ..errors import StudyError


def import_ray():
    try:
        import ray
    except ImportError:
        raise StudyError("--executor ray needs Ray: pip install 'nnstudy[cluster]'") from None
    return ray


@contextmanager
def ray_cluster(address: str | None, workers: int | None) -> Iterator[bool]:
    """Connected to Ray inside the block. Without an address, a local Ray with `workers` CPUs (default: all).
    Yields whether the connection is this block's own (it ends with the block, and the driver's tasks with it)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray would otherwise report usage over the network
    ray = import_ray()
    if ray.is_initialized():  # a notebook or a script connected already: use its cluster, leave it running
        yield False
        return
    options = dict(logging_level=logging.WARNING, log_to_driver=False)
    # Ray announces its token authentication on every start; nnstudy's users need not read it each time
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if address is None:
        options |= dict(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
    else:
        _probe(address)
        options |= dict(address=address)
    try:
        ray.init(**options)
    except Exception as e:  # ConnectionError, ValueError (address format), RuntimeError, Ray's own errors
        where = "start a local Ray" if address is None else f"--address {address}: cannot reach a Ray cluster there"
        raise StudyError(f"{where} ({' '.join(str(e).split())[:200]})") from None
    try:
        yield True
    finally:
        ray.shutdown()


def _probe(address: str) -> None:
    """Ray waits minutes for an address where nothing listens; a plain TCP connect tells in seconds."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        resolved = canonicalize_bootstrap_address(address)  # "auto": $RAY_ADDRESS or the latest local cluster
    except Exception:
        return  # a malformed address, or no cluster for "auto": ray.init says so at once
    if not resolved:
        return
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise StudyError(f"--address {address}: cannot reach a Ray cluster at {resolved} "
                         f"({getattr(e, 'strerror', None) or e})") from None
