"""MNIST and Kuzushiji-MNIST: four gzipped IDX files each, in ``<cache>/<name>/``, else downloaded.

Each file is checked by the sha256 of the gzipped file as published (the sums every mirror
lists). ``nnstudy data fetch`` downloads only the files that are missing or corrupt, each to a
temporary name that becomes the final one after its check. No Debian package ships these sets.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import DataError
from . import _fetch
from ._idx import IdxError, parse_idx
from ._paths import cache_dir
from ._prepare import Raw
from ._verify import read_verified, refetch_hint

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# name -> (URL folders tried in order, sha256 of each gzipped file); tests replace these
SOURCES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "mnist": (("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/"), dict(zip(FILES, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")))),
    "kmnist": (("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",), dict(zip(FILES, (
        "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c")))),
}


def sha256_raw(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _valid(path_str: str, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_raw(Path(path_str)) == expected


def is_valid(path: Path, expected: str) -> bool:
    """The file exists and its bytes have sha256 ``expected`` (hashed once per size and mtime)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return _valid(str(path), st.st_size, st.st_mtime_ns, expected)


def locate(name: str) -> str | None:
    folder = cache_dir(name)
    sums = SOURCES[name][1]
    return str(folder) if all(is_valid(folder / f, sums[f]) for f in FILES) else None


def raw(name: str, cfg: DataConfig) -> Raw:
    folder = cache_dir(name)
    sums = SOURCES[name][1]
    for f in FILES:
        path = folder / f
        if not path.is_file():
            raise DataError(f"{name}: {path} not found; run `nnstudy data fetch {name}`")
        if not is_valid(path, sums[f]):
            raise DataError(f"{name}: {path} is corrupt (sha256 mismatch); {refetch_hint(name)}")
    keys = tuple((str(folder / f), (folder / f).stat().st_mtime_ns) for f in FILES)
    return Raw(*_read_all(name, keys), x_scale=255.0)


@functools.lru_cache(maxsize=2)
def _read_all(name: str, keys: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, ...]:
    sums = SOURCES[name][1]
    arrays = [_read(name, Path(path), sums[Path(path).name]) for path, _ in keys]
    for images, labels in (arrays[:2], arrays[2:]):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{name}: images {images.shape} and labels {labels.shape} do not match; "
                            f"{refetch_hint(name)}")
    x_tr, y_tr, x_te, y_te = arrays
    return x_tr.reshape(len(x_tr), -1), y_tr, x_te.reshape(len(x_te), -1), y_te


def _read(name: str, path: Path, sha256: str) -> np.ndarray:
    try:
        return parse_idx(read_verified(path, sha256, name, of_content=False))
    except IdxError as err:
        raise DataError(f"{name}: {path} is corrupt ({err}); {refetch_hint(name)}") from None


def fetch(name: str, progress: Callable[[str], None] | None = None) -> str:
    """Download the missing or corrupt files (each from the first URL folder that serves it)."""
    say = progress or (lambda _msg: None)
    bases, sums = SOURCES[name]
    dest = cache_dir(name)
    for f in FILES:
        if is_valid(dest / f, sums[f]):
            continue
        errors = []
        for base in bases:
            say(f"{name}: downloading {base}{f}")
            try:
                _fetch.download(base + f, dest / f, check=_checker(name, f, sums[f]), progress=say)
                break
            except (OSError, DataError) as err:
                errors.append(f"{base} ({' '.join(str(err).split()) or type(err).__name__})")
        else:
            raise DataError(f"{name}: fetch of {f} failed: tried {'; '.join(errors)}")
    say(f"{name}: files in {dest}")
    return str(dest)


def _checker(name: str, file: str, expected: str) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        if sha256_raw(path) != expected:
            raise DataError(f"{name}: {file} from the source does not match its sha256")

    return check
