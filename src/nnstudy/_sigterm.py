"""SIGTERM (`timeout`, `kill`, a batch scheduler's stop) ends a command as Ctrl-C does: running trials are handed
back, the workers end, one line and exit 130, instead of a dead driver that leaves its trials `running`."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _default_in_child() -> None:
    """A forked child (the report's figure and test processes) is ended by SIGTERM as before, quietly."""
    if signal.getsignal(signal.SIGTERM) is _interrupt:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_in_child)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
