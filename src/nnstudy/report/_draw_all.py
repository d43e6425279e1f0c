"""Drawing the report's figures, on several cores where that is safe.

Each figure is a job ``(file name, draw(path) -> caption | None)``. With more than one core, a process that
runs no other thread (``nnstudy report``; not a notebook, not the end of ``nnstudy run`` with its progress
and heartbeat threads) forks workers that inherit the jobs and draw them in parallel; elsewhere they are
drawn in turn. Either way a figure that fails becomes a warning, and a failed write (a full disk, a
read-only folder) stops the report.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from pathlib import Path
from typing import Callable

Job = tuple[str, Callable[[Path], "str | None"]]
# name, caption, the warnings drawing it gave (message, category), the OSError that stopped it (errno, text, file)
Outcome = tuple[str, "str | None", "list[tuple[str, type[Warning]]]", "tuple[int, str, str] | None"]

_JOBS: list[Job] = []  # what forked workers inherit
MAX_WORKERS = 4


def draw_all(jobs: list[Job], fig_dir: Path) -> list[Outcome]:
    """One outcome per job, in the jobs' order."""
    global _JOBS
    workers = _workers(len(jobs))
    if workers < 2:
        return [_draw(job, fig_dir) for job in jobs]
    _JOBS = jobs
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_draw_index, [(i, str(fig_dir)) for i in range(len(jobs))], chunksize=1)
    finally:
        _JOBS = []


def _workers(n_jobs: int) -> int:
    if n_jobs < 4 or not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    if multiprocessing.current_process().daemon:  # a pool's worker may not have children
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS, n_jobs)


def _draw_index(i: int, fig_dir: str) -> Outcome:
    return _draw(_JOBS[i], Path(fig_dir))


def _draw(job: Job, fig_dir: Path) -> Outcome:
    from ._figures import ReportWarning

    name, draw = job
    caption, failed = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            caption = draw(fig_dir / name)
        except OSError as e:  # a full disk or a read-only folder is not a figure's fault: the report stops whole
            failed = (e.errno or 0, e.strerror or str(e), str(e.filename or fig_dir / name))
        except Exception as e:  # one bad figure must not cost the whole report
            warnings.warn(f"figure {name} skipped: {type(e).__name__}: {e}", ReportWarning)
    return name, caption, [(str(w.message), w.category) for w in caught], failed
