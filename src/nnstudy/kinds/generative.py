"""Autoencoders and generative models (ae, stacked_ae, vae, gan) on the torch engine, each with its own loop.

They learn the inputs and ignore the labels; their [model] sections are in spec/_models_generative.py.
"""

from __future__ import annotations

from ..spec._models_generative import (AE_METRICS, GAN_METRICS, VAE_METRICS, AEConfig, GANConfig, StackedAEConfig,
                                       VAEConfig)
from . import Kind

FIGURE_MODULE = "nnstudy.report._figures_generative"
DIGITS = {"name": "digits", "train_size": 64, "normalize": "minmax"}
TRAIN = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 1}


def _train_autoencoder(trial, data, on_epoch, device: str = "cpu"):
    from ..engines._torch._autoencoders import train_trial

    return train_trial(trial, data, on_epoch, device)


def _train_gan(trial, data, on_epoch, device: str = "cpu"):
    from ..engines._torch._gan import train_trial

    return train_trial(trial, data, on_epoch, device)


def _summary_autoencoder(trial, data):
    from ..engines._torch._autoencoders import Setup, build

    return build(trial.config["model"], Setup(trial, data, "cpu"))


def _summary_gan(trial, data):
    from ..engines._torch._autoencoders import Setup
    from ..engines._torch._generative_nets import GAN

    s = Setup(trial, data, "cpu")
    return GAN(trial.config["model"], s.n_in, s.layout)


def _check(study, label: str) -> None:
    study.model.check_study(study, label)


def _kind(cls, metrics: tuple[str, ...], defaults: list[str], train, summary, model: dict,
          figures: tuple[str, ...]) -> Kind:
    return Kind(cls.model_fields["kind"].default, cls, train={"torch": train}, metrics=lambda task: metrics,
                default_metrics={"classification": defaults, "regression": defaults}, check=_check,
                summary=summary, figure_module=FIGURE_MODULE, example={"data": DIGITS, "model": model, "train": TRAIN},
                figures=figures)


AE_DEFAULTS = ["test_loss", "val_loss", "train_time_s"]
KINDS = [
    _kind(AEConfig, AE_METRICS, AE_DEFAULTS, _train_autoencoder, _summary_autoencoder,
          {"hidden": [16], "encoding_dim": 4}, ("reconstructions.png", "interpolation.png")),
    _kind(StackedAEConfig, AE_METRICS, AE_DEFAULTS, _train_autoencoder, _summary_autoencoder,
          {"hidden": [16], "encoding_dim": 4, "pretrain_epochs": 1}, ("reconstructions.png", "interpolation.png")),
    _kind(VAEConfig, VAE_METRICS, ["test_loss", "test_recon", "test_kl", "test_fd", "train_time_s"],
          _train_autoencoder, _summary_autoencoder, {"hidden": [16], "latent_dim": 4},
          ("reconstructions.png", "interpolation.png", "samples.png")),
    _kind(GANConfig, GAN_METRICS, ["test_fd", "val_fd", "train_time_s"], _train_gan, _summary_gan,
          {"hidden": [16, 16], "latent_dim": 4}, ("interpolation.png", "samples.png", "gan_losses.png")),
]
