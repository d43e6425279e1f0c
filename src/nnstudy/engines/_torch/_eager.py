"""torch.optim without importing torch._dynamo while nothing is compiled.

A torch optimizer imports torch._dynamo (1 to 1.7 s per process) on its first ``add_param_group`` and at every
``step``, only to call ``graph_break()`` (a mark for a tracer) and ``disable(fn)`` (run fn untraced). In a
process where torch._dynamo was never imported nothing is traced, so both do nothing there. Inside
``without_dynamo()``, while torch._dynamo is not imported, a stand-in does those two calls; any other use of
it (torch.compile, a user's module asking for it) imports the real torch._dynamo in its place, and the
functions it disabled defer to the real one from then on. The numbers are the same: no kernel changes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import sys
import threading
import types
from typing import Callable, Iterator

NAME = "torch._dynamo"
_swap = threading.RLock()


class _StandIn(types.ModuleType):
    """torch._dynamo until something needs more of it than ``graph_break`` and ``disable``."""

    def __getattr__(self, name: str):  # an attribute the stand-in lacks: the real module's
        return getattr(_real(), name)

    @staticmethod
    def graph_break(*args, **kwargs) -> None:
        if not _real_loaded():
            return None
        return sys.modules[NAME].graph_break(*args, **kwargs)

    @staticmethod
    def disable(fn: Callable | None = None, recursive: bool = True, **kwargs):
        if fn is None:
            return functools.partial(_StandIn.disable, recursive=recursive, **kwargs)
        real: list[Callable] = []

        @functools.wraps(fn)
        def run(*a, **k):
            if not _real_loaded():
                return fn(*a, **k)
            if not real:  # torch caches what disable returned: from now on the real one decides
                real.append(sys.modules[NAME].disable(fn, recursive, **kwargs))
            return real[0](*a, **k)

        return run


def _real_loaded() -> bool:
    module = sys.modules.get(NAME)
    return module is not None and not isinstance(module, _StandIn)


def _real() -> types.ModuleType:
    """Import the real torch._dynamo in the stand-in's place."""
    import torch

    with _swap:  # two threads asking at once: the second must not take out the module the first imported
        _drop(torch)
        return importlib.import_module(NAME)


def _drop(torch: types.ModuleType, standin: _StandIn | None = None) -> None:
    """Take the stand-in (any, or only `standin`) out of sys.modules and off torch."""
    for space in (sys.modules, torch.__dict__):
        key = NAME if space is sys.modules else "_dynamo"
        found = space.get(key)
        if isinstance(found, _StandIn) and (standin is None or found is standin):
            del space[key]


@contextlib.contextmanager
def without_dynamo() -> Iterator[None]:
    """Train with torch.optim without importing torch._dynamo, unless something else needs it."""
    if NAME in sys.modules:  # already imported (or a stand-in already in place): nothing to spare
        yield
        return
    import torch

    with _swap:
        standin = None if NAME in sys.modules else _StandIn(NAME, __doc__)
        if standin is not None:
            standin.__spec__ = importlib.util.find_spec(NAME)  # the real one's, for importlib.util.find_spec
            sys.modules[NAME] = standin
            torch._dynamo = standin
    try:
        yield
    finally:
        if standin is not None:
            with _swap:
                _drop(torch, standin)
