"""The newest checkpoint of each running Ray task, so that a task Ray runs again after its worker died goes on
from the checkpoint it sent last instead of the one it was submitted with (engines/_checkpoint.py).

Tasks send each checkpoint twice: to the driver through the epoch queue (it stores it) and here; a task asks
here first when it starts. The driver drops a job's entry once its outcome is recorded, and ends the actor
with the run. A lost actor only means a retried task starts from its submitted checkpoint."""

from __future__ import annotations

from typing import Any


class LatestCheckpoints:
    """A Ray actor (no CPU): trial id (a stack's first) -> the blobs of its newest checkpoint."""

    def __init__(self):
        self.latest: dict[str, dict[str, bytes]] = {}

    def put(self, trial_id: str, blobs: dict[str, bytes]) -> None:
        self.latest[trial_id] = blobs

    def get(self, trial_id: str) -> dict[str, bytes] | None:
        return self.latest.get(trial_id)

    def drop(self, trial_id: str) -> None:
        self.latest.pop(trial_id, None)


def newest(latest: Any, trial_id: str, resume: dict[str, bytes] | None) -> dict[str, bytes] | None:
    """In a task: the checkpoint it sent last before this attempt (an earlier attempt's), else ``resume``."""
    if latest is None:
        return resume
    try:
        import ray

        return ray.get(latest.get.remote(trial_id), timeout=30) or resume
    except Exception:
        return resume


def send(latest: Any, records: list) -> None:
    """Keeps the checkpoints among a task's records; never fails the task."""
    from ..engines._checkpoint import Saved

    for record in records:
        if isinstance(record, Saved) and latest is not None:
            try:
                latest.put.remote(record.trial_id, record.blobs)
            except Exception:
                pass
