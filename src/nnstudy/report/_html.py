"""report.html: one self-contained page (inline CSS, figures as base64 data URIs, no URLs).

This module gathers what the page shows as plain values (text, numbers, flags); the Jinja2 template
``templates/report.html.j2`` lays them out and escapes every value it prints (autoescaping), so no
string from a study file, a config or an error message can become markup.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import _per_class, _pivot, _robust_cells
from ._atomic import write_atomic
from ._cells import (TIED, counts_line, ranking_line, results_header, results_rows, selection_line, text_columns,
                     time_line)
from ._format import format_number, value_text
from ._html_assets import CSS, JS, csp, safe, template
from ._stats import Analysis, trials_table

ENV_FIRST = ("nnstudy", "torch", "numpy", "device")  # shown first in the header's environment line


@dataclass(frozen=True)
class Cell:
    """One <td>: its text, its sort value (data-v; None: no attribute), its class and marks."""
    text: object
    v: object = None
    cls: str = ""
    strong: bool = False
    tied: bool = False
    code: bool = False


@dataclass(frozen=True)
class Head:
    text: str
    num: bool


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    best: bool = False


@dataclass(frozen=True)
class Table:
    header: list[Head]
    rows: list[Row]


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _sort_value(v) -> str:
    """A cell's data-v: floats as repr (full precision), missing as ''."""
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else (repr(v) if isinstance(v, float) else str(v))


def _meta(a: Analysis) -> list[tuple[str, str]]:
    s = a.snap
    env = [k for k in ENV_FIRST if k in s.environment] + [k for k in s.environment if k not in ENV_FIRST]
    meta = [("trials", counts_line(a)), ("task", s.task), ("created", s.created_at),
            ("updated", s.updated_at), ("time", time_line(a)),
            ("environment", ", ".join(f"{k} {s.environment[k]}" for k in env))]
    return [(k, v) for k, v in meta if v]


def _source(a: Analysis) -> dict | None:
    s = a.snap
    if s.source:
        return {"title": "Study file", "text": s.source}
    if s.spec:
        return {"title": "Study (resolved, JSON)", "text": json.dumps(s.spec, indent=2, default=str)}
    return None


def _results(a: Analysis) -> dict:
    nkeys = text_columns(a)  # the label and the swept keys
    rows = [Row([Cell(c.text, _sort_value(c.value), "num" if c.numeric else "", c.bold, c.tied) for c in cells],
                i == a.best) for i, cells in enumerate(results_rows(a))]
    table = Table([Head(h, j >= nkeys) for j, h in enumerate(results_header(a))], rows)
    return {"ranking": ranking_line(a), "race": _robust_cells.race_line(a), "note": a.comparison_note(),
            "header": table.header, "rows": table.rows}


def _robust(a: Analysis) -> dict | None:
    """The power sentence, then the table of paired tests, robust intervals and power."""
    if not _robust_cells.shown(a):
        return None
    header, rows = _robust_cells.robust_table(a)
    notes = _robust_cells.notes(a)
    out = []
    for i, (cells, tied) in enumerate(zip(rows, _robust_cells.tied_rows(a))):
        first = Cell(cells[0][0], cells[0][0], strong=i == a.best, tied=tied)
        out.append(Row([first] + [Cell(t, _sort_value(t if j == 2 else v), "num" if j != 2 else "")  # 2: the test
                                  for j, (t, v) in enumerate(cells[1:], 1)], i == a.best))
    return {"title": _robust_cells.TITLE, "notes": notes[1:], "note": notes[0],
            "header": [Head(h, j not in (0, 2)) for j, h in enumerate(header)], "rows": out}


def _pivots(a: Analysis) -> list[dict]:
    """A two-key grid's pivot tables (report/_pivot.py), one per report metric."""
    out = []
    for p in _pivot.pivots(a):
        rows = [Row([Cell(row[0])] + [Cell(c, cls="num", strong=p.best == (j, k)) for k, c in enumerate(row[1:])])
                for j, row in enumerate(_pivot.body(p))]
        out.append({"title": f"{p.metric}: {p.row_key} × {p.col_key}", "caption": _pivot.caption(p),
                    "header": [Head(h, j > 0) for j, h in enumerate(_pivot.header(p))], "rows": rows})
    return out


def _per_class_tables(a: Analysis) -> list[dict]:
    """A classifier's per-class precision, recall, F1 and support (report/_per_class.py)."""
    return [{"title": _per_class.title(a, t), "header": [Head(h, j > 0) for j, h in enumerate(_per_class.HEADER)],
             "rows": [Row([Cell(c, cls="num" if j else "") for j, c in enumerate(row)]) for row in _per_class.cells(t)]}
            for t in _per_class.per_class(a)]


def _figures(captions: dict[str, str], fig_dir: Path) -> list[dict]:
    return [{"id": Path(name).stem, "src": _img(fig_dir / name), "caption": cap} for name, cap in captions.items()]


def _problems(a: Analysis) -> list[list[Cell]]:
    rows = []
    for _, r in a.problems().iterrows():
        err = r["error"] if isinstance(r["error"], str) and r["error"] else "no error recorded"
        seed = "" if pd.isna(r["seed"]) else r["seed"]
        rows.append([Cell(r["trial_id"], code=True), Cell(a.labels[int(r["config"])]), Cell(seed, cls="num"),
                     Cell(r["status"], cls=f"status-{r['status']}"), Cell(err, cls="err")])
    return rows


def _all_trials(a: Analysis) -> Table | None:
    t = trials_table(a.snap)
    if t.empty:
        return None
    from ._conditions import COLUMNS as CONDITIONS  # how each trial ran: trials.csv and nnstudy show have them

    metrics = [c for c in t.columns if c not in ("trial_id", "seed", "status", "error", *a.keys, *CONDITIONS)]
    cols = ["trial_id", "seed", "status", *a.keys, *metrics]
    rows = []
    for _, r in t.iterrows():
        seed = None if pd.isna(r["seed"]) else int(r["seed"])
        cells = [Cell(r["trial_id"], r["trial_id"], code=True),
                 Cell("" if seed is None else seed, _sort_value(seed), "num"),
                 Cell(r["status"], r["status"])]
        cells += [Cell(value_text(r[k]), value_text(r[k])) for k in a.keys]
        cells += [Cell(format_number(r[m], m), _sort_value(_float(r[m])), "num") for m in metrics]
        rows.append(Row(cells))
    return Table([Head(c, c == "seed" or c in metrics) for c in cols], rows)


def _float(x) -> float | None:
    try:
        return None if pd.isna(x) else float(x)
    except (TypeError, ValueError):
        return None


def html_page(a: Analysis, captions: dict[str, str], fig_dir: Path) -> str:
    from ._conditions import mixed_timing_line  # a timing metric over trials run under different conditions

    selection = selection_line(a)
    return template("report.html.j2").render(
        csp=safe(csp()), css=safe(CSS), js=safe(JS), tied=TIED,  # ours: the policy pins style and script
        name=a.snap.name, description=a.snap.description, header_notes=[selection] if selection else [],
        meta=_meta(a), meta_notes=[n for n in [mixed_timing_line(a.snap, a.snap.metrics)] if n], source=_source(a),
        results=_results(a), robust=_robust(a), pivots=_pivots(a), per_class=_per_class_tables(a),
        figures=_figures(captions, fig_dir), problems=_problems(a), trials=_all_trials(a))


def write_html(a: Analysis, out_dir: Path, captions: dict[str, str]) -> Path:
    path = out_dir / "report.html"
    return write_atomic(path, html_page(a, captions, out_dir / "figures"))
