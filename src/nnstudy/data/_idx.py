"""Parser for the IDX format of (Fashion-)MNIST: magic, big-endian dims, then the raw array."""

from __future__ import annotations

import struct

import numpy as np

_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


class IdxError(ValueError):
    """The bytes are not a well-formed IDX file; ``str(err)`` says why."""


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the (decompressed) bytes of one IDX file into an array of its shape."""
    if len(data) < 4:
        raise IdxError("shorter than the 4-byte IDX header")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise IdxError(f"bad IDX magic 0x{data[:4].hex()}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError("truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise IdxError(f"IDX shape {shape} needs {expected} bytes of data, found {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
