"""The classical and unsupervised methods (train.engine = "classical"): one module of engines/_classical each.

Their [model] sections are in spec/_models_classical.py; each says its tasks, the metrics it adds and its
default report metrics.
"""

from __future__ import annotations

import importlib

from ..spec._models_classical import (ARDConfig, DBMConfig, LinearProbeConfig, PCAConfig, RandomForestConfig,
                                      RBMConfig, SklearnMLPConfig, SOMConfig, SVRConfig, XGBoostConfig)
from . import Kind

FIGURE_MODULE = "nnstudy.report._figures_classical"
DIGITS = {"name": "digits", "train_size": 200}
IRIS = {"name": "iris"}
SINE = {"name": "sine", "n_samples": 100}


def _trainer(module: str):
    def train(trial, data, on_epoch, device: str = "cpu"):
        return importlib.import_module(f"nnstudy.engines._classical.{module}").train_trial(trial, data, on_epoch,
                                                                                           device)
    return train


def _kind(cls, module: str, example: dict | None = None, figures: tuple[str, ...] = (),
          scales_targets: bool = False) -> Kind:
    def metrics(task: str) -> tuple[str, ...]:
        return tuple(m for m in cls.extra_metrics if task == "regression" or not m.endswith("_mae"))

    name = cls.model_fields["kind"].default
    return Kind(name, cls, train={"classical": _trainer(module)}, tasks=cls.tasks, metrics=metrics,
                default_metrics=cls.default_metrics, scales_targets=scales_targets, figure_module=FIGURE_MODULE,
                example={} if example is None else {**example, "train": {"engine": "classical",
                                                                         **example.get("train", {})}},
                figures=figures)


KINDS = [
    _kind(PCAConfig, "_pca", {"data": IRIS, "model": {"components": 2}}, ("pca_curves.png", "pca_projection.png")),
    _kind(SOMConfig, "_som", {"data": IRIS, "model": {"grid": [2, 2], "iterations": 200}},
          ("som_umatrix.png", "som_hits.png")),
    _kind(RBMConfig, "_rbm", {"data": DIGITS, "model": {"hidden": 8, "gibbs_steps": 5}},
          ("rbm_samples.png", "rbm_inpainting.png", "rbm_filters.png")),
    _kind(DBMConfig, "_dbm", {"data": DIGITS, "model": {"hidden": [8, 4], "pretrain_epochs": 1, "chains": 10,
                                                        "gibbs_steps": 5}}, ("dbm_filters.png", "dbm_samples.png")),
    _kind(ARDConfig, "_supervised", {"data": SINE, "model": {}}, ("ard_relevance.png",), scales_targets=True),
    _kind(SVRConfig, "_supervised", {"data": SINE, "model": {}}, (), scales_targets=True),
    _kind(RandomForestConfig, "_supervised", {"data": IRIS, "model": {"n_estimators": 5}},
          ("feature_importance.png",), scales_targets=True),
    _kind(XGBoostConfig, "_boosting", {"data": IRIS, "model": {"n_estimators": 3}}, ("feature_importance.png",)),
    _kind(SklearnMLPConfig, "_sklearn_mlp", {"data": IRIS, "model": {"hidden": [8]}, "train": {"epochs": 2}}, (),
          scales_targets=True),
    _kind(LinearProbeConfig, "_probe"),  # reads another study's weights from the store: no example alone
]
