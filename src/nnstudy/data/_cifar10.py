"""CIFAR-10: the official python archive ``cifar-10-python.tar.gz`` in ``<cache>/cifar10/``, else downloaded.

The archive is checked by its sha256 and read in memory (nothing is extracted to disk). Its
batches are Python pickles: they are read with an unpickler that only rebuilds numpy arrays,
lists, dicts, bytes and numbers, and refuses every other global.
"""

from __future__ import annotations

import functools
import io
import pickle
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import DataError
from . import _fetch
from ._mnist import is_valid, sha256_raw
from ._paths import cache_dir
from ._prepare import Raw
from ._verify import refetch_hint

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

NAME = "cifar10"
ARCHIVE = "cifar-10-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # tests replace it
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def read_batch(blob: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3072) uint8, labels (n,) int64) of one pickled batch."""
    try:
        d = _ArraysOnly(io.BytesIO(blob), encoding="bytes").load()
        x = np.asarray(d[b"data"], dtype=np.uint8)
        y = np.asarray(d[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"{NAME}: {label} is not a CIFAR-10 batch ({err}); {refetch_hint(NAME)}") from None
    if x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or len(x) != len(y):
        raise DataError(f"{NAME}: {label} holds images {x.shape} and labels {y.shape}; {refetch_hint(NAME)}")
    return x, y


def locate(name: str = NAME) -> str | None:
    folder = cache_dir(NAME)
    return str(folder) if is_valid(folder / ARCHIVE, SHA256) else None


def raw(name: str, cfg: DataConfig) -> Raw:
    path = cache_dir(NAME) / ARCHIVE
    if not path.is_file():
        raise DataError(f"{NAME}: {path} not found; run `nnstudy data fetch {NAME}`")
    if not is_valid(path, SHA256):
        raise DataError(f"{NAME}: {path} is corrupt (sha256 mismatch); {refetch_hint(NAME)}")
    return Raw(*_read_archive(str(path), path.stat().st_mtime_ns), x_scale=255.0)


@functools.lru_cache(maxsize=1)
def _read_archive(path: str, _mtime_ns: int) -> tuple[np.ndarray, ...]:
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = Path(member.name).name
                if member.isfile() and base in (*TRAIN_BATCHES, TEST_BATCH):
                    blobs[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{NAME}: {path} is not a readable archive ({err}); {refetch_hint(NAME)}") from None
    missing = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if b not in blobs]
    if missing:
        raise DataError(f"{NAME}: {path} lacks {', '.join(missing)}; {refetch_hint(NAME)}")
    train = [read_batch(blobs[b], b) for b in TRAIN_BATCHES]
    x_te, y_te = read_batch(blobs[TEST_BATCH], TEST_BATCH)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_te, y_te)


def fetch(name: str = NAME, progress: Callable[[str], None] | None = None) -> str:
    say = progress or (lambda _msg: None)
    dest = cache_dir(NAME)
    if is_valid(dest / ARCHIVE, SHA256):
        say(f"{NAME}: valid archive already in {dest}")
        return str(dest)
    say(f"{NAME}: downloading {URL} (170 MB)")

    def check(p: Path) -> None:
        if sha256_raw(p) != SHA256:
            raise DataError(f"{NAME}: {ARCHIVE} from the source does not match its sha256")

    try:
        _fetch.download(URL, dest / ARCHIVE, check=check, timeout=120.0, progress=say)
    except (OSError, DataError) as err:
        raise DataError(f"{NAME}: fetch failed: {' '.join(str(err).split()) or type(err).__name__}") from None
    return str(dest)
