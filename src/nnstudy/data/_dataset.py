"""What every loader returns: split arrays plus the metadata the engines and the report need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np


@dataclass
class Dataset:
    name: str
    task: Literal["classification", "regression"]
    x_train: np.ndarray  # (n_train, prod(input_shape)) float32, flat; input_shape gives the layout
    y_train: np.ndarray  # (n_train,) int64 class index | (n_train, n_outputs) float32
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    classes: list[str] = field(default_factory=list)  # class names; empty for regression
    # Decision boundaries and regression fits are drawn in the last 2-D stage of the inputs (after normalization,
    # after pca when it keeps 2 components; else, when the model's inputs have more, the last 1-D stage); when
    # data.pca / data.encoding go on from there to the model's inputs, ``transform`` maps points of that plane
    # to model inputs and x_plain_* hold the plane's points.
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    x_plain_train: np.ndarray | None = None
    x_plain_test: np.ndarray | None = None
    # data.normalize_target = "standard": per-output mean and standard deviation of the training targets.
    # The y arrays stay in their own units; engines that train on scaled targets use these.
    y_shift: np.ndarray | None = None
    y_scale: np.ndarray | None = None
    # data.normalize as applied (per input, float64): model inputs = (inputs before it - input_shift) / input_scale
    input_shift: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    series: bool = False  # inputs are windows of one time series (data.lags): flat, but a one-channel signal
    input_names: tuple[str, ...] = ()  # the model's inputs by name when known (a user's table: "age", "sex=male")
    target: Callable[[np.ndarray], np.ndarray] | None = None  # a synthetic source's noise-free target of plain_inputs

    def scaled_targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the network learns them: standardized with the training split's statistics, or as they are."""
        if self.y_scale is None:
            return y
        return (np.asarray(y, np.float64) - self.y_shift) / self.y_scale  # float64: exact for float64 training

    def unnormalized(self, x: np.ndarray) -> np.ndarray:
        """Model inputs (n, d) as they were before data.normalize (float64), e.g. images a person recognises."""
        x = np.asarray(x, np.float64)
        return x if self.input_scale is None else x * self.input_scale + self.input_shift

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Points of the boundary plane (``plain_inputs``, e.g. a decision-boundary grid) -> model inputs."""
        return x if self.transform is None else self.transform(x)

    def plain_inputs(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(train, test) inputs in the plane a decision boundary is drawn in: the model's inputs without a
        transform; with one, the 2-D stage it starts from (None when no stage was 2-D)."""
        if self.transform is None:
            return self.x_train, self.x_test
        return self.x_plain_train, self.x_plain_test

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "classification" else int(self.y_train.shape[1])
