"""report.html: one self-contained page (inline CSS, figures as base64 data URIs, no URLs)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import pandas as pd

from . import _per_class, _pivot, _robust_cells
from ._atomic import write_atomic
from ._cells import (TIED, counts_line, ranking_line, results_header, results_rows, selection_line, text_columns,
                     time_line)
from ._format import format_number, value_text
from ._html_assets import CSS, JS, csp
from ._stats import Analysis, trials_table

ENV_FIRST = ("nnstudy", "torch", "numpy", "device")  # shown first in the header's environment line
_NUM, _BEST = ' class="num"', ' class="best"'
_TIED = f' <span class="tied" title="not significantly different from the best">{TIED}</span>'


def _e(x) -> str:
    return escape("" if x is None else str(x), quote=True)


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _header(a: Analysis) -> list[str]:
    s = a.snap
    out = [f"<header><h1>{_e(s.name)}</h1>"]
    if s.description:
        out.append(f'<p class="desc">{_e(s.description)}</p>')
    if selection_line(a):
        out.append(f'<p class="note">{_e(selection_line(a))}</p>')
    env = [k for k in ENV_FIRST if k in s.environment] + [k for k in s.environment if k not in ENV_FIRST]
    meta = [("trials", counts_line(a)), ("task", s.task), ("created", s.created_at),
            ("updated", s.updated_at), ("time", time_line(a)),
            ("environment", ", ".join(f"{k} {s.environment[k]}" for k in env))]
    out.append('<dl class="meta">')
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta if v]
    out.append("</dl>")
    out += _source(a)
    out.append("</header>")
    return out


def _th(text: str, numeric: bool) -> str:
    return f'<th{_NUM if numeric else ""}><button type="button">{_e(text)}</button></th>'


def _data_v(v) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else _e(repr(v) if isinstance(v, float) else v)


def _results(a: Analysis) -> list[str]:
    header, rows = results_header(a), results_rows(a)
    nkeys = text_columns(a)  # the label and the swept keys
    race = _robust_cells.race_line(a)
    out = ["<section><h2>Results</h2>", f'<p class="muted">{_e(ranking_line(a))}</p>',
           *([f'<p class="note">{_e(race)}</p>'] if race else []),
           '<div class="table-wrap"><table class="results sortable"><thead><tr>']
    out += [_th(h, j >= nkeys) for j, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for i, cells in enumerate(rows):
        tds = []
        for c in cells:
            body = _e(c.text) + (_TIED if c.tied else "")
            if c.bold:
                body = f"<strong>{body}</strong>"
            tds.append(f'<td{_NUM if c.numeric else ""} data-v="{_data_v(c.value)}">{body}</td>')
        out.append(f'<tr{_BEST if i == a.best else ""}>' + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    if a.comparison_note():
        out.append(f'<p class="note">{_e(a.comparison_note())}</p>')
    out.append("</section>")
    return out


def _pivots(a: Analysis) -> list[str]:
    """A two-key grid's pivot tables (report/_pivot.py), one per report metric."""
    out = []
    for p in _pivot.pivots(a):
        out += [f"<section><h2>{_e(p.metric)}: {_e(p.row_key)} × {_e(p.col_key)}</h2>",
                '<div class="table-wrap"><table class="pivot"><thead><tr>']
        out += [_th(h, j > 0) for j, h in enumerate(_pivot.header(p))]
        out.append("</tr></thead><tbody>")
        for j, row in enumerate(_pivot.body(p)):
            tds = [f"<td>{_e(row[0])}</td>"] + [
                f"<td{_NUM}>{f'<strong>{_e(c)}</strong>' if p.best == (j, k) else _e(c)}</td>"
                for k, c in enumerate(row[1:])]
            out.append("<tr>" + "".join(tds) + "</tr>")
        out += ["</tbody></table></div>", f'<p class="note">{_e(_pivot.caption(p))}</p></section>']
    return out


def _per_class_tables(a: Analysis) -> list[str]:
    """A classifier's per-class precision, recall, F1 and support (report/_per_class.py)."""
    out = []
    for t in _per_class.per_class(a):
        out += [f"<section><h2>{_e(_per_class.title(a, t))}</h2>", '<div class="table-wrap"><table><thead><tr>']
        out += [_th(h, j > 0) for j, h in enumerate(_per_class.HEADER)]
        out.append("</tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td{_NUM if j else ''}>{_e(c)}</td>" for j, c in enumerate(row)) + "</tr>"
                for row in _per_class.cells(t)]
        out.append("</tbody></table></div></section>")
    return out


def _robust(a: Analysis) -> list[str]:
    """The power sentence, then the table of paired tests, robust intervals and power."""
    if not _robust_cells.shown(a):
        return []
    header, rows = _robust_cells.robust_table(a)
    notes = _robust_cells.notes(a)
    out = [f"<section><h2>{_e(_robust_cells.TITLE)}</h2>"]
    out += [f'<p class="note">{_e(n)}</p>' for n in notes[1:]]
    out.append('<div class="table-wrap"><table class="robust sortable"><thead><tr>')
    out += [_th(h, j not in (0, 2)) for j, h in enumerate(header)]  # 2: the test's name
    out.append("</tr></thead><tbody>")
    for i, (cells, tied) in enumerate(zip(rows, _robust_cells.tied_rows(a))):
        first = _e(cells[0][0]) + (_TIED if tied else "")
        tds = [f'<td data-v="{_e(cells[0][0])}">{f"<strong>{first}</strong>" if i == a.best else first}</td>']
        tds += [f'<td{_NUM if j != 2 else ""} data-v="{_data_v(t if j == 2 else v)}">{_e(t)}</td>'
                for j, (t, v) in enumerate(cells[1:], 1)]
        out.append(f'<tr{_BEST if i == a.best else ""}>' + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    out.append(f'<p class="note">{_e(notes[0])}</p></section>')
    return out


def _figures(captions: dict[str, str], fig_dir: Path) -> list[str]:
    if not captions:
        return []
    out = ["<section><h2>Figures</h2>"]
    for name, cap in captions.items():
        out.append(f'<figure id="{_e(Path(name).stem)}"><img src="{_img(fig_dir / name)}" '
                   f'alt="{_e(cap)}"><figcaption>{_e(cap)}</figcaption></figure>')
    out.append("</section>")
    return out


def _problems(a: Analysis) -> list[str]:
    p = a.problems()
    if p.empty:
        return []
    out = ["<section><h2>Failed and diverged trials</h2>", '<div class="table-wrap"><table><thead><tr>',
           "<th>trial</th><th>configuration</th><th>seed</th><th>status</th><th>error</th>",
           "</tr></thead><tbody>"]
    for _, r in p.iterrows():
        err = r["error"] if isinstance(r["error"], str) and r["error"] else "no error recorded"
        seed = "" if pd.isna(r["seed"]) else r["seed"]
        out.append(f"<tr><td><code>{_e(r['trial_id'])}</code></td><td>{_e(a.labels[int(r['config'])])}</td>"
                   f'<td class="num">{_e(seed)}</td><td class="status-{_e(r["status"])}">{_e(r["status"])}</td>'
                   f'<td class="err">{_e(err)}</td></tr>')
    out.append("</tbody></table></div></section>")
    return out


def _all_trials(a: Analysis) -> list[str]:
    t = trials_table(a.snap)
    if t.empty:
        return []
    metrics = [c for c in t.columns if c not in ("trial_id", "seed", "status", "error", *a.keys)]
    cols = ["trial_id", "seed", "status", *a.keys, *metrics]
    out = ["<section><h2>Trials</h2>", f"<details><summary>All {len(t)} trials</summary>",
           '<div class="table-wrap"><table class="sortable"><thead><tr>']
    out += [_th(c, c == "seed" or c in metrics) for c in cols]
    out.append("</tr></thead><tbody>")
    for _, r in t.iterrows():
        seed = None if pd.isna(r["seed"]) else int(r["seed"])
        cells = [f'<td data-v="{_e(r["trial_id"])}"><code>{_e(r["trial_id"])}</code></td>',
                 f'<td class="num" data-v="{_data_v(seed)}">{_e("" if seed is None else seed)}</td>',
                 f'<td data-v="{_e(r["status"])}">{_e(r["status"])}</td>']
        cells += [f'<td data-v="{_e(value_text(r[k]))}">{_e(value_text(r[k]))}</td>' for k in a.keys]
        cells += [f'<td class="num" data-v="{_data_v(_float(r[m]))}">{_e(format_number(r[m], m))}</td>'
                  for m in metrics]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div></details></section>")
    return out


def _float(x) -> float | None:
    try:
        return None if pd.isna(x) else float(x)
    except (TypeError, ValueError):
        return None


def _source(a: Analysis) -> list[str]:
    s = a.snap
    if s.source:
        return ["<details><summary>Study file</summary>", f"<pre>{_e(s.source)}</pre></details>"]
    if s.spec:
        text = json.dumps(s.spec, indent=2, default=str)
        return ["<details><summary>Study (resolved, JSON)</summary>", f"<pre>{_e(text)}</pre></details>"]
    return []


def html_page(a: Analysis, captions: dict[str, str], fig_dir: Path) -> str:
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{csp()}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(a.snap.name)} · nnstudy report</title>", f"<style>{CSS}</style>",
             "</head><body><main>"]
    parts += _header(a) + _results(a) + _robust(a) + _pivots(a) + _per_class_tables(a)
    parts += _figures(captions, fig_dir) + _problems(a) + _all_trials(a)
    parts += ['<p class="muted">Written by nnstudy.</p>', f"<script>{JS}</script>",
              "</main></body></html>", ""]
    return "\n".join(parts)


def write_html(a: Analysis, out_dir: Path, captions: dict[str, str]) -> Path:
    path = out_dir / "report.html"
    return write_atomic(path, html_page(a, captions, out_dir / "figures"))
