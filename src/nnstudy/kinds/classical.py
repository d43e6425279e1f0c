"""The classical and unsupervised methods (train.engine = "classical"): their [model] sections and the
module of engines/_classical that trains each.

Each class says which tasks it trains (``tasks``), the metrics it adds to the fixed ones (``extra_metrics``)
and the report metrics used when the study file names none (``default_metrics``).
"""

from __future__ import annotations

import importlib
import math
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, field_validator, model_serializer, model_validator

from ..errors import StudyError
from ..spec._schema import ModelBase
from . import Kind, dense_parameters

BOTH = ("classification", "regression")
SPLITS = ("train", "val", "test")


def _per_split(*names: str) -> tuple[str, ...]:
    return tuple(f"{s}_{n}" for n in names for s in SPLITS)


class ClassicalBase(ModelBase):
    tasks: ClassVar[tuple[str, ...]] = BOTH
    extra_metrics: ClassVar[tuple[str, ...]] = _per_split("mae")  # regression: mean absolute error
    default_metrics: ClassVar[dict[str, list[str]]] = {}  # task -> report metrics when none are given


class PCAConfig(ClassicalBase):
    """Principal component analysis: own SVD next to scikit-learn's. The losses are reconstruction MSEs."""

    kind: Literal["pca"] = "pca"
    components: Annotated[int, Field(ge=1)] | None = Field(
        2, description=("components kept for the losses and explained_variance (none = all; at most the inputs and "
                        "the training samples)"))
    extra_metrics: ClassVar[tuple[str, ...]] = _per_split("recon_rmse") + ("explained_variance", "sklearn_gap")
    default_metrics: ClassVar[dict[str, list[str]]] = {
        t: ["test_recon_rmse", "explained_variance", "sklearn_gap"] for t in BOTH}


class SOMConfig(ClassicalBase):
    """Self-organising map (MiniSom). Loss = quantization error; accuracy = each neuron's majority label."""

    kind: Literal["som"] = "som"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    grid: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)] = Field(
        [10, 10], description="map shape [rows, columns]")
    sigma: Annotated[float, Field(gt=0.0)] = Field(1.0, description="initial neighbourhood radius")
    learning_rate: Annotated[float, Field(gt=0.0)] = Field(0.5, description="initial learning rate")
    neighborhood: Literal["gaussian", "mexican_hat", "bubble", "triangle"] = Field(
        "gaussian", description="neighbourhood function")
    iterations: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        5000, description="training samples presented in all (split evenly over train.epochs)")
    extra_metrics: ClassVar[tuple[str, ...]] = _per_split("nmi", "topographic_error") + ("dead_units",)
    default_metrics: ClassVar[dict[str, list[str]]] = {
        "classification": ["test_nmi", "test_accuracy", "test_loss"]}

    @field_validator("grid")
    @classmethod
    def _more_than_one_unit(cls, v: list[int]) -> list[int]:
        if v == [1, 1]:
            raise ValueError("a map of one unit has no neighbours (its U-matrix divides by zero): give two units "
                             "or more, e.g. [1, 2]")
        return v

    @model_validator(mode="after")
    def _sigma_within_the_map(self) -> "SOMConfig":
        """MiniSom's own bound (it only warns): a radius beyond the map's diagonal pulls every unit alike."""
        rows, cols = self.grid
        diagonal = math.sqrt(rows * rows + cols * cols)
        if self.sigma > diagonal:
            raise ValueError(f"sigma: {self.sigma:g} is wider than the diagonal of the {rows}×{cols} map, so every "
                             f"unit would learn the same thing: at most {math.floor(diagonal * 1000) / 1000:g} "
                             f"(√(rows² + columns²))")
        return self


class RBMConfig(ClassicalBase):
    """Bernoulli RBM trained by contrastive divergence (own code) next to scikit-learn's BernoulliRBM.

    Inputs are scaled to [0, 1] on train and binarized at 0.5. Loss = negative pseudo-log-likelihood.
    """

    kind: Literal["rbm"] = "rbm"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    hidden: Annotated[int, Field(ge=1, le=10_000)] = Field(64, description="hidden units")
    k: Annotated[int, Field(ge=1, le=1000)] = Field(1, description="Gibbs steps of CD-k")
    gibbs_steps: Annotated[int, Field(ge=1, le=100_000)] = Field(
        1000, description="Gibbs steps from noise before a sample is shown")
    inpaint_rows: Annotated[int, Field(ge=0)] = Field(
        0, description="image rows (columns, for inpaint_side left or right) hidden for inpainting; 0 = half")
    inpaint_side: Literal["bottom", "top", "left", "right"] = Field(
        "bottom", description="the side of the image hidden for inpainting")
    sklearn: bool = Field(True, description="also train scikit-learn's BernoulliRBM on the same data")
    extra_metrics: ClassVar[tuple[str, ...]] = _per_split("pll") + ("sklearn_test_pll",)
    default_metrics: ClassVar[dict[str, list[str]]] = {
        "classification": ["test_pll", "sklearn_test_pll", "train_time_s"]}

    @model_serializer(mode="wrap")
    def _leave_out_default_side(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("inpaint_side") == "bottom":
            out.pop("inpaint_side")
        return out


class DBMConfig(ClassicalBase):
    """Two-layer deep Boltzmann machine: greedy RBM pre-training, then joint training (mean-field +
    persistent chains). Loss = reconstruction cross-entropy through the mean-field posterior."""

    kind: Literal["dbm"] = "dbm"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=10_000)]], Field(min_length=2, max_length=2)] = Field(
        [64, 32], description="units of the two hidden layers")
    pretrain_epochs: Annotated[int, Field(ge=0, le=10_000)] = Field(
        5, description="CD-1 epochs of each layer's RBM before joint training")
    mean_field_steps: Annotated[int, Field(ge=1, le=1000)] = Field(10, description="mean-field updates per batch")
    chains: Annotated[int, Field(ge=1, le=100_000)] = Field(100, description="persistent Gibbs chains")
    gibbs_steps: Annotated[int, Field(ge=1, le=100_000)] = Field(
        1000, description="Gibbs steps from noise before a sample is shown")
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    default_metrics: ClassVar[dict[str, list[str]]] = {"classification": ["test_loss", "train_time_s"]}


class ARDConfig(ClassicalBase):
    """scikit-learn ARDRegression: a weight prior per input, irrelevant inputs pruned. On a classification
    dataset it regresses the label (two classes) or each class indicator; loss = Brier score."""

    kind: Literal["ard"] = "ard"
    max_iter: Annotated[int, Field(ge=1)] = Field(300, description="iterations of the evidence updates")
    threshold_lambda: Annotated[float, Field(gt=0.0)] = Field(
        1e4, description="inputs whose weight precision exceeds this are pruned")


class OLSConfig(ClassicalBase):
    """Ordinary least squares (scikit-learn LinearRegression), the baseline of ARD: one weight per input, none
    pruned. On a classification dataset it regresses the label (two classes) or each class indicator; loss =
    Brier score."""

    kind: Literal["ols"] = "ols"
    fit_intercept: bool = Field(True, description="fit a bias (else the line goes through the origin)")


class SVRConfig(ClassicalBase):
    """scikit-learn SVR (one per output)."""

    kind: Literal["svr"] = "svr"
    tasks: ClassVar[tuple[str, ...]] = ("regression",)
    kernel: Literal["rbf", "linear", "poly", "sigmoid"] = "rbf"
    C: Annotated[float, Field(gt=0.0)] = Field(1.0, description="penalty of errors beyond epsilon")
    epsilon: Annotated[float, Field(ge=0.0)] = Field(0.1, description="width of the error-free tube")
    gamma: Union[Literal["scale", "auto"], Annotated[float, Field(gt=0.0)]] = Field(
        "scale", description="kernel coefficient")


class RandomForestConfig(ClassicalBase):
    """scikit-learn random forest: a classifier or a regressor by the dataset's task."""

    kind: Literal["random_forest"] = "random_forest"
    n_estimators: Annotated[int, Field(ge=1, le=100_000)] = Field(100, description="trees")
    max_depth: Annotated[int, Field(ge=1)] | None = Field(None, description="depth limit (none: grow fully)")
    min_samples_leaf: Annotated[int, Field(ge=1)] = 1
    max_features: Union[Literal["sqrt", "log2", "all"], Annotated[float, Field(gt=0.0, le=1.0)]] = Field(
        "sqrt", description="inputs tried per split: sqrt, log2, all, or a fraction")


class XGBoostConfig(ClassicalBase):
    """Gradient-boosted trees (XGBoost); history = one row per boosting round."""

    kind: Literal["xgboost"] = "xgboost"
    n_estimators: Annotated[int, Field(ge=1, le=100_000)] = Field(100, description="boosting rounds")
    max_depth: Annotated[int, Field(ge=1, le=64)] = 6
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = Field(0.3, description="shrinkage per round")
    subsample: Annotated[float, Field(gt=0.0, le=1.0)] = Field(1.0, description="rows sampled per tree")
    colsample_bytree: Annotated[float, Field(gt=0.0, le=1.0)] = Field(1.0, description="inputs sampled per tree")
    reg_lambda: Annotated[float, Field(ge=0.0)] = Field(1.0, description="L2 penalty on leaf weights")


class SklearnMLPConfig(ClassicalBase):
    """scikit-learn's MLPClassifier / MLPRegressor, a baseline next to nnstudy's own MLP. Uses train.lr
    (initial learning rate), train.batch_size and train.epochs (one history row per epoch for sgd/adam;
    lbfgs runs up to train.epochs iterations, one row)."""

    kind: Literal["sklearn_mlp"] = "sklearn_mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = Field([100], description="hidden layer widths")
    activation: Literal["relu", "tanh", "logistic", "identity"] = "relu"
    solver: Literal["lbfgs", "sgd", "adam"] = "adam"
    alpha: Annotated[float, Field(ge=0.0)] = Field(1e-4, description="L2 penalty")


# the train keys each of scikit-learn's MLP solvers reads (engines/_classical/_sklearn_mlp.py passes them all;
# momentum is sgd's, beta1/beta2/eps adam's); its weight decay is model.alpha
SOLVER_KEYS = {"sgd": ("lr", "momentum"), "adam": ("lr", "beta1", "beta2", "eps"), "lbfgs": ()}  # its learning_rate_init


class LinearProbeConfig(ClassicalBase):
    """Logistic regression on the features of another study's trained torch MLP, CNN or ResNet-18 (its best
    configuration, lowest seed), read from the weights it stored with train.save_weights = true. An MLP gives
    any hidden layer's activations; a cnn or resnet18 what its output layer reads (layer = -1)."""

    kind: Literal["linear_probe"] = "linear_probe"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    source: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")] = Field(
        ..., description="name of the study (same store) whose trained model gives the features")
    layer: int = Field(-1, description="hidden layer whose activations are the features (1 = first, -1 = last)")
    C: Annotated[float, Field(gt=0.0)] = Field(1.0, description="inverse L2 strength of the logistic regression")
    max_iter: Annotated[int, Field(ge=1)] = 1000
    source_trial: str | None = Field(None, description="filled in when the study runs: the source trial's id")
    source_sha256: str | None = Field(None, description="filled in when the study runs: sha256 of its weights")
    source_model: dict[str, Any] | None = Field(
        None, description="filled in when the study runs: the source trial's [model] section")


def _pca_fits(mc: dict, data, label: str) -> None:
    """More components than inputs or training samples would be trimmed to the rank without a word."""
    n_train, n_in = data.x_train.shape
    if mc["components"] is not None and mc["components"] > min(n_train, n_in):
        has = f"{n_in} inputs (after any data.features and pca)" if n_in <= n_train else f"{n_train} training samples"
        raise StudyError(f"{label}: model.components: {data.name} has {has}, so at most {min(n_train, n_in)} "
                         f"components (got {mc['components']})")


def _inpainting_fits(mc: dict, data, label: str) -> None:
    """Hiding every row (or more) of the image was trimmed to all of them without a word."""
    if not mc["inpaint_rows"]:
        return
    from ..engines._classical._rbm import image_shape

    shape = image_shape(data)
    if shape is None:
        raise StudyError(f"{label}: model.inpaint_rows: {data.name} has no images to inpaint (inputs of shape "
                         f"{tuple(data.input_shape)}): leave inpaint_rows out")
    side = mc.get("inpaint_side", "bottom")
    along, what = (shape[0], "rows") if side in ("top", "bottom") else (shape[1], "columns")
    if mc["inpaint_rows"] >= along:
        raise StudyError(f"{label}: model.inpaint_rows: the images of {data.name} have {along} {what}, so at most "
                         f"{along - 1} can be hidden (got {mc['inpaint_rows']})")


def _trees_can_split(mc: dict, data, label: str) -> None:
    """Leaves of more than half the training samples leave every tree a single leaf: a constant prediction."""
    n_train = len(data.x_train)
    if 2 * mc["min_samples_leaf"] > n_train:
        raise StudyError(f"{label}: model.min_samples_leaf: a split needs twice {mc['min_samples_leaf']} training "
                         f"samples and {data.name} has {n_train}, so no tree would split: give at most {n_train // 2}")


FIGURE_MODULE = "nnstudy.report._figures_classical"
DIGITS = {"name": "digits", "train_size": 200}
IRIS = {"name": "iris"}
SINE = {"name": "sine", "n_samples": 100}


def _trainer(module: str):
    """train(trial, data, on_epoch, device): ``module`` of engines/_classical, and in it ``train_trial``, or
    ``trainer(estimator)`` when it is written "module:estimator" (one loop for several estimators)."""
    module, _, estimator = module.partition(":")

    def train(trial, data, on_epoch, device: str = "cpu"):
        found = importlib.import_module(f"nnstudy.engines._classical.{module}")
        fn = found.trainer(getattr(found, estimator)) if estimator else found.train_trial
        return fn(trial, data, on_epoch, device)

    return train


def _kind(cls, module: str, example: dict | None = None, figures: tuple[str, ...] = (),
          scales_targets: bool = False, optimizer: bool = True, optimizer_keys=None,
          early_stopping: bool = False, reads: tuple[str, ...] = (), seeded: bool = True, size=None,
          check_data=None) -> Kind:
    def metrics(task: str) -> tuple[str, ...]:
        return tuple(m for m in cls.extra_metrics if task == "regression" or not m.endswith("_mae"))

    name = cls.model_fields["kind"].default
    return Kind(name, cls, train={"classical": _trainer(module)}, tasks=cls.tasks, metrics=metrics,
                default_metrics=cls.default_metrics, scales_targets=scales_targets, figure_module=FIGURE_MODULE,
                example={} if example is None else {**example, "train": {"engine": "classical",
                                                                         **example.get("train", {})}},
                figures=figures, optimizer=optimizer, optimizer_keys=optimizer_keys, early_stopping=early_stopping,
                reads=reads, seeded=seeded, size=size, check_data=check_data)


KINDS = [
    _kind(PCAConfig, "_pca", {"data": IRIS, "model": {"components": 2}},
          ("pca_curves.png", "pca_projection.png", "pca_explained.png"), optimizer=False, seeded=False,
          check_data=_pca_fits),
    _kind(SOMConfig, "_som", {"data": IRIS, "model": {"grid": [2, 2], "iterations": 200}},
          ("som_umatrix.png", "som_hits.png", "som_prototypes.png", "class_errors.png"), optimizer=False,
          reads=("epochs",), size=lambda mc, n_in, n_out: ("grid", mc["grid"][0] * mc["grid"][1] * n_in)),
    _kind(RBMConfig, "_rbm", {"data": DIGITS, "model": {"hidden": 8, "gibbs_steps": 5}},
          ("rbm_samples.png", "rbm_inpainting.png", "rbm_filters.png"), reads=("epochs", "batch_size"),
          size=lambda mc, n_in, n_out: ("hidden", dense_parameters([n_in, mc["hidden"]])),
          check_data=_inpainting_fits),
    _kind(DBMConfig, "_dbm", {"data": DIGITS, "model": {"hidden": [8, 4], "pretrain_epochs": 1, "chains": 10,
                                                        "gibbs_steps": 5}}, ("dbm_filters.png", "dbm_samples.png"),
          reads=("epochs", "batch_size"),
          size=lambda mc, n_in, n_out: ("hidden", dense_parameters([n_in, *mc["hidden"]]))),
    _kind(ARDConfig, "_supervised:ard", {"data": SINE, "model": {}}, ("ard_relevance.png", "ard_weight_histogram.png",
                                                                      "linear_weights.png", "regression_fit.png"),
          scales_targets=True, optimizer=False, seeded=False),
    _kind(OLSConfig, "_supervised:ols", {"data": SINE, "model": {}}, ("linear_weights.png", "regression_fit.png"),
          scales_targets=True, optimizer=False, seeded=False),
    _kind(SVRConfig, "_supervised:svr", {"data": SINE, "model": {}}, ("regression_fit.png",), scales_targets=True,
          optimizer=False, seeded=False),
    _kind(RandomForestConfig, "_supervised:random_forest", {"data": IRIS, "model": {"n_estimators": 5}},
          ("feature_importance.png", "class_errors.png"), scales_targets=True, optimizer=False,
          check_data=_trees_can_split),
    _kind(XGBoostConfig, "_boosting", {"data": IRIS, "model": {"n_estimators": 3}},
          ("feature_importance.png", "class_errors.png"), optimizer=False),
    _kind(SklearnMLPConfig, "_sklearn_mlp", {"data": IRIS, "model": {"hidden": [8]}, "train": {"epochs": 2}},
          ("class_errors.png",), scales_targets=True, optimizer_keys=lambda mc: SOLVER_KEYS[mc.get("solver", "adam")],
          early_stopping=True, reads=("epochs", "batch_size"),  # the one classical loop that stops early
          size=lambda mc, n_in, n_out: ("hidden", dense_parameters([n_in, *mc["hidden"], n_out]))),
    _kind(LinearProbeConfig, "_probe"),  # reads another study's weights from the store: no example alone
]
