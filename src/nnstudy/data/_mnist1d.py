"""MNIST-1D (Greydanus 2020): 4000 + 1000 signals of length 40, generated offline by the mnist1d package
from data.split_seed (its own pickle download is never used)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ._prepare import Raw

if TYPE_CHECKING:
    from ..spec._schema import DataConfig


def raw(name: str, cfg: DataConfig) -> Raw:
    return Raw(*_generate(cfg.split_seed))


@functools.lru_cache(maxsize=2)
def _generate(seed: int) -> tuple[np.ndarray, ...]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    state = np.random.get_state()  # the package seeds numpy's global generator
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    out = (np.asarray(d["x"], np.float32), np.asarray(d["y"], np.int64),
           np.asarray(d["x_test"], np.float32), np.asarray(d["y_test"], np.int64))
    for a in out:
        a.setflags(write=False)
    return out
