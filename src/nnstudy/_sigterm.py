"""SIGTERM (`timeout`, `kill`, a batch scheduler's stop) ends a command as Ctrl-C does: running trials are handed
back, the workers end, one line and exit 130, instead of a dead driver that leaves its trials `running`."""

from __future__ import annotations

import functools
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


@contextmanager
def interrupts_noted(signalled: list[int]) -> Iterator[None]:
    """Notes in ``signalled`` each SIGINT or SIGTERM that arrives inside, then handles it as before: so a
    KeyboardInterrupt that a study's own code raised by itself is told apart from Ctrl-C (signals reach the main
    thread only; an ignored or default one is left alone: it raises nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, functools.partial(_noted, signalled, handler))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _noted(signalled: list[int], handler, signum, frame):
    signalled.append(signum)
    return handler(signum, frame)
