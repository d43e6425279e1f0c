"""A time series cut into windows: inputs = the last ``lags`` values, target = the value ``horizon``
steps after the last input. Windows stay in time order and the test split is the latest
``TEST_FRACTION`` of them; ``prepare`` then takes validation from the latest training windows
(``Raw.ordered``), so every training target precedes every validation target, which precedes every
test target. Normalization is fitted on the training windows only, as for any dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._prepare import TEST_FRACTION, Raw
from ._registry import SERIES_HORIZON, SERIES_LAGS

if TYPE_CHECKING:
    from ..spec._schema import DataConfig


def windows(series: np.ndarray, lags: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """x (n, lags) with x[i] = series[i : i + lags], y (n, 1) with y[i] = series[i + lags - 1 + horizon]."""
    n = len(series) - lags - horizon + 1
    if n < 1:
        raise DataError(f"a series of {len(series)} values has no window of lags = {lags} "
                        f"and horizon = {horizon}")
    x = np.lib.stride_tricks.sliding_window_view(series, lags)[:n]
    y = series[lags - 1 + horizon:][:n, None]
    return np.array(x), np.array(y)


def chronological(x: np.ndarray, y: np.ndarray, test_fraction: float = TEST_FRACTION) -> Raw:
    """The earliest windows for training, the latest ``test_fraction`` for testing."""
    n_test = int(np.ceil(test_fraction * len(x)))
    if n_test < 1 or n_test >= len(x):
        raise DataError(f"{len(x)} windows are too few for a chronological test split")
    cut = len(x) - n_test
    return Raw(x[:cut], y[:cut], x[cut:], y[cut:], ordered=True)


def windows_raw(series: np.ndarray, cfg: DataConfig) -> Raw:
    lags, horizon = cfg.lags or SERIES_LAGS, cfg.horizon or SERIES_HORIZON
    out = chronological(*windows(series, lags, horizon))
    out.input_shape, out.series = (lags,), True
    return out
