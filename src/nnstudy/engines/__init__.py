"""Engines by name. An engine trains one trial: ``train(trial, data, on_epoch, device) -> TrialResult``."""

from __future__ import annotations

from typing import Any

from ..spec import Trial
from ._result import Engine, OnEpoch, TrialResult


class TorchEngine:
    name = "torch"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ._torch._train import train_trial

        return train_trial(trial, data, on_epoch, device)

    def group_key(self, trial: Trial) -> Any:
        return None


class NumpyEngine:
    """From scratch: explicit forward and backward per layer, CPU only (``device`` is ignored)."""

    name = "numpy"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ._numpy._train import train_trial

        return train_trial(trial, data, on_epoch)

    def group_key(self, trial: Trial) -> Any:
        return None


ENGINES: dict[str, Engine] = {"torch": TorchEngine(), "numpy": NumpyEngine()}


def get_engine(name: str) -> Engine:
    return ENGINES[name]


__all__ = ["Engine", "OnEpoch", "TrialResult", "get_engine", "ENGINES"]
