"""elnino: statsmodels' monthly sea surface temperature of the Pacific (Nino 1+2 region), 1950-2010,
as one series of 732 months, cut into windows by ``data.lags`` / ``data.horizon`` (see ``_series``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._package_file import PackageFile
from ._prepare import Raw
from ._series import windows_raw

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

MODULE = "statsmodels.datasets.elnino"
FILE = "elnino.csv"
SOURCE = PackageFile(MODULE, FILE, "statsmodels")
locate, fetch = SOURCE.locate, SOURCE.fetch


def raw(name: str, cfg: DataConfig) -> Raw:
    return windows_raw(series(fetch(name)), cfg)


@functools.lru_cache(maxsize=1)
def series(path: str) -> np.ndarray:
    """(732,) float64: the months in time order (the file has one row per year, one column per month)."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
        months = table.drop(columns=["YEAR"]).to_numpy(np.float64)
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"statsmodels' {path} is unreadable ({' '.join(str(err).split())})") from None
    out = months.ravel()
    out.setflags(write=False)
    return out
