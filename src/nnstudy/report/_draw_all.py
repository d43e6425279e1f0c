"""Drawing the report's figures, on several cores where that is safe.

Each figure is a job ``(file name, draw(path) -> caption | None)``. With more than one core, a process that
runs no other thread (``nnstudy report``; not a notebook, not the end of ``nnstudy run`` with its progress
and heartbeat threads) forks workers that inherit the jobs and start drawing at once (``start``); the
process itself does its other work (the tables), then draws the jobs still left beside them and collects
every outcome. Elsewhere the jobs are drawn in turn. Either way a figure that fails becomes a warning, a
failed write (a full disk, a read-only folder) stops the report, and a job whose worker died is drawn again
in this process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import warnings
from pathlib import Path
from typing import Callable

Job = tuple[str, Callable[[Path], "str | None"]]
# name, caption, the warnings drawing it gave (message, category), the OSError that stopped it (errno, text, file)
Outcome = tuple[str, "str | None", "list[tuple[str, type[Warning]]]", "tuple[int, str, str] | None"]

MAX_WORKERS = 8  # processes drawing, this one included: a report has about 8 figures, none dominant


def draw_all(jobs: list[Job], fig_dir: Path) -> list[Outcome]:
    """One outcome per job, in the jobs' order."""
    return start(jobs, fig_dir)()


def start(jobs: list[Job], fig_dir: Path) -> Callable[[], list[Outcome]]:
    """Start drawing `jobs`; the function returned draws what is left in this process too, waits for the
    workers and returns one outcome per job, in the jobs' order."""
    workers = _workers(len(jobs))
    if workers < 2:
        return lambda: [_draw(job, fig_dir) for job in jobs]
    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 0)  # how many jobs have been taken: the next one to draw, shared by every process
    children = []
    for _ in range(workers - 1):  # this process is the last worker
        reader, writer = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_work, args=(jobs, fig_dir, taken, writer), daemon=True)
        child.start()
        writer.close()
        children.append((child, reader))
    return lambda: _finish(jobs, fig_dir, taken, children)


def _workers(n_jobs: int) -> int:
    if n_jobs < 4 or not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    if multiprocessing.current_process().daemon:  # a daemonic process (a pool's worker) may not have children
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS, n_jobs)


def _take(taken, n_jobs: int) -> int | None:
    """The index of the next job nobody has taken, or None."""
    with taken.get_lock():
        i = taken.value
        if i >= n_jobs:
            return None
        taken.value = i + 1
        return i


def _work(jobs: list[Job], fig_dir: Path, taken, writer) -> None:
    """A forked worker: draw jobs until none is left, sending (index, outcome) for each."""
    import gc

    gc.freeze()  # what it inherited is not collected here: no time spent on it, no pages copied for it
    try:
        while (i := _take(taken, len(jobs))) is not None:
            writer.send((i, _draw(jobs[i], fig_dir)))
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C reaches every process of the group; the report says so
        pass
    finally:
        writer.close()


def _finish(jobs: list[Job], fig_dir: Path, taken, children) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    try:
        while (i := _take(taken, len(jobs))) is not None:
            outcomes[i] = _draw(jobs[i], fig_dir)
        readers = [reader for _, reader in children]
        while readers:
            for reader in multiprocessing.connection.wait(readers):
                try:
                    i, outcome = reader.recv()
                    outcomes[i] = outcome
                except EOFError:  # that worker is done, or died (its job is drawn below)
                    readers.remove(reader)
    finally:
        for child, reader in children:
            reader.close()
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join()
    for i, job in enumerate(jobs):  # taken by a worker that died before sending it
        if i not in outcomes:
            outcomes[i] = _draw(job, fig_dir)
    return [outcomes[i] for i in range(len(jobs))]


def _draw(job: Job, fig_dir: Path) -> Outcome:
    from ._figures import ReportWarning, plain_text

    name, draw = job
    caption, failed = None, None
    with warnings.catch_warnings(record=True) as caught, plain_text():
        warnings.simplefilter("always")
        try:
            caption = draw(fig_dir / name)
        except OSError as e:  # a full disk or a read-only folder is not a figure's fault: the report stops whole
            failed = (e.errno or 0, e.strerror or str(e), str(e.filename or fig_dir / name))
        except Exception as e:  # one bad figure must not cost the whole report
            warnings.warn(f"figure {name} skipped: {type(e).__name__}: {e}", ReportWarning)
    return name, caption, [(str(w.message), w.category) for w in caught], failed
