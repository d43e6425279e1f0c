"""The report's heavy modules imported in a thread while a GPU trains.

A CUDA study's main thread spends its training waiting for the device (graph replays and synchronisations
release the GIL), so scipy.stats and matplotlib (about 2 s on an H200 host) are
loaded by the time the report starts. The thread waits until that waiting begins (``training()``: the stack's
first epoch, or trials handed to other processes), since before it the main thread builds models and captures
CUDA graphs, which need the GIL too: on an H200 a cProfiled seed-variance run spent 2.6 s of its graph capture
waiting for the imports. The thread is joined before the report forks its workers.
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("scipy.stats", "scipy.special", "scipy.optimize", "matplotlib.figure",
           "matplotlib.backends.backend_agg", "nnstudy.report", "nnstudy.report._stats", "nnstudy.report._figures",
           "nnstudy.report._tables", "nnstudy.report._html")


_TRAINING = threading.Event()


def start(device: str) -> threading.Thread | None:
    """An import thread, waiting for ``training()``, when ``device`` is a GPU, else None (on the CPU the trials
    use the cores)."""
    if not device.startswith("cuda"):
        return None
    _TRAINING.clear()
    thread = threading.Thread(target=_import_all, name="nnstudy-prefetch", daemon=True)
    thread.start()
    return thread


def training() -> None:
    """This process now mostly waits (for the device, or for its workers): the imports may begin."""
    _TRAINING.set()


def join(thread: threading.Thread) -> None:
    """The imports done (begun now if training never said so)."""
    _TRAINING.set()
    thread.join()


def _import_all() -> None:
    _TRAINING.wait()
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the report imports it again and says what is wrong
            return
