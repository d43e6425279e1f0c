"""Report figures of autoencoders and generative models.

``jobs(a)`` returns [(file name, draw(path) -> caption | None)]; ``PATTERNS`` are the file-name globs these
figures use, so a re-written report removes the stale ones.
"""

from __future__ import annotations

from typing import Callable

PATTERNS: tuple[str, ...] = ()


def jobs(a) -> list[tuple[str, Callable]]:
    return []
