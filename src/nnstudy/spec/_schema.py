"""The study file schema: pydantic models with ``extra="forbid"``.

Model kinds register their own section class in ``MODEL_KINDS``; the loader validates the
``[model]`` table with the class its ``kind`` names.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, field_validator,
                      model_serializer, model_validator)

from ..data._registry import INTERVAL_SUM_DIM

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "leaky_relu", "identity")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "lbfgs")
ENGINES = ("torch", "numpy")
NUMPY_OPTIMIZERS = tuple(o for o in OPTIMIZERS if o != "lbfgs")
CLASSIFICATION_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                          "test_accuracy", "train_time_s", "epochs_run")
REGRESSION_METRICS = ("train_loss", "train_mse", "train_rmse", "val_loss", "val_mse", "val_rmse",
                      "test_loss", "test_mse", "test_rmse", "train_time_s", "epochs_run")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class StudyInfo(Section):
    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
    description: str = ""

    @field_validator("name", mode="before")
    @classmethod
    def _slug(cls, v: Any) -> Any:
        if isinstance(v, str) and not re.match(NAME_PATTERN, v):
            raise ValueError(f'use lowercase letters, digits and dashes, e.g. "batch-size" (got {v!r})')
        return v


class DataConfig(Section):
    name: str
    validation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    train_size: Annotated[float, Field(gt=0.0)] = 1.0
    normalize: Literal["none", "standard", "minmax"] = "standard"
    classes: list[int] = []
    split_seed: Annotated[int, Field(ge=0)] = 0
    n_samples: Annotated[int, Field(ge=10)] | None = None
    noise: Annotated[float, Field(ge=0.0)] | None = None
    dim: Annotated[int, Field(ge=1, le=20)] | None = None  # interval-sum: D, inputs in {0,1}^D
    interval: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)] | None = None

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        from ..data import names

        if v not in names():
            raise ValueError(f"unknown dataset {v!r} (allowed: {', '.join(names())})")
        return v

    @field_validator("train_size")
    @classmethod
    def _fraction_or_count(cls, v: float) -> float:
        if v > 1.0 and v != int(v):
            raise ValueError("must be a fraction in (0, 1] or a whole count of samples")
        return v

    @field_validator("dim", "interval")
    @classmethod
    def _interval_sum_only(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None and info.data.get("name", "interval-sum") != "interval-sum":
            raise ValueError("applies only to the interval-sum dataset")
        return v

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
        for key in ("dim", "interval"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


class ModelBase(Section):
    kind: str


class MLPConfig(ModelBase):
    kind: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = [200, 200]
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    norm: Literal["none", "batch", "layer"] = "none"


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


MODEL_KINDS: dict[str, type[ModelBase]] = {
    "mlp": MLPConfig, "logistic": LogisticConfig, "perceptron": PerceptronConfig}  # + "given" (_given.py)


class EarlyStopping(Section):
    patience: Annotated[int, Field(ge=0)] = 0
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    restore_best: bool = True


class Schedule(Section):
    kind: Literal["none", "step", "cosine"] = "none"
    step_size: Annotated[int, Field(ge=1)] = 10
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1


class TrainConfig(Section):
    engine: Literal[ENGINES] = "torch"  # type: ignore[valid-type]
    optimizer: Literal[OPTIMIZERS] = "sgd"  # type: ignore[valid-type]
    lr: Annotated[float, Field(gt=0.0)] = 0.1
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    beta1: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    beta2: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.999
    eps: Annotated[float, Field(gt=0.0)] = 1e-8
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    batch_size: Union[Annotated[int, Field(ge=1)], Literal["full"]] = 16
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 20
    l1: Annotated[float, Field(ge=0.0)] = 0.0
    l2: Annotated[float, Field(ge=0.0)] = 0.0
    grad_noise: Annotated[float, Field(ge=0.0)] = 0.0
    early_stopping: EarlyStopping = EarlyStopping()
    schedule: Schedule = Schedule()
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("batch_size", mode="before")
    @classmethod
    def _count_or_full(cls, v: Any) -> Any:
        if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise ValueError(f'must be a whole number of samples (>= 1) or "full" (got {v!r})')


class TrialsConfig(Section):
    seeds: Union[Annotated[int, Field(ge=1, le=10_000)], list[Annotated[int, Field(ge=0)]]] = 1

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
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class ReportConfig(Section):
    metrics: list[str] = []


SweepGrid = dict[str, list[Any]]


class StudyFile(Section):
    """A whole study file. ``model`` arrives already validated by its kind's class."""

    study: StudyInfo
    data: DataConfig
    model: SerializeAsAny[ModelBase] = MLPConfig()
    train: TrainConfig = TrainConfig()
    sweep: Union[SweepGrid, list[SweepGrid]] = {}
    trials: TrialsConfig = TrialsConfig()
    report: ReportConfig = ReportConfig()

    def grids(self) -> list[SweepGrid]:
        return self.sweep if isinstance(self.sweep, list) else [self.sweep]
