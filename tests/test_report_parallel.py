"""Figures drawn by forked workers give what drawing them in turn gives: captions in order, the same files,
the warnings of a figure that fails, and a failed write that stops the report."""

import errno
import os
import time
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


def test_workers_start_drawing_before_this_process_asks(tmp_path, monkeypatch):
    """start() returns with the workers drawing: the report's tables are made meanwhile."""
    monkeypatch.setattr(_draw_all, "_workers", lambda n: 2)
    flag = tmp_path / "tables-written"

    def waits_for_the_tables(path: Path):  # taken by the worker (this process takes jobs only when it finishes)
        for _ in range(600):
            if flag.exists():
                return "drawn beside the tables"
            time.sleep(0.1)
        return "drawn after"

    finish = _draw_all.start([("w.png", waits_for_the_tables), *_jobs()[:3]], tmp_path)
    flag.write_text("done")
    out = finish()
    assert [o[0] for o in out] == ["w.png", "a.txt", "b.txt", "bad.png"]
    assert out[0][1] == "drawn beside the tables"


def test_a_job_whose_worker_died_is_drawn_here(tmp_path, monkeypatch):
    monkeypatch.setattr(_draw_all, "_workers", lambda n: 2)
    here, taken = os.getpid(), tmp_path / "taken-by-the-worker"

    def dies_in_a_worker(path: Path):
        if os.getpid() != here:
            taken.write_text("")
            os._exit(1)  # a crash (segfault, out of memory) takes the worker and the job it held
        path.write_text("x")
        return "drawn here"

    finish = _draw_all.start([("x.png", dies_in_a_worker), *_jobs()], tmp_path)
    for _ in range(600):  # this process takes jobs only in finish(): the worker has taken the first one
        if taken.exists():
            break
        time.sleep(0.1)
    out = finish()
    assert taken.exists()
    assert [o[1] for o in out] == ["drawn here", "caption of a", "caption of b", None, "caption of c", None]
    assert (tmp_path / "x.png").read_text() == "x"
