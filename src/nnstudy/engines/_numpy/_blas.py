"""BLAS for the small-batch step: numpy's threads for the one product that gains from them, and scipy's gemm for
SGD's step taken inside a weight gradient's product.

A trial at batch <= 32 runs BLAS on one thread: the threads cost more than they save on its (B, in) x (in, out)
products. The weight gradient of a wide layer, x^T dy of (in, B) x (B, out), is the exception: BLAS splits its in
x out result between the threads (the first layer of the default MLP, 784 x 200: 0.21 -> 0.12 s an epoch on two
cores). ``wider`` switches numpy's own OpenBLAS to the trial's thread budget around it and back to one: a setting
of a few microseconds, and each output element is computed by one thread as before, so the numbers are the same.
Only numpy's BLAS: scipy's (the optimizer's axpy) keeps its own pool, and two pools in turn fight over the cores.
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import numpy as np

WIDE = 1 << 16  # weights (in x out) from which a weight gradient takes the budget's threads


def wider() -> Callable[[bool], None] | None:
    """on(True) before a wide product, on(False) after it: numpy's OpenBLAS at the thread budget it had before
    the trial limited it to one, then one again. None where that budget is one thread (a pool worker beside
    others) or numpy's BLAS is not an OpenBLAS threadpoolctl can set."""
    from threadpoolctl import ThreadpoolController

    home = os.path.dirname(os.path.dirname(np.__file__))  # numpy's wheel ships its BLAS beside it (numpy.libs)
    own = [lib for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers
           if os.path.realpath(lib.filepath).startswith(os.path.realpath(home) + os.sep + "numpy")]
    if len(own) != 1:
        return None
    lib = own[0]
    budget = lib.num_threads
    if budget <= 1:
        return None
    return lambda on: lib.set_num_threads(budget if on else 1)


@functools.cache
def descent(dtype: np.dtype) -> Callable[..., None] | None:
    """descend(lr, keep, x, dy, w): w <- keep w - lr x^T dy in place, for x (B, in), dy (B, out), w (in, out)
    C-ordered: one call of scipy's gemm of dtype on w^T (Fortran-ordered, so overwritten where it lies). For
    one-thread steps: scipy's BLAS keeps its own threads (above). Checked once on a small case; None where the
    gemm would answer a copy and leave the weights as they were.

    scipy's wrapper, not numpy's OpenBLAS through ctypes: about 4 us less a call (three layers: 8 % of a
    batch-16 step); at batch 200 and 1024, on numpy's threads, the step in the product gained nothing."""
    from scipy.linalg.blas import get_blas_funcs

    gemm = get_blas_funcs("gemm", dtype=dtype)

    def descend(lr: float, keep: float, x: np.ndarray, dy: np.ndarray, w: np.ndarray) -> None:
        gemm(-lr, dy.T, x.T, keep, w.T, trans_b=1, overwrite_c=1)  # w^T <- keep w^T - lr dy^T x

    w, x, dy = np.ones((3, 2), dtype), np.arange(12, dtype=dtype).reshape(4, 3), np.ones((4, 2), dtype)
    want = 0.5 * w - 2.0 * (x.T @ dy)
    descend(2.0, 0.5, x, dy, w)
    return descend if np.array_equal(w, want) else None
