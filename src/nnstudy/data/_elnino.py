"""elnino: statsmodels' monthly sea surface temperature of the Pacific (Nino 1+2 region), 1950-2010,
as one series of 732 months, cut into windows by ``data.lags`` / ``data.horizon`` (see ``_series``).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import DataError
from ._prepare import Raw
from ._series import windows_raw

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

MODULE = "statsmodels.datasets.elnino"
FILE = "elnino.csv"


def _path() -> Path | None:
    try:
        spec = importlib.util.find_spec(MODULE)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / FILE
    return path if path.is_file() else None


def locate(name: str) -> str | None:
    path = _path()
    return None if path is None else str(path)


def fetch(name: str, progress: Callable[[str], None] | None = None) -> str:
    where = locate(name)
    if where is None:
        raise DataError(f"{name}: {MODULE} ({FILE}) not found: install the Python package statsmodels "
                        "(the `classical` extra); nnstudy cannot fetch it")
    return where


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
