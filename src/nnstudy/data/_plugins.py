"""Datasets that installed packages register: entry points of the group ``nnstudy.datasets``.

A package declares, in its pyproject.toml::

    [project.entry-points."nnstudy.datasets"]
    my-data = "mypkg.data:ENTRY"        # an nnstudy.data.Entry; its module has raw(name, cfg)

Entry points are listed when a name is not built in (no plugin code runs then); a plugin's own module is
imported only when its dataset is used.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Iterator

from ..errors import DataError

GROUP = "nnstudy.datasets"


class Registry(Mapping):
    """Built-in entries first, then installed plugins; a plugin cannot replace a built-in name."""

    def __init__(self, built_in: dict[str, Any]):
        self._built_in = built_in
        self._loaded: dict[str, Any] = {}
        self._listed: tuple[tuple[str, ...], dict[str, EntryPoint]] | None = None

    def _plugins(self) -> dict[str, EntryPoint]:
        """The group's entry points, listed again when sys.path changes (listing takes ~15 ms)."""
        if self._listed is None or self._listed[0] != tuple(sys.path):
            found = {ep.name: ep for ep in entry_points(group=GROUP) if ep.name not in self._built_in}
            self._listed = (tuple(sys.path), found)
        return self._listed[1]

    def __getitem__(self, name: str) -> Any:
        if name in self._built_in:
            return self._built_in[name]
        if name not in self._loaded:
            point = self._plugins().get(name) if isinstance(name, str) else None
            if point is None:
                raise KeyError(name)
            self._loaded[name] = _load(point)
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._built_in or (isinstance(name, str) and name in self._plugins())

    def __iter__(self) -> Iterator[str]:
        yield from self._built_in
        yield from sorted(self._plugins())

    def __len__(self) -> int:
        return len(self._built_in) + len(self._plugins())


def _load(point: EntryPoint) -> Any:
    from ._registry import Entry

    where = f"dataset plugin {point.name!r} ({point.value})"
    try:
        found = point.load()
    except Exception as e:  # a broken plugin is named, in one line, not a traceback
        raise DataError(f"{where} cannot be loaded: {type(e).__name__}: {e}") from None
    if not isinstance(found, Entry):
        raise DataError(f"{where} is a {type(found).__name__}, not an nnstudy.data.Entry")
    if found.info.name != point.name:
        raise DataError(f"{where} describes a dataset named {found.info.name!r}")
    return found
