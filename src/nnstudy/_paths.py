"""Paths the system refuses before looking at them: a NUL character, a name or a whole path too long
(ENAMETOOLONG). ``Path.exists()`` and ``is_dir()`` raise ValueError or OSError for those instead of answering."""

from __future__ import annotations

import errno
import os
from pathlib import Path

NAME_MAX = 255  # bytes in one file or folder name (Linux, macOS and Windows alike)


def unusable(path: str | Path) -> str | None:
    """Why `path` cannot name a file at all, or None."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        return "it holds a NUL character (\\x00)"
    longest = max(len(part) for part in raw.split(b"/"))
    if longest > NAME_MAX:
        return f"a name in it is {longest:,} bytes long; a file or folder name has at most {NAME_MAX}"
    try:
        os.stat(raw)
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return f"the path is {len(raw):,} bytes long, more than this system takes"
    return None
