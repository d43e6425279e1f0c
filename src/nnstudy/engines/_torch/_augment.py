"""Augmentation on the device, on the gathered batch: random crop with zero padding, horizontal flip,
random erasing.

The crop pads each side by 1/8 of the image's side (4 pixels on 28-32 pixel images, 1 on 8x8) and
cuts a window of the original size at a random offset per sample. Erasing (Zhong et al., 2020) fills,
with probability 1/2, one rectangle of 2-40 % of the image (aspect ratio 0.3-3.3) with random values
drawn uniformly between the batch's smallest and largest value.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ._cnn import layout


def make_augment(names: list[str], input_shape: tuple[int, ...], gen: torch.Generator
                 ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """xb (B, prod(input_shape)) -> an augmented copy, or None without augmentation."""
    if not names:
        return None
    shape = layout(input_shape)
    if len(shape) == 2:
        shape = (shape[0], 1, shape[1])  # signals: shift and flip along their length only
    pad_h, pad_w = (crop_padding(shape[1]) if shape[1] > 1 else 0), crop_padding(shape[2])

    def augment(xb: torch.Tensor) -> torch.Tensor:
        x = xb.view(xb.shape[0], *shape)
        if "crop" in names:
            x = random_crop(x, pad_h, pad_w, gen)
        if "flip" in names:
            x = random_flip(x, gen)
        if "erase" in names:
            x = random_erase(x, gen)
        return x.reshape(xb.shape)

    return augment


def crop_padding(side: int) -> int:
    return max(1, round(side / 8))


def random_crop(x: torch.Tensor, pad_h: int, pad_w: int, gen: torch.Generator) -> torch.Tensor:
    """Each sample shifted by its own offset in [-pad, pad], zeros shifted in: (B, C, H, W)."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad_w, pad_w, pad_h, pad_h))
    oy = torch.randint(0, 2 * pad_h + 1, (b, 1), generator=gen, device=x.device)
    ox = torch.randint(0, 2 * pad_w + 1, (b, 1), generator=gen, device=x.device)
    rows = (oy + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (ox + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each sample mirrored left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


ERASE_P, ERASE_AREA, ERASE_RATIO = 0.5, (0.02, 0.4), (0.3, 1 / 0.3)


def random_erase(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each sample, with probability 1/2, gets one rectangle of random values: (B, C, H, W)."""
    b, _, h, w = x.shape
    u = torch.rand(6, b, generator=gen, device=x.device, dtype=torch.float64)
    area = (ERASE_AREA[0] + (ERASE_AREA[1] - ERASE_AREA[0]) * u[0]) * h * w
    ratio = torch.exp(math.log(ERASE_RATIO[0]) + (math.log(ERASE_RATIO[1]) - math.log(ERASE_RATIO[0])) * u[1])
    eh = (area * ratio).sqrt().round().clamp(1, h).long()
    ew = (area / ratio).sqrt().round().clamp(1, w).long()
    y0 = (u[2] * (h - eh + 1)).floor().long()
    x0 = (u[3] * (w - ew + 1)).floor().long()
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_r = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None])  # (B, H)
    inside_c = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])  # (B, W)
    mask = inside_r[:, :, None] & inside_c[:, None, :] & (u[4] < ERASE_P)[:, None, None]
    lo, hi = x.amin(), x.amax()
    noise = lo + (hi - lo) * torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    return torch.where(mask[:, None], noise, x)
