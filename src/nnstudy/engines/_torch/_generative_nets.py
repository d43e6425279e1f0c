"""Encoders, decoders, generators and discriminators on flat inputs (B, prod(input_shape)).

Convolutional parts view the flat rows as (B, C, H, W) images; every stride-2 block halves the size
(rounding up), and the transposed blocks grow it back to exactly the input size.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ._mlp import ACTIVATIONS


def activation(name: str) -> nn.Module:
    return nn.LeakyReLU(0.2) if name == "leaky_relu" else ACTIVATIONS[name]()


def mlp(widths: list[int], act: str, last_act: bool = False) -> nn.Sequential:
    """Linear layers of ``widths`` (input first), the activation between them (and after the last one)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if (i < len(widths) - 2 or last_act) and act != "identity":
            layers.append(activation(act))
    return nn.Sequential(*layers)


def conv_sizes(layout: tuple[int, int, int], blocks: int) -> list[tuple[int, int]]:
    """(H, W) before each stride-2 block and after the last one."""
    sizes = [layout[1:]]
    for _ in range(blocks):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes


def conv_encoder(layout: tuple[int, int, int], channels: list[int], out_dim: int, act: str,
                 norm: bool = False) -> nn.Sequential:
    """Image rows -> stride-2 3x3 convolutions -> flatten -> linear to ``out_dim``."""
    c, h, w = layout
    layers: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
    cin = c
    for i, cout in enumerate(channels):
        layers.append(nn.Conv2d(cin, cout, 3, stride=2, padding=1))
        if norm and i > 0:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(activation(act))
        cin = cout
    fh, fw = conv_sizes(layout, len(channels))[-1]
    layers += [nn.Flatten(), nn.Linear(cin * fh * fw, out_dim)]
    return nn.Sequential(*layers)


def conv_decoder(layout: tuple[int, int, int], channels: list[int], in_dim: int, act: str,
                 norm: bool = False) -> nn.Sequential:
    """Code -> linear -> transposed stride-2 convolutions (mirroring conv_encoder) -> flat image rows."""
    sizes = conv_sizes(layout, len(channels))
    fh, fw = sizes[-1]
    layers: list[nn.Module] = [nn.Linear(in_dim, channels[-1] * fh * fw)]
    if norm:
        layers.append(nn.BatchNorm1d(channels[-1] * fh * fw))
    layers += [activation(act), nn.Unflatten(1, (channels[-1], fh, fw))]
    outs = list(reversed(channels[:-1])) + [layout[0]]
    cin = channels[-1]
    for j, cout in enumerate(outs):
        (th, tw), (ih, iw) = sizes[-2 - j], sizes[-1 - j]
        pad = (th - 2 * ih + 1, tw - 2 * iw + 1)  # output_padding: exactly the encoder's size
        layers.append(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=pad))
        if j < len(outs) - 1:
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(activation(act))
        cin = cout
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


def encoder_decoder(mc: dict[str, Any], n_in: int, layout, code_in: int, code_out: int
                    ) -> tuple[nn.Module, nn.Module]:
    """The encoder (inputs -> code_out) and decoder (code_in -> input logits) of an ae / vae section."""
    if mc["architecture"] == "conv":
        return (conv_encoder(layout, mc["channels"], code_out, mc["activation"]),
                conv_decoder(layout, mc["channels"], code_in, mc["activation"]))
    widths = [n_in, *mc["hidden"]]
    return (mlp(widths + [code_out], mc["activation"]),
            mlp([code_in, *reversed(widths)], mc["activation"]))


class AutoEncoder(nn.Module):
    """x -> code -> reconstruction logits (bce) or values (mse). ``losses`` are per sample."""

    has_prior = False  # samples can be drawn from a prior over codes (decode(z), z ~ N(0, I))

    def __init__(self, mc: dict[str, Any], n_in: int, layout):
        super().__init__()
        d = mc["encoding_dim"]
        self.encoder, self.decoder = encoder_decoder(mc, n_in, layout, d, d)
        self.loss_kind, self.tanh = mc["loss"], mc.get("output") == "tanh"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decoder_out(self, z: torch.Tensor) -> torch.Tensor:
        """What the reconstruction loss compares with the input: logits (bce), values (mse; tanh-squashed)."""
        out = self.decoder(z)
        return torch.tanh(out) if self.tanh else out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder_out(z)
        return torch.sigmoid(out) if self.loss_kind == "bce" else out

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": reconstruction(self.decoder_out(self.encoder(x)), x, self.loss_kind) / x.shape[1]}

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(AutoEncoder):
    """Gaussian encoder q(z|x) = N(mu, exp(logvar)), standard normal prior; loss = recon + beta * KL."""

    has_prior = True

    def __init__(self, mc: dict[str, Any], n_in: int, layout):
        nn.Module.__init__(self)
        self.latent_dim, self.beta, self.loss_kind = mc["latent_dim"], mc["beta"], mc["loss"]
        self.tanh = mc.get("output") == "tanh"
        self.encoder, self.decoder = encoder_decoder(mc, n_in, layout, self.latent_dim, 2 * self.latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[:, :self.latent_dim]  # the mean

    def losses(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """noise: the rows' standard normal draws (default: drawn here)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        z = mu + (torch.randn_like(mu) if noise is None else noise) * torch.exp(0.5 * logvar)
        recon = reconstruction(self.decoder_out(z), x, self.loss_kind)
        kl = gaussian_kl(mu, logvar)
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    def eval_noise(self, x: torch.Tensor) -> torch.Tensor:
        """The draws ``losses(x)`` would take, at once (split_means computes x in slices)."""
        return torch.randn(x.shape[0], self.latent_dim, dtype=x.dtype, device=x.device)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per sample, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def reconstruction(out: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample reconstruction loss summed over the inputs: BCE on logits, or squared error."""
    if kind == "bce":
        return nn.functional.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    return (out - x).pow(2).sum(1)


class StackedAE(nn.Module):
    """Encoder layers enc[i]: w[i] -> w[i+1] (+ activation); decoder layers dec[i]: w[i+1] -> w[i]
    (+ activation, except dec[0], which gives the input's logits or values)."""

    has_prior = False

    def __init__(self, mc: dict[str, Any], n_in: int, layout=None):  # fully connected: any layout
        super().__init__()
        w = [n_in, *mc["hidden"], mc["encoding_dim"]]
        self.enc = nn.ModuleList(mlp([a, b], mc["activation"], last_act=True) for a, b in zip(w, w[1:]))
        self.dec = nn.ModuleList(mlp([b, a], mc["activation"], last_act=i > 0)
                                 for i, (a, b) in enumerate(zip(w, w[1:])))
        self.loss_kind = mc["loss"]

    def encode(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        for layer in self.enc[:upto]:
            x = layer(x)
        return x

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.dec):
            z = layer(z)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder_logits(z)
        return torch.sigmoid(out) if self.loss_kind == "bce" else out

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": reconstruction(self.decoder_logits(self.encode(x)), x, self.loss_kind) / x.shape[1]}

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def pair_loss(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Mean reconstruction loss of pair i on its input h (the codes of the pairs before it)."""
        out = self.dec[i](self.enc[i](h))
        if i == 0:
            return reconstruction(out, h, self.loss_kind).mean() / h.shape[1]
        return (out - h).pow(2).mean()


class GAN(nn.Module):
    """Generator G: noise -> image rows in [0, 1]; discriminator D: rows -> one logit (real)."""

    has_prior = True

    def __init__(self, mc: dict[str, Any], n_in: int, layout):
        super().__init__()
        self.latent_dim = mc["latent_dim"]
        if mc["architecture"] == "conv":  # DCGAN: batch norm, relu generator, leaky-relu discriminator
            self.generator = conv_decoder(layout, mc["channels"], self.latent_dim, "relu", norm=True)
            self.discriminator = conv_encoder(layout, mc["channels"], 1, "leaky_relu", norm=True)
            self.apply(_dcgan_init)
        else:
            self.generator = mlp([self.latent_dim, *mc["hidden"], n_in], mc["activation"])
            self.discriminator = mlp([n_in, *reversed(mc["hidden"]), 1], mc["activation"])

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.generator(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.generate(z)


def _dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
