"""How `nnstudy run` talks: a live display in terminals, plain unwrapped lines elsewhere, nothing but
problems with ``--quiet``, one JSON object per event with ``--json``."""

from __future__ import annotations

import errno
import json
import math
import os
import sys
import threading
from typing import IO, Any

from rich.console import Console

MODES = ("normal", "quiet", "json")


class PipeConsole(Console):
    """A console whose reader may leave (``| head``, a ``less`` quit early): what is left to print goes to
    /dev/null, and the command ends there: ``nnstudy run`` as if interrupted (its trials handed back), any other
    with BrokenPipeError (exit 141). Rich's own ending was SystemExit(1), which left a run's trials running."""

    def __init__(self, *args: Any, interrupt: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._interrupt = interrupt

    def on_broken_pipe(self) -> None:
        self.quiet = True
        reader_left(self.file, KeyboardInterrupt() if self._interrupt else BrokenPipeError(errno.EPIPE, "Broken pipe"))


class EventConsole(Console):
    """A console for tools: ``emit`` writes one JSON object per line to `stream` (default stdout); text that
    code prints on it becomes a ``{"event": "message", "text": ...}`` object, so nothing is lost."""

    def __init__(self, stream: IO[str] | None = None):
        super().__init__(soft_wrap=True, no_color=True, highlight=False, width=10_000, force_terminal=False,
                         force_jupyter=False)
        self._stream = stream
        self._lock = threading.Lock()
        self._gone = False

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=str, allow_nan=False)
        with self._lock:
            if self._gone:
                return
            out = self._stream or sys.stdout
            try:
                out.write(line + "\n")
                out.flush()
            except BrokenPipeError:  # the reader left (| head -1): stop the run as Ctrl-C does, trials handed back
                self._gone = True
                reader_left(out, KeyboardInterrupt())

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        with self.capture() as capture:
            super().print(*objects, **kwargs)
        text = capture.get().rstrip("\n")
        if text.strip():
            self.emit("message", text=text)


def reader_left(stream: IO[str], error: BaseException) -> None:
    """``reader_gone``, then ``error`` raised in the main thread (another thread's line is just dropped)."""
    reader_gone(stream)
    if threading.current_thread() is threading.main_thread():
        raise error from None


def reader_gone(stream: IO[str]) -> None:
    """The pipe behind `stream` closed: what is still to be written (and the exit's flush) goes to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a file descriptor (a test's capture)
        pass


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """Metrics for JSON: NaN and infinities become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def always(console: Console, text: str) -> None:
    """A plain line the user must read even with ``--quiet`` (what the store kept or did not), as the failed
    trials' lines are: past a quiet console, on stderr."""
    if console.quiet and not is_events(console):
        print(text, file=sys.stderr, flush=True)
    else:
        console.print(text, highlight=False, markup=False)


def is_events(console: Console) -> bool:
    return isinstance(console, EventConsole)


def emit(console: Console, event: str, **fields: Any) -> None:
    """An event for tools, when `console` is an EventConsole (``--json``); nothing otherwise."""
    if isinstance(console, EventConsole):
        console.emit(event, **fields)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a notebook, JupyterLab, VS Code, Colab); never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and (type(shell).__name__ == "ZMQInteractiveShell" or "google.colab" in str(type(shell)))


def run_console(mode: str = "normal") -> Console:
    """The console of `nnstudy run`: stderr, never wrapped (a terminal wraps its own lines; a log must not).

    In Jupyter its lines stay plain text on stderr (one stream output, not one display per line); the
    progress is one widget of its own (executor/_notebook_bar.py)."""
    if mode == "json":
        return EventConsole()
    notebook = in_notebook()  # a kernel's stderr may claim to be a terminal: no escape codes there
    return PipeConsole(stderr=True, soft_wrap=True, quiet=mode == "quiet", force_jupyter=False, interrupt=True,
                   force_terminal=False if notebook else None)
