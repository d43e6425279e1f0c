"""The report's modules imported in a thread while a GPU trains (nnstudy._prefetch)."""

from __future__ import annotations

import sys

from nnstudy import _prefetch


def test_a_gpu_run_imports_the_report_modules_in_a_thread_and_a_cpu_run_does_not(monkeypatch):
    monkeypatch.setattr(_prefetch, "MODULES", ("colorsys", "no_such_module_here", "this"))
    for name in ("colorsys", "this"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert _prefetch.start("cpu") is None and "colorsys" not in sys.modules
    thread = _prefetch.start("cuda:0")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules  # imported in the thread
    assert "this" not in sys.modules  # a module that fails to import ends the prefetch quietly
    assert set(_prefetch.MODULES) >= {"colorsys"}


def test_the_prefetched_modules_exist():
    import importlib.util

    assert all(importlib.util.find_spec(name) is not None for name in _prefetch.MODULES)
