"""Engines by name. An engine trains one trial: ``train(trial, data, on_epoch, device) -> TrialResult``."""

from __future__ import annotations

from typing import Any, Callable

from ..spec import Trial
from ._result import Engine, GroupOnEpoch, OnEpoch, TrialResult


class TorchEngine:
    name = "torch"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ..kinds import of
        from ._torch._eager import without_dynamo

        own = of(trial.config["model"]).train.get("torch")  # a kind's own loop (autoencoders, GANs)
        with without_dynamo():
            if own is not None:
                return own(trial, data, on_epoch, device)
            from ._torch._train import train_trial

            return train_trial(trial, data, on_epoch, device)

    def group_key(self, trial: Trial) -> Any:
        """Trials with equal keys train as one stacked program (kinds that stack, elementwise optimizers)."""
        from ._torch._stack import stack_key

        return stack_key(trial)

    def max_group(self, device: str) -> int:
        from ._torch._stack import max_stack

        return max_stack(device)

    def train_group(self, trials: list[Trial], data, on_epoch: GroupOnEpoch, device: str = "cpu",
                    stop: Callable[[int], bool] | None = None) -> list[TrialResult]:
        from ._torch._eager import without_dynamo
        from ._torch._stack_train import train_group

        with without_dynamo():
            return train_group(trials, data, on_epoch, device, stop=stop)


class NumpyEngine:
    """From scratch: explicit forward and backward per layer, CPU only (``device`` is ignored)."""

    name = "numpy"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ._numpy._train import train_trial

        return train_trial(trial, data, on_epoch)

    def group_key(self, trial: Trial) -> Any:
        return None


class ClassicalEngine:
    """scikit-learn, MiniSom, XGBoost and hand-written PCA / RBM / DBM: one module per method family."""

    name = "classical"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ._classical import train_trial

        return train_trial(trial, data, on_epoch, device)

    def group_key(self, trial: Trial) -> Any:
        return None


class FunctionEngine:
    """The user's own training loop (train.function): called as fn(config, seed, data, report); see _function.py."""

    name = "function"

    def train(self, trial, data, on_epoch: OnEpoch, device: str = "cpu") -> TrialResult:
        from ._function import train_trial

        return train_trial(trial, data, on_epoch)

    def group_key(self, trial: Trial) -> Any:
        return None


ENGINES: dict[str, Engine] = {"torch": TorchEngine(), "numpy": NumpyEngine(), "classical": ClassicalEngine(),
                              "function": FunctionEngine()}


def get_engine(name: str) -> Engine:
    return ENGINES[name]


__all__ = ["Engine", "GroupOnEpoch", "OnEpoch", "TrialResult", "get_engine", "ENGINES"]
