"""A spawn context whose worker processes never import the caller's ``__main__``.

Python's spawn start method re-runs the main script in every worker (as ``__mp_main__``) so that
functions defined there can be unpickled. nnstudy's workers need nothing from it: a trial is a JSON-able
config, and user code is named by file (``model.py:Net``) and loaded from the file. Leaving the main
script out means a plain script that calls ``nnstudy.run(...)`` at top level, without
``if __name__ == "__main__":``, works, and a guarded one starts its workers without re-running its imports.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
import threading
from multiprocessing import context, spawn

_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")
_lock = threading.Lock()


def _preparation_without_main(name: str) -> dict:
    data = _original(name)
    for key in _MAIN_KEYS:
        data.pop(key, None)
    return data


_original = spawn.get_preparation_data

if sys.platform != "win32":
    from multiprocessing import popen_spawn_posix

    class _Popen(popen_spawn_posix.Popen):
        def _launch(self, process_obj) -> None:
            # A worker starts with SIGINT blocked (the mask survives exec), as the stdlib starts its resource
            # tracker: Ctrl-C while it imports would print a traceback; init_pool_worker ignores, then unblocks it
            with _lock:  # the stdlib reads the preparation data through this module attribute
                spawn.get_preparation_data = _preparation_without_main
                mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                try:
                    super()._launch(process_obj)
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    spawn.get_preparation_data = _original

    class _Process(context.SpawnProcess):
        @staticmethod
        def _Popen(process_obj):
            return _Popen(process_obj)

    class _Context(context.SpawnContext):
        Process = _Process

    def spawn_context() -> mp.context.BaseContext:
        """The context for worker pools: spawn, without the caller's main module."""
        return _Context()
else:  # pragma: no cover  (Windows: plain spawn; a script there needs its main guard)
    def spawn_context() -> mp.context.BaseContext:
        return mp.get_context("spawn")


def starting_worker() -> bool:
    """True while this process is a spawned child still importing its parent's main module: a call to
    nnstudy.run there comes from a script without a main guard, run again by someone else's process pool."""
    return bool(getattr(mp.current_process(), "_inheriting", False))
