"""The report's heavy modules imported in a thread while a GPU trains.

A CUDA study's main thread spends its training waiting for the device (graph replays and synchronisations
release the GIL), so scipy.stats, statsmodels' power analysis and matplotlib (about 2 s on an H200 host) are
loaded by the time the report starts. The thread is joined before the report forks its workers.
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("scipy.stats", "scipy.special", "statsmodels.stats.power", "matplotlib.figure",
           "matplotlib.backends.backend_agg", "nnstudy.report", "nnstudy.report._stats", "nnstudy.report._figures",
           "nnstudy.report._tables", "nnstudy.report._html")


def start(device: str) -> threading.Thread | None:
    """A running import thread when ``device`` is a GPU, else None (on the CPU the trials use the cores)."""
    if not device.startswith("cuda"):
        return None
    thread = threading.Thread(target=_import_all, name="nnstudy-prefetch", daemon=True)
    thread.start()
    return thread


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the report imports it again and says what is wrong
            return
