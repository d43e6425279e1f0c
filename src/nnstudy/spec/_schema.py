"""The study file schema: pydantic models with ``extra="forbid"``.

Each model kind declares its own section class in its module (``nnstudy.kinds``); the loader validates
the ``[model]`` table with the class its ``kind`` names.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import (ConfigDict, Field, PrivateAttr, SerializeAsAny, ValidationError, ValidationInfo,
                      field_validator, model_serializer, model_validator)

from ..kinds import ConfigClasses
from ..data._registry import (COUNTRIES, DIM_DATASETS, FOURIER_FREQUENCIES, INTERVAL_SUM_DIM, OWN, SERIES_HORIZON,
                              SERIES_LAGS)
from ._scalars import TypedScalars
from ._search import SearchConfig

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "leaky_relu", "identity")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "lbfgs")
ENGINES = ("torch", "numpy", "classical", "function")  # function: the user's own loop (train.function)
NUMPY_OPTIMIZERS = tuple(o for o in OPTIMIZERS if o != "lbfgs")
CLASSIFICATION_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                          "test_accuracy", "train_time_s", "epochs_run")
REGRESSION_METRICS = ("train_loss", "train_mse", "train_rmse", "val_loss", "val_mse", "val_rmse",
                      "test_loss", "test_mse", "test_rmse", "train_time_s", "epochs_run")


OWN_DATA_KEYS = ("path", "target", "inputs", "task", "image_size", "color", "loader", "sha256", "images_sha256",
                 "loader_sha256")
SHA256 = r"^[0-9a-f]{64}$"


OPTIONAL_DATA_KEYS = ("countries", "lags", "horizon", "features", "pca", "encoding", "frequencies", "normalize_target",
                      "folds", "fold", *OWN_DATA_KEYS)  # unset: left out


class Section(TypedScalars):
    # allow_inf_nan=False: inf and nan are refused in every float of every section (they passed the bounds,
    # then dumped as null, which validated as the default or failed later)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, defer_build=True)


SEED_LIMIT = 2**32  # numpy and scikit-learn take seeds below 2**32


NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
VARIANT_PATTERN = r"^[a-z0-9][a-z0-9-]*(@[a-z0-9][a-z0-9._=,+-]*)?$"  # a variant: the study's name, @, what changed


class FilePattern:
    """The name a study file gives (shown in the reference); nnstudy adds ``@...`` for a variant (_load, _variant)."""
    pattern = NAME_PATTERN


class StudyInfo(Section):
    name: Annotated[str, Field(max_length=100), FilePattern()]
    description: str = ""

    @field_validator("name", mode="before")
    @classmethod
    def _slug(cls, v: Any) -> Any:
        if isinstance(v, str) and not re.match(VARIANT_PATTERN, v):
            raise ValueError(f'use lowercase letters, digits and dashes, e.g. "batch-size" (got {v!r})')
        return v


class DataConfig(Section):
    name: str
    validation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    train_size: Annotated[float, Field(gt=0.0)] = 1.0
    normalize: Literal["none", "standard", "minmax"] = "standard"
    normalize_target: Literal["none", "standard"] | None = Field(None, description=(
        "regression (torch and numpy engines; classical svr, ard, random_forest, sklearn_mlp): standard = the model "
        "learns the targets shifted and scaled to mean 0 and standard deviation 1 on the training split; "
        "every metric and prediction stays in the targets' own units (default none)"))
    classes: list[int] = []
    split_seed: Union[Annotated[int, Field(ge=0, lt=SEED_LIMIT)], Literal["seed"]] = Field(0, description=(
        'seeds the validation split and the train_size subsample (and, for datasets without a test split of '
        'their own or generated ones, the test split and the data); "seed": each trial\'s own seed, so every '
        "seed draws its own split and the error bars include the split's variation (configurations that ran "
        "the same seed still share a split: paired comparisons still pair)"))
    folds: Annotated[int, Field(ge=2, le=100)] | None = Field(None, description=(
        "k-fold cross-validation: every configuration and seed trains `folds` times, each time holding out "
        "another fold of the training rows (stratified for classification, shuffled by split_seed) as the "
        "validation split in place of `validation`; the tables' replicates are folds × seeds, like "
        "GridSearchCV's mean_test_score / std_test_score"))
    fold: Annotated[int, Field(ge=0, le=99)] | None = Field(None, description=(
        "filled in by nnstudy from `folds`: the fold a trial holds out (0 .. folds - 1); leave it out"))
    n_samples: Annotated[int, Field(ge=10, le=10_000_000)] | None = None
    noise: Annotated[float, Field(ge=0.0, le=1e6)] | None = None  # far beyond any data's scale (1e308 overflowed float32)
    dim: Annotated[int, Field(ge=1, le=1000)] | None = Field(None, description=(
        "interval-sum: D, inputs in {0,1}^D (at most 20); gaussian: the number of dimensions"))
    interval: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)] | None = None
    augment: list[Literal["crop", "flip", "erase"]] = Field([], description=(
        "image classifiers: augment each training batch on the device; crop = random shift by up to "
        "1/8 of the side (4 pixels on 28-32 px images; zero padding), flip = mirror left-right with "
        "probability 1/2, erase = with probability 1/2 fill one rectangle of 2-40 % of the image with "
        "random values (random erasing)"))
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(None, description=(
        "countries dataset: the ISO codes of the countries to tell apart, e.g. [\"FR\", \"DE\"] "
        f"(default {list(COUNTRIES)})"))
    lags: Annotated[int, Field(ge=1, le=10_000)] | None = Field(None, description=(
        f"time series (elnino, or your own: name = \"file\", the table's target column in row order): inputs "
        f"are the last `lags` values (default {SERIES_LAGS}); the latest windows are the test split"))
    horizon: Annotated[int, Field(ge=1, le=10_000)] | None = Field(None, description=(
        f"time series: the target is the value `horizon` steps after the last input (default {SERIES_HORIZON})"))
    features: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = Field(
        None, description="keep only these input columns (0-based), before normalization and transforms")
    pca: Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, lt=1.0)]] | None = Field(
        None, description=("project the inputs on the first k principal components (an integer) or on as "
                           "many as keep that fraction of the variance (e.g. 0.95), fitted on train"))
    encoding: Literal["none", "fourier"] | None = Field(None, description=(
        "fourier: append sin(2 pi f x) and cos(2 pi f x) of every input for each f in `frequencies` "
        "(the inputs themselves are kept); applied after pca"))
    frequencies: Annotated[list[Annotated[float, Field(gt=0.0)]], Field(min_length=1)] | None = Field(
        None, description=f"frequencies of the fourier encoding (default {list(FOURIER_FREQUENCIES)})")
    # A user's own data (data/_own.py): name = "file" with path, or loader (name "loader" implied).
    path: str | None = Field(None, description=(
        'name = "file": a CSV, TSV, Parquet or .npz file, or a folder of images with one sub-folder per class, '
        "relative to the study file"))
    target: str | None = Field(None, description="the table column holding the labels or targets (default: the last)")
    inputs: Annotated[list[Union[Annotated[int, Field(ge=0)], str]], Field(min_length=1)] | None = Field(
        None, description="the input columns by name or 0-based index (default: every column but the target)")
    task: Literal["classification", "regression"] | None = Field(None, description=(
        "default: inferred from the labels (integers or text: classification; floats: regression)"))
    image_size: Union[Annotated[int, Field(ge=1, le=4096)],
                      Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=2, max_length=2)]
                      ] | None = Field(None, description="an image folder: side, or [height, width], the images are "
                                                         "resized to (default 32)")
    color: Literal["rgb", "gray"] | None = Field(None, description="an image folder: read as RGB or grayscale "
                                                                   "(default rgb)")
    loader_args: dict[str, Any] = Field({}, exclude=True)  # the data section's other keys (dumped as they were)
    loader: str | None = Field(None, description=(
        'your function returning the data: "my_data.py:load", called with the data section\'s other keys'))
    sha256: Annotated[str, Field(pattern=SHA256)] | None = Field(None, validate_default=True, description=(
        "filled in by nnstudy: the sha256 of the file (of an image folder: of its list of files and their sha256s)"))
    images_sha256: Annotated[str, Field(pattern=SHA256)] | None = Field(None, validate_default=True, description=(
        "filled in by nnstudy: the sha256 of the image folder's pixels as arrays"))
    loader_sha256: Annotated[str, Field(pattern=SHA256)] | None = Field(None, validate_default=True, description=(
        "filled in by nnstudy: the sha256 of the loader's file"))

    @model_validator(mode="before")
    @classmethod
    def _loader_keywords(cls, raw: Any) -> Any:
        """With a loader, the keys nnstudy does not know are the loader's keyword arguments."""
        if not isinstance(raw, dict) or raw.get("loader") is None:
            return raw
        if "loader_args" in raw:
            raise ValueError("loader_args: write the loader's keywords as keys of [data] (e.g. n = 100)")
        known = set(cls.model_fields)
        return {"name": "loader", **{k: v for k, v in raw.items() if k in known},
                "loader_args": {k: v for k, v in raw.items() if k not in known}}

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        from ..data import REGISTRY, names

        if v not in OWN and v not in REGISTRY:
            from .._text import cap, did_you_mean

            raise ValueError(f"unknown dataset {cap(repr(v), 100)}{did_you_mean(v, names())} (your own: "
                             f"name = \"file\" with path, or loader; built in: {', '.join(names())})")
        return v

    @field_validator("pca", mode="before")
    @classmethod
    def _pca_fraction_or_count(cls, v: Any) -> Any:
        if isinstance(v, float) and v == 1.0:  # read as the count 1, not as all of the variance
            raise ValueError("1.0 is no fraction of the variance (those are below 1, e.g. 0.99): for one component "
                             "write pca = 1, for all of them leave pca out")
        return v

    @field_validator("path")
    @classmethod
    def _path_of_file(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("name") != "file":
            raise ValueError('applies to name = "file" (your own data file)')
        if v is not None and not v.strip():
            raise ValueError("an empty path: name your data file or image folder (relative to the study file)")
        base_dir = (info.context or {}).get("base_dir")
        if v is not None and base_dir is not None:
            from ..data._own import check_path

            check_path(v, base_dir)
        return v

    @field_validator("loader")
    @classmethod
    def _loader_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("name") != "loader":
            raise ValueError(f"a loader brings its own data: leave name out (found name = {info.data.get('name')!r})")
        base_dir = (info.context or {}).get("base_dir")
        if v is not None and base_dir is not None:
            from ..data._own import check_loader

            check_loader(v, info.data.get("loader_args", {}), base_dir)
        return v

    @field_validator("sha256", "images_sha256", "loader_sha256")
    @classmethod
    def _own_files(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Resolves the files a user's data names into their sha256 (next to the study file)."""
        if v is None and info.data.get("name") not in OWN:
            return v
        from ..data._own import resolve_key

        return resolve_key(info.field_name, v, info.data, (info.context or {}).get("base_dir"))

    @field_validator("split_seed", mode="before")
    @classmethod
    def _seed_or_each(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "seed":
            raise ValueError(f'must be a whole number or "seed" (each trial\'s own seed) (got {v!r})')
        return v

    @field_validator("train_size")
    @classmethod
    def _fraction_or_count(cls, v: float) -> float:
        if v > 1.0 and v != int(v):
            raise ValueError("must be a fraction in (0, 1] or a whole count of samples")
        return v

    @field_validator("augment")
    @classmethod
    def _augment_images_only(cls, v: list[str], info: ValidationInfo) -> list[str]:
        from ..data import info as dataset_info

        name = info.data.get("name")
        if v and name is not None and name not in OWN and len(dataset_info(name).input_shape) < 2:
            raise ValueError(f"applies to images and signals; {name} has flat inputs")
        return v

    @field_validator("interval")
    @classmethod
    def _interval_sum_only(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None and info.data.get("name", "interval-sum") != "interval-sum":
            raise ValueError("applies only to the interval-sum dataset")
        return v

    @field_validator("dim")
    @classmethod
    def _dim_datasets_only(cls, v: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name", "interval-sum")
        if v is not None and name not in DIM_DATASETS:
            raise ValueError(f"applies only to the {' and '.join(DIM_DATASETS)} datasets")
        if v is not None and name == "interval-sum" and v > 20:
            raise ValueError("interval-sum takes dim <= 20 (it enumerates all 2^dim inputs)")
        return v

    @field_validator("countries")
    @classmethod
    def _countries_only(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None:
            if info.data.get("name", "countries") != "countries":
                raise ValueError("applies only to the countries dataset")
            if len(set(v)) != len(v) or len(v) < 2:
                raise ValueError(f"give at least 2 distinct country codes (got {v})")
        return v

    @field_validator("lags", "horizon")
    @classmethod
    def _series_only(cls, v: Any, info: ValidationInfo) -> Any:
        from ..data._registry import REGISTRY

        name = info.data.get("name")
        if v is not None and name is not None and name not in OWN and not REGISTRY[name].series:
            series = [n for n, e in REGISTRY.items() if e.series]
            raise ValueError(f"applies only to time series ({', '.join(series)}, or a column of your own table: "
                             f"name = \"file\"); {name} is not one")
        return v

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, v: Any) -> Any:
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"features repeat a column: {v}")
        return v

    @model_validator(mode="after")
    def _inputs_exist(self) -> "DataConfig":
        from ..data._registry import REGISTRY

        if self.name in OWN:
            return self  # the inputs are known once the data are read: _own_data_readable
        e = REGISTRY[self.name]
        if e.series:
            n_in = self.lags or SERIES_LAGS
        elif self.name in DIM_DATASETS:
            n_in = self.dim or e.info.input_shape[0]
        else:
            n_in = 1
            for d in e.info.input_shape:
                n_in *= d
        if self.features is not None:
            outside = [f for f in self.features if f >= n_in]
            if outside:
                raise ValueError(f"features {outside} do not exist: {self.name} has inputs 0..{n_in - 1}")
            n_in = len(self.features)
        if isinstance(self.pca, int) and self.pca > n_in:
            raise ValueError(f"pca = {self.pca} is more than the {n_in} inputs of {self.name}")
        return self

    @model_validator(mode="after")
    def _own_data_readable(self, info: ValidationInfo) -> "DataConfig":
        """A study's own data are read and checked while the study is validated (a worker trusts its config)."""
        if self.name == "file" and self.path is None:
            raise ValueError('name = "file" needs path = "your-data.csv" (relative to the study file)')
        wrong = [k for k in ("target", "inputs", "task", "image_size", "color") if getattr(self, k) is not None]
        if wrong and self.name not in OWN:
            raise ValueError(f"{wrong[0]} applies to your own data (name = \"file\", or loader)")
        generated = [k for k in ("n_samples", "noise") if getattr(self, k) is not None]
        if generated and self.name in OWN:
            raise ValueError(f"{generated[0]} applies only to generated datasets; use train_size to subsample")
        if self.name in OWN and (info.context or {}).get("base_dir") is not None:
            from ..data._own import check_readable

            check_readable(self)
        return self

    @model_validator(mode="after")
    def _fold_of_folds(self) -> "DataConfig":
        if self.fold is not None and (self.folds is None or self.fold >= self.folds):
            raise ValueError(f"fold = {self.fold} needs folds > {self.fold} (nnstudy fills fold in from folds)")
        return self

    @model_validator(mode="after")
    def _interval_within_dim(self) -> "DataConfig":
        if self.interval is not None:
            low, high = self.interval
            dim = self.dim or INTERVAL_SUM_DIM
            if not low <= high <= dim:
                raise ValueError(f"interval = [{low}, {high}] must satisfy A <= B <= dim = {dim}")
        return self

    @model_serializer(mode="wrap")
    def _leave_out_unset_interval_keys(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        for key in ("dim", "interval", *OPTIONAL_DATA_KEYS):
            if out.get(key) is None:
                out.pop(key, None)
        if out.get("encoding") != "fourier":
            out.pop("frequencies", None)  # used only by the fourier encoding
        if not out.get("augment", True):
            out.pop("augment")
        out.update(self.loader_args)
        return out


class ModelBase(Section):
    kind: str


INIT_WEIGHT_SUFFIXES = (".npz", ".safetensors", ".pt", ".pth")


class MLPConfig(ModelBase):
    kind: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = [200, 200]
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    norm: Literal["none", "batch", "layer"] = "none"
    input_norm: Literal["none", "batch"] = Field("none", description=(
        "torch engine: batch = a batch-normalization layer on the inputs, before the first linear layer"))
    init_weights: str | None = Field(None, description=(
        "torch engine: start from these weights, then train: an .npz with arrays w1, b1, w2, b2, ... "
        "(w: (out, in)), or a .safetensors / torch state dict (.pt, .pth; read with weights_only=True) with "
        "the MLP's own names (a trial's weights.safetensors) or w1, b1, ...; relative to the study file"))
    init_weights_sha256: str | None = Field(None, validate_default=True, description=(
        "filled in by nnstudy: the sha256 of init_weights (part of the trial id); one written in the study "
        "must match the file"))

    @field_validator("init_weights")
    @classmethod
    def _init_weights_file(cls, v: str | None) -> str | None:
        if v is not None and not v.endswith(INIT_WEIGHT_SUFFIXES):
            raise ValueError(f"{v!r}: expected a {' / '.join(INIT_WEIGHT_SUFFIXES)} file")
        return v

    @field_validator("init_weights_sha256")
    @classmethod
    def _init_weights_identity(cls, v: str | None, info: ValidationInfo) -> str | None:
        from .. import _userfiles

        rel = info.data.get("init_weights")
        if rel is None:
            if v is not None and "init_weights" in info.data:
                raise ValueError("only with init_weights")
            return v
        base = (info.context or {}).get("base_dir")
        if base is None and v is not None:  # a resolved config (a worker): the bytes are in the cache
            return v
        return _userfiles.check_given(v, _userfiles.resolve_file(rel, base or "."), rel, "init_weights_sha256")

    @model_serializer(mode="wrap")
    def _leave_out_unset_keys(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("input_norm") == "none":
            out.pop("input_norm")
        for key in ("init_weights", "init_weights_sha256"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class LogisticConfig(ModelBase):
    """Logistic regression: sigmoid + binary cross-entropy for 2 classes, softmax otherwise."""

    kind: Literal["logistic"] = "logistic"
    hidden: list[int] = []  # accepted (empty) so files written as an MLP without hidden layers stay valid

    @model_validator(mode="after")
    def _no_hidden(self) -> "LogisticConfig":
        if self.hidden:
            raise ValueError("kind 'logistic' has no hidden layers: set hidden = [] or use kind = \"mlp\"")
        return self


class PerceptronConfig(ModelBase):
    """Multi-class perceptron: zero weights, mistake-driven updates (the true class gains the input)."""

    kind: Literal["perceptron"] = "perceptron"


MODEL_KINDS: Mapping[str, type[ModelBase]] = ConfigClasses()  # every kind's class, from its module in nnstudy.kinds


MONITORS = ("auto", "val_loss", "train_loss")  # auto: val_loss, or train_loss without a validation split


class EarlyStopping(Section):
    patience: Annotated[int, Field(ge=0)] = 0
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    restore_best: bool = True
    monitor: Literal[MONITORS] = Field("auto", description=(  # type: ignore[valid-type]
        'the loss it watches: "val_loss", "train_loss", or "auto" (val_loss; train_loss without a validation split)'))

    @model_serializer(mode="wrap")
    def _leave_out_default_monitor(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("monitor") == "auto":
            out.pop("monitor")
        return out


class Schedule(Section):
    kind: Literal["none", "step", "cosine", "plateau"] = Field("none", description=(
        'step: lr * gamma every step_size epochs; cosine: to 0 over the epochs; plateau: lr * gamma when the '
        'monitored loss has not improved (by 1e-4, relative) for more than `patience` epochs (torch\'s '
        'ReduceLROnPlateau)'))
    step_size: Annotated[int, Field(ge=1)] = 10
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    patience: Annotated[int, Field(ge=0)] = Field(10, description="plateau: epochs without improvement first")
    monitor: Literal[MONITORS] = Field("auto", description=(  # type: ignore[valid-type]
        'plateau: the loss it watches, as train.early_stopping.monitor'))

    @model_serializer(mode="wrap")
    def _leave_out_plateau_keys(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("patience") == 10:
            out.pop("patience")
        if out.get("monitor") == "auto":
            out.pop("monitor")
        return out

    @model_validator(mode="after")
    def _plateau_only(self) -> "Schedule":
        if self.kind != "plateau" and (self.patience != 10 or self.monitor != "auto"):
            raise ValueError('patience and monitor belong to kind = "plateau"')
        return self


OPTIONAL_TRAIN_KEYS = ("steps", "log_every_steps", "rho", "checkpoint_every")  # left out of the dump when unset


class TrainConfig(Section):
    engine: Literal[ENGINES] = "torch"  # type: ignore[valid-type]
    optimizer: Literal[OPTIMIZERS] = "sgd"  # type: ignore[valid-type]
    lr: Annotated[float, Field(gt=0.0)] = 0.1
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(0.9, description=(
        'read by the momentum and nesterov optimizers only (SGD with momentum is optimizer = "momentum")'))
    beta1: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    beta2: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.999
    eps: Annotated[float, Field(gt=0.0)] = Field(1e-8, description=(
        "eps of adam, adamw, rmsprop, adagrad and adadelta; adadelta reads the default 1e-8 as its own 1e-6 "
        "(torch's), so its trials keep their ids"))
    rho: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(None, description=(
        "decay of the running average of squared gradients: adadelta's rho (default 0.9) and rmsprop's alpha "
        "(default 0.99); other optimizers have none"))
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    batch_size: Union[Annotated[int, Field(ge=1)], Literal["full"]] = Field(16, description=(
        'samples per step; "full", or any number at least the training split\'s size, trains on the whole split '
        "in one step (full-batch gradient descent)"))
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 20
    steps: Annotated[int, Field(ge=1, le=100_000_000)] | None = Field(None, description=(
        "a training budget in updates instead of epochs: training stops after this many steps (the last "
        "epoch may be partial); train.epochs is not used, so a study that sets it too is refused"))
    log_every_steps: Annotated[int, Field(ge=1)] | None = Field(None, description=(
        "keep the training loss (mean over each N steps, on the batches as trained) and the learning rate "
        "every N steps: the trial's artifact step_losses.npz"))
    l1: Annotated[float, Field(ge=0.0)] = 0.0
    l2: Annotated[float, Field(ge=0.0)] = 0.0
    grad_noise: Annotated[float, Field(ge=0.0)] = 0.0
    early_stopping: EarlyStopping = EarlyStopping()
    schedule: Schedule = Schedule()
    dtype: Literal["float32", "float64"] = "float32"
    precision: Literal["float32", "tf32", "bf16"] = Field("float32", description=(
        "arithmetic of the training step's matrix products (torch engine, dtype float32): float32 (exact); "
        "tf32 (CUDA TensorFloat-32 products and convolutions; on the CPU the same as float32); bf16 (the "
        "forward pass autocast to bfloat16, the loss and float32 master weights updated in float32). tf32 "
        "and bf16 change the numbers (faster on a GPU); each epoch's evaluation runs without autocast, in "
        "float32 for bf16 and in TF32 for tf32"))
    save_weights: bool = Field(False, description=(
        "torch engine: store the trained weights as the trial's artifact weights.safetensors (the kinds trained "
        "by the torch engine's shared loop: not the numpy or classical engines, nor autoencoders and GANs)"))
    checkpoint_every: Annotated[int, Field(ge=0)] | None = Field(None, description=(
        "save the trial's whole training state every N epochs, so that a study run again after a crash or "
        "a kill goes on from there (torch and numpy engines; see docs/checkpoints.md); unset: after any "
        "epoch that ends more than 60 s after the last checkpoint; 0: never. Not part of the trial id"))
    function: str | None = Field(None, description=(
        'your own training loop, called as fn(config, seed, data, report) for each trial: "train.py:train" '
        '(a file relative to the study file) or "package.module:train"; the engine is then "function"'))
    function_sha256: str | None = Field(None, validate_default=True, description=(
        "filled in by nnstudy: the sha256 of the function's file (part of the trial id)"))
    args: dict[str, Any] = Field({}, description=(
        "your training function's own settings, given to it in config[\"train\"][\"args\"]; sweepable as "
        "\"train.args.NAME\""))

    @model_serializer(mode="wrap")
    def _leave_out_default_extras(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if not out.get("save_weights", True):
            out.pop("save_weights")
        if out.get("precision") == "float32":
            out.pop("precision")
        for key in ("function", "function_sha256", "args"):
            if key in out and not out[key]:
                out.pop(key)
        for key in OPTIONAL_TRAIN_KEYS:
            if key in out and out[key] is None:
                out.pop(key)
        return out

    @model_validator(mode="before")
    @classmethod
    def _function_engine(cls, raw: Any) -> Any:  # a training function runs as engine "function"
        if isinstance(raw, dict) and raw.get("function") is not None and "engine" not in raw:
            return {**raw, "engine": "function"}
        return raw

    @field_validator("function")
    @classmethod
    def _function_ref(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:  # the file (or module) is found here; its sha256 under function_sha256
            from ._train_function import check_ref, resolve_sha

            check_ref(v)
            base_dir = (info.context or {}).get("base_dir")
            if base_dir is not None:
                resolve_sha(v, None, base_dir)
        return v

    @field_validator("function_sha256")
    @classmethod
    def _function_identity(cls, v: str | None, info: ValidationInfo) -> str | None:
        ref = info.data.get("function")
        if ref is None:
            if v is not None and "function" in info.data:
                raise ValueError("only with a training function (train.function)")
            return v
        from ._train_function import resolve_sha

        return resolve_sha(ref, v, (info.context or {}).get("base_dir"))

    @field_validator("args")
    @classmethod
    def _json_args(cls, v: dict[str, Any]) -> dict[str, Any]:
        from ._train_function import check_args

        return check_args(v)

    @model_validator(mode="after")
    def _function_or_engine(self) -> "TrainConfig":
        if self.function is not None and self.engine != "function":
            raise ValueError(f"a training function (function = {self.function!r}) runs as engine \"function\": "
                             f"leave engine out (found engine = {self.engine!r})")
        if self.function is None and self.engine == "function":
            raise ValueError('engine "function" trains with your own function: set function = "train.py:train"')
        if self.args and self.function is None:
            raise ValueError("args: settings for your own training function; set function = \"train.py:train\"")
        return self

    @field_validator("steps")
    @classmethod
    def _steps_or_epochs(cls, v: int | None, info: ValidationInfo) -> int | None:
        epochs = info.data.get("epochs", cls.model_fields["epochs"].default)
        if v is not None and epochs != cls.model_fields["epochs"].default:
            raise ValueError(f"a budget of {v} steps replaces train.epochs, so epochs = {epochs} would not be used: "
                             "leave epochs out")
        return v

    @field_validator("batch_size", mode="before")
    @classmethod
    def _count_or_full(cls, v: Any) -> Any:
        if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise ValueError(f'must be a whole number of samples (>= 1) or "full" (got {v!r})')


class RaceSeeds(Section):
    """``seeds = { min = 3, max = 20, alpha = 0.05 }``: racing seeds (nnstudy._race): seeds 0 .. max - 1, each
    configuration runs ``min`` of them, then one more a round while it is not significantly worse than the
    leader on the racing metric."""

    min: Annotated[int, Field(ge=2, le=10_000)] = 3
    max: Annotated[int, Field(ge=2, le=10_000)] = 20
    alpha: float = 0.05
    method: Literal["holm", "friedman"] = "holm"

    @model_validator(mode="after")
    def _valid_race(self):
        from .._race import RaceRule

        RaceRule(self.min, self.max, self.alpha, self.method).check(configurations=2)  # ValueError: one line
        return self


class TrialsConfig(Section):
    seeds: Union[Annotated[int, Field(ge=1, le=10_000)], list[Annotated[int, Field(ge=0, lt=SEED_LIMIT)]],
                 RaceSeeds] = 1

    @field_validator("seeds", mode="before")
    @classmethod
    def _in_range(cls, v: Any) -> Any:
        if isinstance(v, Mapping):  # a race: its own message, not the union's "should be an integer"
            try:
                return RaceSeeds.model_validate(dict(v))
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                said = err["msg"].removeprefix("Value error, ")
                if err["type"] == "int_parsing_size":  # a float beyond 64-bit integers (min = 1e308)
                    from ._load import whole_range

                    said = f"input should be a whole number {whole_range(RaceSeeds, err['loc'])}"
                raise ValueError(f"{'seeds.' + where + ': ' if where else ''}{said} "
                                 f"(a race is {{ min = 3, max = 20, alpha = 0.05 }})") from None
        bad = [x for x in v if isinstance(x, int) and not 0 <= x < SEED_LIMIT] if isinstance(v, list) else []
        if bad:
            raise ValueError(f"seed {bad[0]} is out of range: seeds are 0 .. {SEED_LIMIT - 1} (numpy's range)")
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise ValueError("the list of seeds is empty")
            if len(set(v)) != len(v):
                raise ValueError("seeds repeat")
        return v

    def seed_list(self) -> list[int]:
        if isinstance(self.seeds, RaceSeeds):
            return list(range(self.seeds.max))  # a race's trials: those it may run; it registers those it does
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    @property
    def race(self) -> "RaceSeeds | None":
        return self.seeds if isinstance(self.seeds, RaceSeeds) else None


class ReportConfig(Section):
    metrics: list[str] = []
    configurations: list[Union[Annotated[str, Field(min_length=1)], Annotated[int, Field(ge=1)]]] = Field(
        [], description=(
            "configurations drawn side by side in the figures that show one trial's pictures (first-layer "
            "weights, U-matrix, projections, reconstructions, predictions): each a [[sweep]] label such as "
            "\"Baseline\" or a configuration's number (1 = the first row of the results table); empty: the best "
            "configuration"))

    @field_validator("metrics")
    @classmethod
    def _once_each(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("an empty list; name the metrics to report, e.g. [\"val_accuracy\", \"test_accuracy\"], "
                             "or leave report.metrics out for the model kind's defaults")
        twice = sorted({m for m in v if v.count(m) > 1})
        if twice:
            raise ValueError(f"names {', '.join(map(repr, twice))} more than once (each metric once)")
        return v

    @field_validator("configurations", mode="before")
    @classmethod
    def _numbered_from_one(cls, v: Any) -> Any:
        below = [c for c in v if isinstance(c, int) and not isinstance(c, bool) and c < 1] if isinstance(v, list) else []
        if below:
            raise ValueError(f"a configuration's number counts from 1, as the rows of the results table (got {below[0]})")
        return v

    @field_validator("configurations")
    @classmethod
    def _each_once(cls, v: list) -> list:
        twice = [c for i, c in enumerate(v) if c in v[:i]]
        if twice:
            raise ValueError(f"names {twice[0]!r} more than once (each configuration once)")
        return v

    @model_serializer(mode="wrap")
    def _leave_out_unset(self, handler):  # files without report.configurations dump as they always did
        out = handler(self)
        if not out.get("metrics", True):  # unset: the dump validates again (an empty list is refused)
            out.pop("metrics")
        if not out.get("configurations", True):
            out.pop("configurations")
        return out


SweepGrid = dict[str, list[Any]]


def _grid_labels(sweep: Any) -> list:
    """The ``label`` of each [[sweep]] table (None where it has none); the tables' other keys are the grid."""
    grids = sweep if isinstance(sweep, list) else [sweep]
    return [g.get("label") if isinstance(g, Mapping) else None for g in grids]


class StudyFile(Section):
    """A whole study file. ``model`` arrives already validated by its kind's class."""

    study: StudyInfo
    data: DataConfig
    model: SerializeAsAny[ModelBase] = MLPConfig()
    train: TrainConfig = TrainConfig()
    sweep: Union[SweepGrid, list[SweepGrid]] = {}
    trials: TrialsConfig = TrialsConfig()
    report: ReportConfig = ReportConfig()
    search: SearchConfig = SearchConfig()

    _labels: list = PrivateAttr(default_factory=list)  # each grid's label (None: none); not in any trial's config

    def grids(self) -> list[SweepGrid]:
        return self.sweep if isinstance(self.sweep, list) else [self.sweep]

    def grid_labels(self) -> list[str | None]:
        """The ``label = "..."`` of each [[sweep]] table, in the order of ``grids()`` (None where it has none)."""
        return [self._labels[j] if j < len(self._labels) else None for j in range(len(self.grids()))]

    @field_validator("sweep", mode="before")
    @classmethod
    def _label_is_text(cls, v: Any) -> Any:
        """``label`` names the table's configurations (tables, legends, panels); the rest is the grid."""
        grids = v if isinstance(v, list) else [v]
        for label in _grid_labels(v):
            if label is not None and (not isinstance(label, str) or not label.strip() or len(label) > 80):
                raise ValueError(f"label {label!r}: a label is a name of 1 to 80 characters such as \"Baseline\"")
        labels = [x for x in _grid_labels(v) if x is not None]
        if len(set(labels)) != len(labels):
            raise ValueError(f"label {sorted(x for x in labels if labels.count(x) > 1)[0]!r} names two [[sweep]] "
                             f"tables (each label once)")
        out = [{k: x for k, x in g.items() if k != "label"} if isinstance(g, Mapping) else g for g in grids]
        return out if isinstance(v, list) else out[0]

    @model_validator(mode="wrap")
    @classmethod
    def _keep_labels(cls, data: Any, handler):
        labels = _grid_labels(data.get("sweep", {})) if isinstance(data, Mapping) else []
        study = handler(data)
        if isinstance(study, StudyFile) and any(x is not None for x in labels):
            study._labels = [x if isinstance(x, str) else None for x in labels]
        return study

    @model_serializer(mode="wrap")
    def _leave_out_inactive_search(self, handler):  # files without [search] dump as they always did
        out = handler(self)
        if not self.search.active:
            out.pop("search", None)
        if any(self.grid_labels()) and "sweep" in out:  # the labels go back where the file wrote them
            dumped = out["sweep"] if isinstance(out["sweep"], list) else [out["sweep"]]
            grids = [{"label": x, **g} if x else g for g, x in zip(dumped, self.grid_labels())]
            out["sweep"] = grids if isinstance(out["sweep"], list) else grids[0]
        return out
