"""Autoencoders and generative models (ae, stacked_ae, vae, gan) on the torch engine: their [model] sections,
metrics and rules, and their own loops (engines/_torch/_autoencoders.py, _gan.py) over the networks of
engines/_torch/_generative_nets.py.

These kinds ignore the labels: they learn the inputs. A binary cross-entropy reconstruction (``loss =
"bce"``, the default) and the GAN's sigmoid generator need inputs in [0, 1]: ``data.normalize = "minmax"``
(validation and test values outside the training range are clipped to [0, 1]). Convolutional variants need
image data (an input shape of height x width, optionally with channels first).

    [model]
    kind = "vae"
    architecture = "conv"        # mlp | conv
    channels = [32, 64]          # conv: one stride-2 block per entry; mlp: hidden = [512]
    latent_dim = 16
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_serializer, model_validator

from ..errors import StudyError
from ..spec._schema import ACTIVATIONS, ModelBase
from . import Kind, dense_parameters

Width = Annotated[int, Field(ge=1)]

AE_METRICS = ("train_loss", "val_loss", "test_loss", "train_time_s", "epochs_run")
FD_METRICS = ("val_fd", "test_fd")
VAE_METRICS = AE_METRICS + tuple(f"{s}_{t}" for s in ("train", "val", "test") for t in ("recon", "kl")) \
    + FD_METRICS
GAN_METRICS = ("g_loss", "d_loss", "train_loss") + FD_METRICS + ("train_time_s", "epochs_run")


class _Generative(ModelBase):
    architecture: Literal["mlp", "conv"] = "mlp"
    """mlp: fully connected layers of widths ``hidden``; conv: one stride-2 convolution block per entry of
    ``channels`` (the decoder mirrors the encoder)."""
    hidden: list[Width] = [256]
    """Hidden widths of the MLP encoder (the decoder mirrors them)."""
    channels: Annotated[list[Width], Field(min_length=1, max_length=4)] = [32, 64]
    """Channels of the conv encoder's stride-2 blocks (architecture = "conv")."""
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    """Activation of every hidden layer."""
    loss: Literal["bce", "mse"] = "bce"
    """Reconstruction loss: bce (inputs in [0, 1]: data.normalize = "minmax") or mse (any inputs)."""

    def needs_unit_inputs(self) -> bool:
        return self.loss == "bce"

    def check_study(self, study, label: str) -> None:
        check_inputs(self, study, label)


class _Reconstructing(_Generative):
    output: Literal["auto", "tanh"] = "auto"
    """The decoder's last activation: auto = sigmoid with loss = "bce", none with "mse"; tanh = outputs in
    [-1, 1] (needs loss = "mse"), for inputs scaled to [-1, 1]."""

    @model_validator(mode="after")
    def _tanh_needs_mse(self):
        if self.output == "tanh" and self.loss != "mse":
            raise ValueError('output = "tanh" reconstructs with squared error: set loss = "mse"')
        return self

    @model_serializer(mode="wrap")
    def _leave_out_auto_output(self, handler):  # so existing trial ids stay as they were
        out = handler(self)
        if out.get("output") == "auto":
            out.pop("output")
        return out


class AEConfig(_Reconstructing):
    """Autoencoder: encoder to ``encoding_dim`` units, decoder back to the input; loss = mean per input."""

    kind: Literal["ae"] = "ae"
    encoding_dim: Width = 32
    """Width of the code (the bottleneck)."""


class StackedAEConfig(ModelBase):
    """Stacked autoencoder: each encoder/decoder pair is pre-trained in turn on the codes of the pairs before
    it (``pretrain_epochs`` each, history epochs 1..pairs x pretrain_epochs), then the whole is fine-tuned for
    ``train.epochs``."""

    kind: Literal["stacked_ae"] = "stacked_ae"
    hidden: list[Width] = [256]
    """Widths of the encoder layers before the code; one pair per entry plus the code's pair."""
    encoding_dim: Width = 32
    """Width of the code (the last encoder layer)."""
    activation: Literal[ACTIVATIONS] = "sigmoid"  # type: ignore[valid-type]
    """Activation of every encoder layer and of the inner decoder layers."""
    loss: Literal["bce", "mse"] = "bce"
    """Reconstruction loss of the input (inner pairs reconstruct codes with mse)."""
    pretrain_epochs: Annotated[int, Field(ge=0, le=10_000)] = 5
    """Epochs of pre-training per encoder/decoder pair (0: no pre-training)."""
    pretrain_lr: Annotated[float, Field(gt=0.0)] | None = None
    """Learning rate of the pre-training phases (default train.lr)."""

    def needs_unit_inputs(self) -> bool:
        return self.loss == "bce"

    def check_study(self, study, label: str) -> None:
        check_inputs(self, study, label)


class VAEConfig(_Reconstructing):
    """Variational autoencoder: Gaussian code of ``latent_dim`` units, standard normal prior. The loss is the
    negative ELBO per sample: reconstruction (summed over inputs) + beta x KL."""

    kind: Literal["vae"] = "vae"
    latent_dim: Width = 16
    """Width of the latent Gaussian."""
    beta: Annotated[float, Field(ge=0.0)] = 1.0
    """Weight of the KL term."""


class GANConfig(_Generative):
    """GAN with the non-saturating loss: an MLP pair (architecture = "mlp") or a DCGAN (architecture = "conv":
    transposed convolutions with batch norm in the generator, strided convolutions in the discriminator).
    The generator ends in a sigmoid, so inputs must be in [0, 1] (data.normalize = "minmax")."""

    kind: Literal["gan"] = "gan"
    latent_dim: Width = 64
    """Width of the generator's normal noise input."""
    hidden: list[Width] = [256, 512]
    """Generator MLP hidden widths (the discriminator uses them reversed)."""
    activation: Literal[ACTIVATIONS] = "leaky_relu"  # type: ignore[valid-type]
    """Hidden activation (the DCGAN generator uses relu, its discriminator leaky relu)."""
    loss: Literal["bce"] = "bce"
    """The GAN loss: bce (non-saturating)."""
    g_lr: Annotated[float, Field(gt=0.0)] | None = None
    """Generator learning rate (default train.lr)."""
    d_lr: Annotated[float, Field(gt=0.0)] | None = None
    """Discriminator learning rate (default train.lr)."""
    g_steps: Annotated[int, Field(ge=1, le=100)] = 1
    """Generator updates per iteration."""
    d_steps: Annotated[int, Field(ge=1, le=100)] = 1
    """Discriminator updates per iteration (each on a fresh real batch)."""

    def needs_unit_inputs(self) -> bool:
        return True

    def check_study(self, study, label: str) -> None:
        check_inputs(self, study, label)
        if study.train.early_stopping.patience:
            raise StudyError(f"{label}: train.early_stopping: a GAN has no validation loss to watch "
                             "(its losses are a game): set patience = 0")

    @model_validator(mode="after")
    def _mlp_needs_hidden(self) -> "GANConfig":
        if self.architecture == "mlp" and not self.hidden:
            raise ValueError("an MLP GAN needs at least one hidden layer (hidden = [256, 512])")
        return self


def check_inputs(model, study, label: str) -> None:
    """One-line StudyError when the data cannot feed this model (called for every sweep point)."""
    from ..data import info

    data = study.data
    if model.needs_unit_inputs() and data.normalize != "minmax":
        what = "the GAN's sigmoid generator" if model.kind == "gan" else "loss = \"bce\""
        raise StudyError(f"{label}: data.normalize: {what} needs inputs in [0, 1]: set normalize = \"minmax\""
                         + ("" if model.kind == "gan" else " (or model.loss = \"mse\")"))
    shape = info(data).input_shape
    if getattr(model, "architecture", "mlp") == "conv" and len(shape) < 2:
        raise StudyError(f"{label}: model.architecture: \"conv\" needs image data; {data.name} has inputs of "
                         f"shape {shape}: use architecture = \"mlp\"")
    if study.train.engine != "torch":
        raise StudyError(f"{label}: train.engine: model.kind {model.kind!r} trains on the torch engine only")
    if study.train.optimizer == "lbfgs":
        raise StudyError(f"{label}: train.optimizer: 'lbfgs' is not available for model.kind {model.kind!r}")


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


def _no_batch_norm(mc: dict) -> bool:
    return False


def _dcgan(mc: dict) -> bool:
    """The DCGAN (architecture = "conv") has batch norm in both networks: a batch of one breaks it."""
    return mc.get("architecture") == "conv"


# The train keys among spec._unread.LOOP_KEYS that the own loops read: epochs and batch_size (batch_plan) and
# dtype in engines/_torch/_autoencoders.py (fine-tuning and stacked_ae's pre-training pairs) and _gan.py, and
# checkpoint_every in the autoencoders' (Checkpoints; the GAN's loop keeps none); no penalty (l1, l2) or gradient
# noise is added to their losses or gradients. A study setting those is refused.
GAN_READS = ("epochs", "batch_size", "dtype")
READS = (*GAN_READS, "checkpoint_every")


def _code(mc: dict) -> str:
    """The key of the code's width: an autoencoder's encoding_dim, a VAE's or a GAN's latent_dim."""
    return "encoding_dim" if "encoding_dim" in mc else "latent_dim"


def _size(mc: dict, n_in: int, n_out: int) -> tuple[str, int]:
    """Encoder and decoder (generator and discriminator) as mirror images; conv blocks: 3x3 kernels or more."""
    if mc.get("architecture") == "conv":
        channels = mc["channels"]
        return "channels", 2 * 9 * sum(a * b for a, b in zip([1, *channels], channels))
    code = _code(mc)
    key = code if mc[code] > max(mc["hidden"], default=0) else "hidden"
    return key, 2 * dense_parameters([n_in, *mc["hidden"], mc[code]])


def _code_compresses(mc: dict, data, label: str) -> None:
    """An autoencoder's code wider than its inputs has nothing to compress: a bad study file, not a result."""
    code = _code(mc)
    n_in = data.x_train.shape[1]
    if mc[code] > n_in:
        raise StudyError(f"{label}: model.{code}: {mc[code]} is more than the {n_in} inputs of {data.name} (after "
                         f"any data.features and pca), so the code would not compress them")


def _pretraining_epochs(mc: dict) -> int:
    """A stacked autoencoder's pre-training: ``pretrain_epochs`` for each pair (one per hidden layer, and the
    code's)."""
    return (len(mc["hidden"]) + 1) * mc["pretrain_epochs"]


def _kind(cls, network: str, metrics: tuple[str, ...], defaults: list[str], train, model: dict,
          figures: tuple[str, ...], batch_norm=_no_batch_norm, early_stopping: bool = True,
          reads: tuple[str, ...] = READS, check_data=_code_compresses, pretraining_epochs=lambda mc: 0) -> Kind:
    return Kind(cls.model_fields["kind"].default, cls, build={"torch": _network(network)}, train={"torch": train},
                metrics=lambda task: metrics, default_metrics={"classification": defaults, "regression": defaults},
                check=_check, figure_module=FIGURE_MODULE, example={"data": DIGITS, "model": model, "train": TRAIN},
                figures=figures, batch_norm=batch_norm, early_stopping=early_stopping, reads=reads, size=_size,
                check_data=check_data, pretraining_epochs=pretraining_epochs)


AE_DEFAULTS = ["test_loss", "val_loss", "train_time_s"]
KINDS = [
    _kind(AEConfig, "AutoEncoder", AE_METRICS, AE_DEFAULTS, _train_autoencoder,
          {"hidden": [16], "encoding_dim": 4}, ("reconstructions.png", "reconstructions_along.png", "interpolation.png")),
    _kind(StackedAEConfig, "StackedAE", AE_METRICS, AE_DEFAULTS, _train_autoencoder,
          {"hidden": [16], "encoding_dim": 4, "pretrain_epochs": 1},
          ("reconstructions.png", "reconstructions_along.png", "interpolation.png"),
          pretraining_epochs=_pretraining_epochs),
    _kind(VAEConfig, "VAE", VAE_METRICS, ["test_loss", "test_recon", "test_kl", "test_fd", "train_time_s"],
          _train_autoencoder, {"hidden": [16], "latent_dim": 4},
          ("reconstructions.png", "reconstructions_along.png", "interpolation.png", "samples.png")),
    _kind(GANConfig, "GAN", GAN_METRICS, ["test_fd", "val_fd", "train_time_s"], _train_gan,
          {"hidden": [16, 16], "latent_dim": 4}, ("interpolation.png", "samples.png", "gan_losses.png"), _dcgan,
          early_stopping=False, reads=GAN_READS, check_data=None),  # its EpochLog could stop early, but its check asks for patience = 0
]
