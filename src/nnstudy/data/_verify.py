"""sha256 of a data file's decompressed content, with a stamp cache so files are hashed once.

Stamps live in ``<cache root>/.verified.json``: absolute path -> [size, mtime_ns, inode, sha256].
A stamp counts only while the file's size, mtime and inode are unchanged and its sha256 is the
expected one. A cache folder that cannot be written just means hashing again next time.

A verified gzipped file's content is kept decompressed in ``<cache root>/.plain/<sha256>``, named and
stamped by the sha256 the file was verified under (of its content, or of the gzipped file as published),
so later runs read it instead of decompressing it again.
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
_PLAIN = ".plain"


def _gzipped(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def open_decompressed(path: Path) -> IO[bytes]:
    """``path`` opened for reading, through gzip when it starts with the gzip magic bytes."""
    return gzip.open(path, "rb") if _gzipped(path) else open(path, "rb")


def read_verified(path: Path, expected: str, label: str, of_content: bool = True) -> bytes:
    """The content of ``path``, verified to have sha256 ``expected`` (of the content, or with
    ``of_content=False`` of the gzipped file): of a gzipped file from its decompressed copy in the
    cache when a stamp vouches for it, else decompressed (and the copy kept)."""
    try:
        gzipped = _gzipped(path)
    except OSError:
        gzipped = False  # read_bytes names the error
    if not gzipped:
        return read_bytes(path, label)
    plain = cache_root() / _PLAIN / expected
    try:
        key, sig = _signature(plain)
        if _load_stamps().get(key) == [*sig, expected]:
            return plain.read_bytes()
    except OSError:
        pass
    data = read_bytes(path, label)
    if not of_content or hashlib.sha256(data).hexdigest() == expected:
        _keep_plain(plain, data, expected)
    return data


def _keep_plain(plain: Path, data: bytes, expected: str) -> None:
    tmp = None
    try:
        plain.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=plain.parent, prefix=".", suffix=".tmp")
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, plain)
        record(plain, expected)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


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
