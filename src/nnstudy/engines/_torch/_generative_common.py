"""What the autoencoder and GAN loops share: inputs on the device, per-sample losses summed per split,
the Fréchet distance of samples in a PCA space of the training data, and the image artifacts."""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import torch

from ...data._dataset import Dataset
from .._common import _npz, grad_norm_steps
from ._optim_step import weight_norms
from ._tensors import EVAL_CHUNK, cpu_rows, widest_activation

FD_DIMS = 32  # principal components of the training inputs the Fréchet distance is measured in
FD_SAMPLES = 2000  # generated samples per measurement (fewer when the reference split is smaller)
PCA_FIT = 5000  # training rows the components are fitted on
TILES = 16  # originals / reconstructions shown
SAMPLES = 64  # generated samples shown
STEPS = 9  # images along an interpolation


class GradMeter:
    """Mean L2 norm of each weight's gradient (``grad_norm/<prefix><layer>``) over evenly spaced steps of
    an epoch, as the classifiers record them; summed on the device, read with the epoch's one sync."""

    def __init__(self, module: torch.nn.Module, steps: int, prefix: str = ""):
        named = [(n, p) for n, p in module.named_parameters() if p.dim() >= 2 and p.requires_grad]
        self.names = [f"grad_norm/{prefix}{n.removesuffix('.weight')}" for n, _ in named]
        self.weights = [p for _, p in named]
        self.every, self.count = grad_norm_steps(steps)
        self.sums: list[torch.Tensor] = []

    def reset(self) -> None:
        self.sums = [torch.zeros((), dtype=w.dtype, device=w.device) for w in self.weights]

    def measure(self, step: int, params: list[torch.Tensor], grads: list[torch.Tensor | None]) -> None:
        """Step ``step``'s gradients ``grads`` of ``params`` (_optim_step.minimize's), counted on every
        ``every``-th step."""
        if step % self.every == 0:
            torch._foreach_add_(self.sums, weight_norms(self.weights, params, grads))

    def values(self) -> dict[str, torch.Tensor]:
        return {name: total / self.count for name, total in zip(self.names, self.sums)}


@dataclass
class Inputs:
    """The inputs of each split on the device (labels are not used), and the test labels for picking pairs."""

    x: dict[str, torch.Tensor]
    y_test: np.ndarray
    dtype: torch.dtype

    @classmethod
    def from_dataset(cls, data: Dataset, dev: torch.device, dtype: torch.dtype, unit: bool) -> "Inputs":
        x = {}
        for name in ("train", "val", "test"):
            t = torch.as_tensor(getattr(data, f"x_{name}"), dtype=dtype, device=dev).flatten(1)
            x[name] = t.clamp(0.0, 1.0) if unit else t  # minmax is fitted on train: others may leave [0, 1]
        return cls(x, np.asarray(data.y_test), dtype)


@torch.no_grad()
def split_means(model: torch.nn.Module, inputs: Inputs) -> dict[str, torch.Tensor]:
    """'<split>_<term>' (term 'loss' -> '<split>_loss') -> mean over the split of ``model.losses``, 0-d device
    tensors. A VAE's noise is drawn EVAL_CHUNK rows at a time whatever the device (the same stream as ever); on
    the CPU each chunk is computed in slices that keep the widest activation within CPU_EVAL_VALUES."""
    noise = getattr(model, "eval_noise", None)
    out: dict[str, torch.Tensor] = {}
    for split, x in inputs.x.items():
        if x.shape[0] == 0:
            continue
        rows = cpu_rows(EVAL_CHUNK, widest_activation(model, x[:1], model.losses), x.device) \
            if x.device.type == "cpu" else EVAL_CHUNK
        sums: dict[str, torch.Tensor] = {}
        for start in range(0, x.shape[0], EVAL_CHUNK):
            chunk = x[start:start + EVAL_CHUNK]
            drawn = None if noise is None else noise(chunk)
            for at in range(0, chunk.shape[0], rows):
                part = chunk[at:at + rows]
                terms = model.losses(part) if drawn is None else model.losses(part, drawn[at:at + rows])
                for term, v in terms.items():
                    sums[term] = sums.get(term, 0) + v.double().sum()
        out.update({f"{split}_{term}": s / x.shape[0] for term, s in sums.items()})
    return out


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
                     ) -> torch.Tensor:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), via the symmetric S1^(1/2) S2 S1^(1/2); NaN for samples
    that are not finite (a diverged model: the trial ends diverged, not failed in eigh)."""
    if not (torch.isfinite(mu1).all() and torch.isfinite(cov1).all()):
        return torch.tensor(math.nan, dtype=mu1.dtype, device=mu1.device)
    vals, vecs = torch.linalg.eigh(cov1)
    root1 = (vecs * vals.clamp_min(0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root1 @ cov2 @ root1).clamp_min(0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * cross


def _moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = z.mean(0)
    zc = z - mu
    return mu, zc.T @ zc / max(1, z.shape[0] - 1)


class FrechetMeter:
    """Fréchet distance between generated rows and the val / test inputs, in the span of the first
    principal components of the training inputs (float64, on the device)."""

    def __init__(self, inputs: Inputs, gen: torch.Generator):
        train = inputs.x["train"].double()
        fit = train[torch.randperm(train.shape[0], generator=gen, device=train.device)[:PCA_FIT]]
        self.center = fit.mean(0)
        k = max(1, min(FD_DIMS, fit.shape[1], fit.shape[0] - 1))
        self.basis = torch.linalg.svd(fit - self.center, full_matrices=False)[2][:k].T  # (D, k)
        self.refs = {s: _moments(self.project(x.double())) for s, x in inputs.x.items()
                     if s != "train" and x.shape[0] > 1}
        self.n = min([FD_SAMPLES] + [x.shape[0] for s, x in inputs.x.items() if s in self.refs])

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double() - self.center) @ self.basis

    @torch.no_grad()
    def __call__(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, cov = _moments(self.project(samples))
        return {f"{s}_fd": frechet_distance(mu, cov, *ref) for s, ref in self.refs.items()}


def as_images(rows: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """(n, D) -> (n, H, W) for one channel, (n, H, W, C) for several; float16."""
    c, h, w = image_layout(input_shape)
    x = rows.reshape(len(rows), c, h, w)
    x = x[:, 0] if c == 1 else np.moveaxis(x, 1, -1)
    return x.astype(np.float16)


def image_layout(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, height, width) of image data: (H, W) and (1, H, W) are one channel, (C, H, W) channels first."""
    if len(input_shape) == 2:
        return 1, input_shape[0], input_shape[1]
    if len(input_shape) == 3:
        return input_shape[0], input_shape[1], input_shape[2]
    raise ValueError(f"inputs of shape {input_shape} are not images")


def is_image(data: Dataset) -> bool:
    return len(data.input_shape) in (2, 3)


def layout_of(input_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(channels, height, width) of images, None for other inputs."""
    return image_layout(tuple(input_shape)) if len(input_shape) in (2, 3) else None


def interpolation_pair(y_test: np.ndarray) -> tuple[int, int]:
    """Test rows 0 and the first one of another class (row 1 when every row has one class)."""
    other = np.flatnonzero(y_test != y_test[0]) if y_test.ndim == 1 else np.empty(0)
    return 0, int(other[0]) if len(other) else min(1, len(y_test) - 1)


def lerp(a: torch.Tensor, b: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)[:, None]
    return (1 - t) * a + t * b


def along_epochs(epochs: int) -> list[int]:
    """The epochs whose reconstructions are kept along training: 1, 2, 5, 10, 20, 50, ... and the last."""
    marks = [m * 10 ** e for e in range(7) for m in (1, 2, 5)]
    return sorted({m for m in marks if m < epochs} | {epochs})


class AlongTraining:
    """Reconstructions of the first test images after pre-training and at ``along_epochs``: the artifact
    reconstructions_along.npz (image data only; one small host copy per kept epoch)."""

    def __init__(self, model, data: Dataset, inputs: Inputs, epochs: int):
        ok = is_image(data) and inputs.x["test"].shape[0] >= 2 and hasattr(model, "reconstruct")
        self.model, self.shape = model, data.input_shape
        self.x = inputs.x["test"][:TILES] if ok else None
        self.keep, self.labels, self.images = set(along_epochs(epochs)), [], []

    @torch.no_grad()
    def snap(self, label: str) -> None:
        if self.x is None:
            return
        was = self.model.training
        self.model.eval()
        self.images.append(as_images(self.model.reconstruct(self.x).float().cpu().numpy(), self.shape))
        self.labels.append(label)
        self.model.train(was)

    def epoch(self, epoch: int, of_training: int) -> None:
        if of_training in self.keep:
            self.snap(f"epoch {epoch}")

    def artifacts(self) -> dict[str, bytes]:
        if self.x is None or not self.images:
            return {}
        return {"reconstructions_along.npz": _npz(original=as_images(self.x.float().cpu().numpy(), self.shape),
                                                  images=np.stack(self.images), labels=np.array(self.labels))}


@torch.no_grad()
def image_artifacts(model, data: Dataset, inputs: Inputs, gen: torch.Generator) -> dict[str, bytes]:
    """reconstructions.npz (autoencoders), interpolation.npz (all), samples.npz (models with a prior: vae,
    gan) for image data."""
    if not is_image(data) or inputs.x["test"].shape[0] < 2:
        return {}
    model.eval()
    shape, x = data.input_shape, inputs.x["test"]
    out: dict[str, bytes] = {}
    steps = np.linspace(0, 1, STEPS)
    if not hasattr(model, "reconstruct"):  # a generator only: interpolate between two noise draws
        z = torch.randn(2, model.latent_dim, generator=gen, device=x.device, dtype=x.dtype)
        path = model.generate(lerp(z[0], z[1]))
        out["interpolation.npz"] = _npz(images=as_images(path.float().cpu().numpy(), shape), t=steps,
                                        ends=np.array(["z0", "z1"]))
    else:
        originals = x[:TILES]
        out["reconstructions.npz"] = _npz(
            original=as_images(originals.float().cpu().numpy(), shape),
            reconstruction=as_images(model.reconstruct(originals).float().cpu().numpy(), shape))
        i, j = interpolation_pair(inputs.y_test)
        codes = model.encode(x[[i, j]])
        path = model.decode(lerp(codes[0], codes[1]))
        out["interpolation.npz"] = _npz(images=as_images(path.float().cpu().numpy(), shape), t=steps,
                                        ends=as_images(x[[i, j]].float().cpu().numpy(), shape))
    if model.has_prior:
        z = torch.randn(SAMPLES, model.latent_dim, generator=gen, device=x.device, dtype=x.dtype)
        out["samples.npz"] = _npz(images=as_images(model.decode(z).float().cpu().numpy(), shape))
    return out
