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
    thread.join(timeout=0.3)
    assert thread.is_alive() and "colorsys" not in sys.modules  # waiting while models and graphs are built
    _prefetch.training()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules  # imported in the thread
    assert "this" not in sys.modules  # a module that fails to import ends the prefetch quietly
    assert set(_prefetch.MODULES) >= {"colorsys"}


def test_the_prefetched_modules_exist():
    import importlib.util

    assert all(importlib.util.find_spec(name) is not None for name in _prefetch.MODULES)


def test_a_run_that_never_says_it_trains_imports_at_the_join(monkeypatch):
    monkeypatch.setattr(_prefetch, "MODULES", ("colorsys",))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    thread = _prefetch.start("cuda")
    _prefetch.join(thread)
    assert not thread.is_alive() and "colorsys" in sys.modules


def test_a_stack_lets_the_imports_begin_once_it_is_built(monkeypatch, tmp_path):
    """The stacked trainer builds its models and (on CUDA) captures its graphs before the imports may start."""
    import io

    from rich.console import Console

    import nnstudy
    from nnstudy.engines._torch import _stack_step

    events = []
    monkeypatch.setattr(_prefetch, "training", lambda: events.append("training"))
    built = _stack_step.Stepper.__init__

    def init(self, *args, **kwargs):
        built(self, *args, **kwargs)
        events.append("built")

    monkeypatch.setattr(_stack_step.Stepper, "__init__", init)
    nnstudy.run({"study": {"name": "prefetch"}, "data": {"name": "moons", "n_samples": 200},
                 "model": {"hidden": [4]}, "train": {"epochs": 2, "batch_size": 50}, "trials": {"seeds": 2}},
                store=tmp_path / "s.db", stack="on", console=Console(file=io.StringIO()))
    assert events[:2] == ["built", "training"]


def test_a_stack_trains_before_pandas_is_imported(tmp_path):
    """pandas is the report's (and the prefetch thread's, on a GPU): a run's start does without it."""
    import subprocess

    code = ("import sys, io, rich.console, nnstudy\n"
            "from nnstudy.engines._torch import _stack_step\n"
            "seen, epoch = [], _stack_step.Stepper.epoch\n"
            "def first(self, *a, **k):\n"
            "    seen.append('pandas' in sys.modules)\n"
            "    return epoch(self, *a, **k)\n"
            "_stack_step.Stepper.epoch = first\n"
            "nnstudy.run({'study': {'name': 'p'}, 'data': {'name': 'moons', 'n_samples': 200}, 'model': {'hidden': [4]},"
            " 'train': {'epochs': 1, 'batch_size': 50}, 'trials': {'seeds': 2}}, store=sys.argv[1], stack='on',"
            " console=rich.console.Console(file=io.StringIO()))\n"
            "print(seen[0], 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.db")], capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]
