"""Figures drawn by forked workers give what drawing them in turn gives: captions in order, the same files,
the warnings of a figure that fails, and a failed write that stops the report."""

import errno
import warnings
from pathlib import Path

import pytest

from nnstudy.report import _draw_all
from nnstudy.report._figures import ReportWarning


def _jobs():
    def write(text):
        def draw(path: Path):
            path.write_text(text)
            return f"caption of {text}"
        return draw

    def broken(path: Path):
        warnings.warn("an artifact unreadable", ReportWarning)
        raise ValueError("no data")

    return [("a.txt", write("a")), ("b.txt", write("b")), ("bad.png", broken), ("c.txt", write("c")),
            ("none.png", lambda p: None)]


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_drawing_equals_drawing_in_turn(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(_draw_all, "_workers", lambda n: workers)
    out = _draw_all.draw_all(_jobs(), tmp_path)
    assert [o[0] for o in out] == ["a.txt", "b.txt", "bad.png", "c.txt", "none.png"]
    assert [o[1] for o in out] == ["caption of a", "caption of b", None, "caption of c", None]
    assert [(tmp_path / n).read_text() for n in ("a.txt", "b.txt", "c.txt")] == ["a", "b", "c"]
    said = out[2][2]
    assert [m for m, _ in said] == ["an artifact unreadable", "figure bad.png skipped: ValueError: no data"]
    assert all(c is ReportWarning for _, c in said) and all(o[3] is None for o in out)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_write_is_returned_to_stop_the_report(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(_draw_all, "_workers", lambda n: workers)

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    out = _draw_all.draw_all([("x.png", full), ("y.png", lambda p: "y")], tmp_path)
    assert out[0][3] == (errno.ENOSPC, "No space left on device", str(tmp_path / "x.png"))
    assert out[1][1] == "y"


def test_workers_only_where_forking_is_safe(monkeypatch):
    assert _draw_all._workers(3) == 1  # too few figures to be worth a pool
    monkeypatch.setattr(_draw_all.threading, "active_count", lambda: 2)
    assert _draw_all._workers(10) == 1  # another thread runs: no fork
