"""The summary's tests in a process forked early in `nnstudy report`, on the core that would be idle (issue 21).

`add_tests` (95% intervals, Welch/Holm, paired tests, bootstrap, power) needs scipy.stats: about
0.6 s of importing on a 2-core machine, the longest step of a report after the figures, and no figure needs
them. `start()` forks a process that imports them while this one imports matplotlib and reads the store.
`EarlyTests.send(a)` gives it the analysis (``analyze(snap, tests=False)`` without the history and artifacts: no
test reads them, and a small message does not wait for that process to take it); `complete(a)` puts the summary
it returns into ``a``: the same DataFrame ``add_tests(a)`` makes, with its warnings said here. Where no process
can be forked (one core, other threads running, a daemonic process) `start` returns None and the report tests in
its own process; so does `complete` where the forked one failed (the same error is then raised here).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import warnings

from ._stats import Analysis, add_tests


def start() -> EarlyTests | None:
    """The forked process, importing scipy.stats; None where the report tests in its own process."""
    if not hasattr(os, "fork") or threading.active_count() > 1 or multiprocessing.current_process().daemon:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cores < 2:
        return None
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(theirs, mine), daemon=True)
    process.start()
    theirs.close()
    return EarlyTests(process, mine)


class EarlyTests:
    def __init__(self, process, conn):
        self.process, self.conn = process, conn
        self.sent = False

    def send(self, a: Analysis) -> None:
        """Start the tests of `a` there."""
        try:
            history = a.snap.history.iloc[:0] if a.snap.history is not None else None
            self.conn.send(dataclasses.replace(a, snap=dataclasses.replace(a.snap, history=history, artifacts=[])))
            self.sent = True
        except Exception:  # it is gone, or a value does not pickle: `complete` tests here
            pass

    def complete(self, a: Analysis) -> None:
        """``a.summary`` with its tests, as ``add_tests(a)`` makes it (and makes it here where that process could
        not)."""
        got = None
        if self.sent:
            try:
                got = self.conn.recv()
            except (EOFError, OSError):  # it died
                pass
        self.close()
        if got is None:
            add_tests(a)
            return
        summary, said = got
        for message, category in said:
            warnings.warn(message, category)
        a.summary = summary

    def close(self) -> None:
        """Done with it (the report written, or stopped early): it ends now."""
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _serve(conn, parents_end) -> None:
    """The forked process: import what the tests need, then test the one analysis sent, if any."""
    import gc

    parents_end.close()
    try:
        gc.disable()  # as `nnstudy report` imports: few of these objects are garbage
        import scipy.optimize  # noqa: F401
        import scipy.stats  # noqa: F401
        gc.freeze()
        gc.enable()
        a = conn.recv()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            add_tests(a)
        conn.send((a.summary, [(str(w.message), w.category) for w in caught]))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the report stopped early, or Ctrl-C (it says so)
        pass
    except Exception:  # an import, the tests, a value that does not pickle: the report's process tests itself
        try:  # (and raises the error there, with its traceback)
            conn.send(None)
        except Exception:
            pass
    finally:
        conn.close()
