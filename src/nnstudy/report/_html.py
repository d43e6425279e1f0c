"""report.html: one self-contained page (inline CSS, figures as base64 data URIs, no URLs)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import pandas as pd

from ._format import format_number, value_text
from ._stats import Analysis, trials_table
from ._tables import counts_line, ranking_line, table_cells

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1d1f23; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.8em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.3em; margin: 1.8em 0 0.6em; padding-bottom: 0.2em; border-bottom: 1px solid #d5d8dd; }
.desc { white-space: pre-line; font-size: 1.05em; color: #30343a; }
.muted { color: #5a6069; font-size: 0.92em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.meta dt { font-weight: 600; color: #444a52; }
dl.meta dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 0.92em; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e1e4e8; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #1d1f23; background: #f4f5f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { background: #eef6ee; }
td.err { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em;
  white-space: pre-wrap; word-break: break-word; max-width: 560px; }
.status-failed { color: #a1260d; font-weight: 600; }
.status-diverged { color: #8a5a00; font-weight: 600; }
figure { margin: 18px 0 26px; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
figcaption { font-size: 0.9em; color: #444a52; margin-top: 6px; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 12px 14px; overflow-x: auto;
  font-size: 0.85em; line-height: 1.4; white-space: pre-wrap; word-break: break-word; }
details summary { cursor: pointer; color: #30343a; font-weight: 600; margin: 8px 0; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, pre { break-inside: avoid; }
  details > *:not(summary) { display: block; }
}
"""


def _e(x) -> str:
    return escape("" if x is None else str(x), quote=True)


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _header(a: Analysis) -> list[str]:
    s = a.snap
    out = [f"<header><h1>{_e(s.name)}</h1>"]
    if s.description:
        out.append(f'<p class="desc">{_e(s.description)}</p>')
    meta = [("trials", counts_line(a)), ("task", s.task), ("created", s.created_at),
            ("updated", s.updated_at)]
    out.append('<dl class="meta">')
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta if v]
    out.append("</dl>")
    if s.environment:
        out.append('<table class="env"><thead><tr><th>environment</th><th></th></tr></thead><tbody>')
        out += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in s.environment.items()]
        out.append("</tbody></table>")
    out.append("</header>")
    return out


def _results(a: Analysis) -> list[str]:
    header, rows, bold = table_cells(a)
    nkeys = len(a.keys)
    out = ["<section><h2>Results</h2>", f'<p class="muted">{_e(ranking_line(a))}</p>',
           '<div class="table-wrap"><table class="results"><thead><tr>']
    num = ' class="num"'
    out += [f"<th{num if j >= nkeys else ''}>{_e(h)}</th>" for j, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for cells, flags in zip(rows, bold):
        cls = ' class="best"' if any(flags) else ""
        tds = []
        for j, (c, b) in enumerate(zip(cells, flags)):
            body = f"<strong>{_e(c)}</strong>" if b else _e(c)
            tds.append(f"<td{num if j >= nkeys else ''}>{body}</td>")
        out.append(f"<tr{cls}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div></section>")
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
           '<div class="table-wrap"><table><thead><tr>']
    out += [f"<th>{_e(c)}</th>" for c in cols]
    out.append("</tr></thead><tbody>")
    for _, r in t.iterrows():
        cells = [f"<td><code>{_e(r['trial_id'])}</code></td>",
                 f'<td class="num">{_e("" if pd.isna(r["seed"]) else r["seed"])}</td>',
                 f"<td>{_e(r['status'])}</td>"]
        cells += [f"<td>{_e(value_text(r[k]))}</td>" for k in a.keys]
        cells += [f'<td class="num">{_e(format_number(r[m], m))}</td>' for m in metrics]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div></details></section>")
    return out


def _source(a: Analysis) -> list[str]:
    s = a.snap
    if s.source:
        return ["<section><h2>Study file</h2>", f"<pre>{_e(s.source)}</pre></section>"]
    if s.spec:
        text = json.dumps(s.spec, indent=2, default=str)
        return ["<section><h2>Study (resolved, JSON)</h2>", f"<pre>{_e(text)}</pre></section>"]
    return []


def html_page(a: Analysis, captions: dict[str, str], fig_dir: Path) -> str:
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(a.snap.name)} · nnstudy report</title>", f"<style>{CSS}</style>",
             "</head><body><main>"]
    parts += _header(a) + _results(a) + _figures(captions, fig_dir) + _problems(a)
    parts += _all_trials(a) + _source(a)
    parts += ['<p class="muted">Written by nnstudy.</p>', "</main></body></html>", ""]
    return "\n".join(parts)


def write_html(a: Analysis, out_dir: Path, captions: dict[str, str]) -> Path:
    path = out_dir / "report.html"
    path.write_text(html_page(a, captions, out_dir / "figures"), encoding="utf-8")
    return path
