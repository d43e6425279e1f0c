"""How `nnstudy run` talks: a live display in terminals, plain unwrapped lines elsewhere, nothing but
problems with ``--quiet``, one JSON object per event with ``--json``."""

from __future__ import annotations

import json
import math
import sys
import threading
from typing import IO, Any

from rich.console import Console

MODES = ("normal", "quiet", "json")


class EventConsole(Console):
    """A console for tools: ``emit`` writes one JSON object per line to `stream` (default stdout); text that
    code prints on it becomes a ``{"event": "message", "text": ...}`` object, so nothing is lost."""

    def __init__(self, stream: IO[str] | None = None):
        super().__init__(soft_wrap=True, no_color=True, highlight=False, width=10_000, force_terminal=False,
                         force_jupyter=False)
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=str, allow_nan=False)
        with self._lock:
            out = self._stream or sys.stdout
            out.write(line + "\n")
            out.flush()

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        with self.capture() as capture:
            super().print(*objects, **kwargs)
        text = capture.get().rstrip("\n")
        if text.strip():
            self.emit("message", text=text)


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """Metrics for JSON: NaN and infinities become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


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
    return Console(stderr=True, soft_wrap=True, quiet=mode == "quiet", force_jupyter=False,
                   force_terminal=False if notebook else None)
