"""Where dataset files are cached: ``$NNSTUDY_DATA`` if set, else ``~/.cache/nnstudy``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("NNSTUDY_DATA", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnstudy"


def cache_dir(name: str) -> Path:
    """The cache folder of one dataset (not created here)."""
    return cache_root() / name
