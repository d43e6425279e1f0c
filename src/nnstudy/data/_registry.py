"""The dataset registry: static metadata per name, and which module loads it (imported lazily).

Importing this module is cheap (no numpy, sklearn or torch): the study-file schema calls
``names()`` while validating.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from ..errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: Literal["classification", "regression"]
    source: str  # one line: where the data comes from
    input_shape: tuple[int, ...]  # layout of one sample (arrays hold it flattened)
    n_classes: int  # 0 for regression
    fetchable: bool = False  # files that `nnstudy data fetch` can put into the cache
    classes: tuple[str, ...] = ()  # class names, index = label


@dataclass(frozen=True)
class Entry:
    info: DatasetInfo
    module: str  # loader module in this package: raw(name, cfg) [, locate(), fetch(progress)]
    where: str = ""  # what locate() says for data without files
    generated: bool = False  # accepts n_samples and noise


def _digits() -> tuple[str, ...]:
    return tuple(str(d) for d in range(10))


_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_BUILT_IN, _SEEDED = "scikit-learn built-in", "generated from the seed"
INTERVAL_SUM_DIM, INTERVAL_SUM_INTERVAL = 10, (3, 6)  # defaults of data.dim and data.interval

_ENTRIES = [
    Entry(DatasetInfo("fashion-mnist", "classification",
                      "Zalando IDX files: Debian dataset-fashion-mnist, else the official URLs",
                      (1, 28, 28), 10, fetchable=True, classes=_FASHION), "_fashion_mnist"),
    Entry(DatasetInfo("digits", "classification", "scikit-learn load_digits (1797 8x8 images)",
                      (8, 8), 10, classes=_digits()), "_sklearn", where=_BUILT_IN),
    Entry(DatasetInfo("iris", "classification", "scikit-learn load_iris (150 flowers)",
                      (4,), 3, classes=("setosa", "versicolor", "virginica")),
          "_sklearn", where=_BUILT_IN),
    Entry(DatasetInfo("moons", "classification", "scikit-learn make_moons",
                      (2,), 2, classes=("upper", "lower")),
          "_sklearn", where=_SEEDED, generated=True),
    Entry(DatasetInfo("circles", "classification", "scikit-learn make_circles (factor 0.5)",
                      (2,), 2, classes=("outer", "inner")),
          "_sklearn", where=_SEEDED, generated=True),
    Entry(DatasetInfo("sine", "regression", "synthetic: y = -sin(0.8 pi x) + noise, x in [-2.5, 2.5]",
                      (1,), 0),
          "_synthetic", where=_SEEDED, generated=True),
    Entry(DatasetInfo("interval-sum", "classification",
                      "synthetic: x in {0,1}^dim, label +1 when sum(x) lies in interval = [A, B], else -1",
                      (INTERVAL_SUM_DIM,), 2, classes=("-1", "+1")),
          "_synthetic", where="every input of {0,1}^dim (or n_samples drawn from the seed)", generated=True),
]
REGISTRY: dict[str, Entry] = {e.info.name: e for e in _ENTRIES}


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(sorted(REGISTRY))})") from None


def loader(name: str) -> ModuleType:
    return importlib.import_module(f".{entry(name).module}", __package__)
