"""My own loader: scikit-learn's 8x8 handwritten digits, averaged down to `size` x `size` pixels.

nnstudy calls it with the [data] section's other keys (`size`), so `"data.size" = [2, 4, 8]` sweeps it.
It returns (x, y), or a dict of splits: x_train, y_train[, x_test, y_test, classes].
"""

import numpy as np
from sklearn.datasets import load_digits


def digits(size: int = 8):
    if 8 % size:
        raise ValueError(f"size must divide 8 (got {size})")
    images, labels = load_digits(return_X_y=True)
    k = 8 // size
    small = images.reshape(-1, size, k, size, k).mean(axis=(2, 4))
    return {"x_train": small.reshape(len(small), -1), "y_train": labels, "classes": [str(d) for d in range(10)]}
