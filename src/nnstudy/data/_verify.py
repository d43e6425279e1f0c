"""sha256 of a data file's decompressed content, with a stamp cache so files are hashed once.

Stamps live in ``<cache root>/.verified.json``: absolute path -> [size, mtime_ns, inode, sha256].
A stamp counts only while the file's size, mtime and inode are unchanged and its sha256 is the
expected one. A cache folder that cannot be written just means hashing again next time.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import IO

from ..errors import DataError
from ._paths import cache_root

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_STAMPS = ".verified.json"


def open_decompressed(path: Path) -> IO[bytes]:
    """``path`` opened for reading, through gzip when it starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_bytes(path: Path, label: str) -> bytes:
    """The decompressed content of ``path``; DataError naming the file if it cannot be read."""
    try:
        with open_decompressed(path) as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{label}: {path} is corrupt ({_reason(err)}); {refetch_hint(label)}") from None


def sha256_file(path: Path, label: str) -> str:
    """sha256 of the decompressed content, streamed."""
    digest = hashlib.sha256()
    try:
        with open_decompressed(path) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{label}: {path} is corrupt ({_reason(err)}); {refetch_hint(label)}") from None
    return digest.hexdigest()


def verify(path: Path, expected: str, label: str) -> None:
    """Raise DataError unless the decompressed content of ``path`` has sha256 ``expected``."""
    key, sig = _signature(path)
    if _load_stamps().get(key) == [*sig, expected]:
        return
    if sha256_file(path, label) != expected:
        raise DataError(f"{label}: {path} is corrupt (sha256 mismatch); {refetch_hint(label)}")
    record(path, expected)


def record(path: Path, expected: str) -> None:
    """Stamp ``path`` as verified: for a file whose content was just checked under another name."""
    key, sig = _signature(path)
    stamps = _load_stamps()
    stamps[key] = [*sig, expected]
    _save_stamps(stamps)


def refetch_hint(label: str) -> str:
    return f"re-fetch it with `nnstudy data fetch {label}`"


def _reason(err: BaseException) -> str:
    if isinstance(err, EOFError):
        return "truncated gzip"
    if isinstance(err, (gzip.BadGzipFile, zlib.error)):
        return "bad gzip data"
    return (err.strerror or str(err)) if isinstance(err, OSError) else str(err)


def _signature(path: Path) -> tuple[str, list[int]]:
    st = path.stat()
    return str(path.resolve()), [st.st_size, st.st_mtime_ns, st.st_ino]


def _load_stamps() -> dict[str, list]:
    try:
        stamps = json.loads((cache_root() / _STAMPS).read_text())
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _save_stamps(stamps: dict[str, list]) -> None:
    root = cache_root()
    stamps = {key: value for key, value in stamps.items() if Path(key).exists()}
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".verified.", suffix=".tmp")
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(stamps, f)
        os.replace(tmp, root / _STAMPS)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
