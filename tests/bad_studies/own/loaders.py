"""Loaders for the bad-study corpus."""

import numpy as np


def load(n=20):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] > 0).astype(int)


def load_mismatched(n=20):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 2)), np.zeros(n - 1, int)
