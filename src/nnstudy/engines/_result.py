"""What an engine hands back for one trial; engines know nothing of the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..data._dataset import Dataset
from ..spec import Trial

OnEpoch = Callable[[int, dict[str, float]], None]
GroupOnEpoch = Callable[[str, int, dict[str, float]], None]  # (trial id, epoch, metrics)


@dataclass
class TrialResult:
    status: str  # "done" | "diverged"
    final: dict[str, float]  # final metrics, incl. train_time_s and epochs_run
    history: list[dict[str, float]]  # one dict per epoch: {"epoch": 1, "train_loss": ..., "grad_norm/hidden1": ...}
    artifacts: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None


class Engine(Protocol):
    name: str

    def train(self, trial: Trial, data: Dataset, on_epoch: OnEpoch, device: str) -> TrialResult: ...

    def group_key(self, trial: Trial) -> Any: ...  # None: trains alone; equal keys: may share a program
