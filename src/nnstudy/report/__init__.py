"""The report: tables (mean ± SE over seeds) and figures from a StudySnapshot.

`write_report(snap, out_dir)` writes results.csv, trials.csv, report.md, results.tex,
report.html and figures/*.png; `summarize(snap)` and `trials_table(snap)` return the two CSV
tables as DataFrames. `select` + `compare_sides` put two configurations side by side
(`nnstudy compare`).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

from .._paths import unusable
from .._text import cap
from ..errors import StudyError
from ..store._snapshot import Artifact, StudySnapshot
from ._format import format_mean_se
from ._stats import add_tests, analyze, higher_is_better, summarize, trials_table

if TYPE_CHECKING:
    from ._early_tests import EarlyTests

__all__ = ["write_report", "check_out_dir", "summarize", "trials_table", "format_mean_se", "higher_is_better",
           "ReportWarning", "StudySnapshot", "Artifact", "Comparison", "compare_sides", "parse_where",
           "select", "terminal_table", "write_comparison"]

_LATER = {"Comparison": "._compare", "compare_sides": "._compare", "parse_where": "._compare", "select": "._compare",
          "terminal_table": "._compare_write", "write_comparison": "._compare_write", "ReportWarning": "._figures"}


def __getattr__(name: str):
    """`nnstudy compare`'s functions and the figures' module (matplotlib), imported when first used: the report's
    statistics fork a process before matplotlib is imported (_early_tests.py), its figure workers without
    `compare`'s modules."""
    if name in _LATER:
        import importlib

        return getattr(importlib.import_module(_LATER[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_report(snap: StudySnapshot, out_dir: Path | str, tests: EarlyTests | None = None) -> list[Path]:
    """Write every report file into `out_dir` (created); return the paths written.

    Figures without data (no history, no swept keys, no artifacts, ...) are skipped; a figure
    that fails to draw is skipped with a `ReportWarning` and the rest is still written. `tests`: the process
    that completes the summary (`nnstudy report`: _early_tests.start), else it is completed here.
    """
    from ._figures import start_figures

    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    a = analyze(snap, tests=False)
    if tests is not None:
        tests.send(a)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        drawn = start_figures(a, out_dir / "figures")  # forked workers draw while this process does the tables:
        from ._html import write_html
        from ._tables import write_csvs, write_texts

        if tests is None:
            add_tests(a)  # the summary's intervals, tests, bootstrap and power (no figure uses them), with scipy
            captions = None
        else:
            captions = drawn()  # this process draws beside its workers while the other process tests
            tests.complete(a)
        written = write_csvs(a, out_dir)
        captions = drawn() if captions is None else captions
        written += write_texts(a, out_dir, captions)
        written.append(write_html(a, out_dir, captions))
    except OSError as e:  # a full disk, a read-only folder: each file is whole or absent (written atomically)
        room = "free some space or " if e.errno == errno.ENOSPC else ""  # not for a read-only folder
        raise StudyError(f"cannot write the report into {out_dir} ({e.strerror or e}); the study's results are "
                         f"kept in the store: {room}pass --out to another folder, then "
                         f"`nnstudy report {snap.name}`") from None
    written += [out_dir / "figures" / name for name in captions]
    return written


def check_out_dir(out_dir: Path | str) -> None:
    """A report folder that cannot be one (an existing file on its path), said before anything is read."""
    why = unusable(out_dir)
    if why:
        raise StudyError(f"--out {cap(str(out_dir), 80)}: {why}")
    for p in (Path(out_dir), *Path(out_dir).parents):
        if p.exists():
            if not p.is_dir():
                raise StudyError(f"--out {out_dir}: {p} is a file, not a folder")
            return
