"""Autoencoders and generative models (ae, stacked_ae, vae, gan) on the torch engine: their own loops
(engines/_torch/_autoencoders.py, _gan.py) over the networks of engines/_torch/_generative_nets.py.

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


def _network(name: str):
    """A torch build(mc, n_in, n_out, input_shape) of the network class ``name`` (n_out: the inputs again)."""

    def build(mc: dict, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()):
        from ..engines._torch import _generative_nets
        from ..engines._torch._generative_common import layout_of

        return getattr(_generative_nets, name)(mc, n_in, layout_of(input_shape))

    return build


def _check(study, label: str) -> None:
    study.model.check_study(study, label)


def _kind(cls, network: str, metrics: tuple[str, ...], defaults: list[str], train, model: dict,
          figures: tuple[str, ...]) -> Kind:
    return Kind(cls.model_fields["kind"].default, cls, build={"torch": _network(network)}, train={"torch": train},
                metrics=lambda task: metrics, default_metrics={"classification": defaults, "regression": defaults},
                check=_check, figure_module=FIGURE_MODULE, example={"data": DIGITS, "model": model, "train": TRAIN},
                figures=figures)


AE_DEFAULTS = ["test_loss", "val_loss", "train_time_s"]
KINDS = [
    _kind(AEConfig, "AutoEncoder", AE_METRICS, AE_DEFAULTS, _train_autoencoder,
          {"hidden": [16], "encoding_dim": 4}, ("reconstructions.png", "interpolation.png")),
    _kind(StackedAEConfig, "StackedAE", AE_METRICS, AE_DEFAULTS, _train_autoencoder,
          {"hidden": [16], "encoding_dim": 4, "pretrain_epochs": 1}, ("reconstructions.png", "interpolation.png")),
    _kind(VAEConfig, "VAE", VAE_METRICS, ["test_loss", "test_recon", "test_kl", "test_fd", "train_time_s"],
          _train_autoencoder, {"hidden": [16], "latent_dim": 4},
          ("reconstructions.png", "interpolation.png", "samples.png")),
    _kind(GANConfig, "GAN", GAN_METRICS, ["test_fd", "val_fd", "train_time_s"], _train_gan,
          {"hidden": [16, 16], "latent_dim": 4}, ("interpolation.png", "samples.png", "gan_losses.png")),
]
