"""What every loader returns: split arrays plus the metadata the engines and the report need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "classification" else int(self.y_train.shape[1])
