"""A synthetic regression set with known relevant inputs, for studies/ard-vs-ols.toml.

y = x @ w + noise, x ~ N(0, I) of `n_inputs` inputs, where only the inputs in `relevant` carry a weight
(`weights`, in that order); the other inputs are pure noise. ARD should find exactly `relevant`.
"""

import numpy as np


def load(n_train=100, n_test=500, n_inputs=20, relevant=(0, 5, 6), weights=(3.0, -2.0, 1.0), noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    w = np.zeros(n_inputs)
    w[list(relevant)] = weights
    x = rng.normal(size=(n_train + n_test, n_inputs))
    y = x @ w + noise * rng.normal(size=n_train + n_test)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}
