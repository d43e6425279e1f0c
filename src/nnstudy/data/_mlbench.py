"""UCI tables from the R package mlbench, read from its ``.rda`` files with ``rdata`` (no R needed).

Search order: ``<cache>/mlbench/``, then the installed Debian package ``r-cran-mlbench``
(``/usr/lib/R/site-library/mlbench/data/`` or wherever ``dpkg -L`` says). ``nnstudy data fetch``
downloads the package without root and copies the five files into the cache. Each file is checked
by its sha256.

Features: numeric columns as they are; factor columns whose levels are numbers (Ionosphere's V1 and
V2, BreastCancer's 1-10 scores) become those numbers; other factors would become one-hot columns.
Rows with a missing value are dropped (16 of BreastCancer's, in Bare.nuclei); BreastCancer's Id
column is dropped. The last column is the class; its levels, in R's order, are the class indices.
PimaIndiansDiabetes is the original table (zeros where a value was not measured), not
PimaIndiansDiabetes2 (those zeros as NA, which would drop half the rows).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from ..errors import DataError
from . import _debian, _fetch
from ._paths import cache_dir, cache_root
from ._prepare import Raw, carve_test
from ._registry import entry
from ._verify import record, refetch_hint, sha256_file, verify

if TYPE_CHECKING:
    import pandas as pd

    from ..spec._schema import DataConfig

CACHE = "mlbench"
DEBIAN_PACKAGE = "r-cran-mlbench"
DEBIAN_DIR = Path("/usr/lib/R/site-library/mlbench/data")
FILES = {"ionosphere": "Ionosphere.rda", "pima-diabetes": "PimaIndiansDiabetes.rda", "sonar": "Sonar.rda",
         "glass": "Glass.rda", "breast-cancer-wisconsin": "BreastCancer.rda"}
DROP = {"breast-cancer-wisconsin": ("Id",)}
# sha256 of each file as mlbench 2.1-3 ships it (tests replace this mapping)
SHA256: dict[str, str] = {
    "Ionosphere.rda": "1e72974db40749e025434dbb45c815c826d3cce7c1b324fd07ee89aee44e08b7",
    "PimaIndiansDiabetes.rda": "fc134e041577d3ff2b784e1610b6fbbe165f815abc83652ba77a28f4bccb89ec",
    "Sonar.rda": "e75dbab91efeba53ff00d13281977619a9e584bd2ccff48550e8a252f7c49cd4",
    "Glass.rda": "dd6d25227d9b49c30a4de04566bec1a2877e790b7690544ad848d847144f32b7",
    "BreastCancer.rda": "1fcf1b82128c287b2777005a93a2b76fdb4d6749ed6df05231f85953f1fc7c2b",
}


# ---------------------------------------------------------------- finding files

def debian_dirs() -> list[Path]:
    return _debian.installed_dirs(DEBIAN_PACKAGE, DEBIAN_DIR, tuple(SHA256),
                                  present=lambda d: any((d / f).is_file() for f in SHA256))


def search_dirs() -> Iterator[Path]:
    yield cache_dir(CACHE)
    yield from debian_dirs()


def _find(name: str) -> Path:
    """The first valid copy of ``name``'s file; DataError (one line) if there is none."""
    file = FILES[name]
    corrupt: DataError | None = None
    for folder in search_dirs():
        path = folder / file
        if not path.is_file():
            continue
        try:
            verify(path, SHA256[file], name)
            return path
        except DataError as err:
            corrupt = corrupt or err
    if corrupt is not None:
        raise corrupt
    dirs = [str(d) for d in search_dirs()]
    raise DataError(f"{name}: {file} not found in {' or '.join(dirs)} (Debian package {DEBIAN_PACKAGE}); "
                    f"run `nnstudy data fetch {name}`")


def locate(name: str) -> str | None:
    try:
        return str(_find(name).parent)
    except DataError:
        return None


# ---------------------------------------------------------------- loading

def raw(name: str, cfg: DataConfig) -> Raw:
    path = _find(name)
    st = path.stat()
    x, y = _read(name, str(path), st.st_size, st.st_mtime_ns)
    return carve_test(x, y, cfg.split_seed, True)


@functools.lru_cache(maxsize=8)
def _read(name: str, path: str, _size: int, _mtime: int) -> tuple[np.ndarray, np.ndarray]:
    """(x float64 (n, d), y int64 (n,)) of a verified file; kept for the next load."""
    frame = read_frame(Path(path), name)
    x, y = table_arrays(frame.drop(columns=[c for c in DROP.get(name, ()) if c in frame.columns]))
    info = entry(name).info
    if y.max(initial=-1) + 1 != info.n_classes or x.shape[1] != int(np.prod(info.input_shape)):
        raise DataError(f"{name}: {path} holds {x.shape[1]} features and {y.max(initial=-1) + 1} classes, "
                        f"not what mlbench ships; {refetch_hint(name)}")
    for a in (x, y):
        a.setflags(write=False)
    return x, y


def read_frame(path: Path, label: str) -> pd.DataFrame:
    """The one data frame an ``.rda`` file holds (R's serialization parsed, nothing executed)."""
    try:
        import rdata
    except ImportError:
        raise DataError(f"{label}: reading .rda files needs the Python package rdata "
                        "(the `classical` extra)") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unknown encoding. Assumed ASCII." for old files
            objects = rdata.read_rda(path)
    except Exception as err:  # noqa: BLE001 (the parser raises many kinds on damaged input)
        raise DataError(f"{label}: {path} is not a readable .rda file ({type(err).__name__}); "
                        f"{refetch_hint(label)}") from None
    frames = [v for v in objects.values() if hasattr(v, "columns")]
    if len(frames) != 1:
        raise DataError(f"{label}: {path} holds {len(frames)} data frames, expected 1")
    return frames[0]


def table_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Features (float64) and class codes (int64) of a frame whose last column is the class.

    Rows with any missing value are dropped.
    """
    import pandas as pd

    frame = frame.dropna()
    label = frame.iloc[:, -1]
    y = (label.cat.codes if isinstance(label.dtype, pd.CategoricalDtype)
         else pd.Categorical(label).codes).astype(np.int64)
    columns = []
    for col in frame.columns[:-1]:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            numbers = pd.to_numeric(values.astype(str), errors="coerce")
            columns.append(numbers.to_frame() if not numbers.isna().any()
                           else pd.get_dummies(values, prefix=str(col), dtype=float))
        else:
            columns.append(values.astype(float).to_frame())
    x = pd.concat(columns, axis=1).to_numpy(np.float64)
    return x, np.asarray(y)


# ---------------------------------------------------------------- fetching

def fetch(name: str, progress: Callable[[str], None] | None = None) -> str:
    """Put all five files into the cache from the Debian package (one download serves them all)."""
    say = progress or (lambda _msg: None)
    found = locate(name)
    if found is not None:
        say(f"{name}: valid file already in {found}")
        return found
    dest = cache_dir(CACHE)
    with _fetch.scratch_dir(cache_root()) as tmp:
        try:
            say(f"{name}: apt-get download {DEBIAN_PACKAGE}")
            _debian.copy_from_package(DEBIAN_PACKAGE, DEBIAN_DIR, list(SHA256), dest, tmp, _checker)
        except (RuntimeError, OSError, DataError) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            raise DataError(f"{name}: fetch failed: Debian package {DEBIAN_PACKAGE} ({reason})") from None
    for file in SHA256:
        record(dest / file, SHA256[file])
    say(f"{name}: installed from the Debian package into {dest}")
    return str(dest)


def _checker(file: str) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        if sha256_file(path, file) != SHA256[file]:
            raise DataError(f"{file} from the package does not match its sha256")

    return check
