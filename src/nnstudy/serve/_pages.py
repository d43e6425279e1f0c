"""The dashboard's HTML: built here from the views' data, every stored string escaped (descriptions, errors,
labels, names). Charts are small inline SVG drawn here, so the page needs no charting library."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from ..report._format import format_mean_se

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
POLL_MS = 2000
GONE = ' <span class="stale">(its process is gone: the trial runs again next time)</span>'


def e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def study_href(name: str) -> str:
    return "/study?name=" + quote(name, safe="")


def page(title: str, live_src: str, body: str) -> str:
    return "\n".join([
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{e(title)} · nnstudy</title>", '<link rel="stylesheet" href="/static/dashboard.css">',
        '<script src="/static/dashboard.js" defer></script>', "</head>", "<body><main>",
        '<header class="top"><a href="/">nnstudy</a><span class="muted">live, read-only</span>'
        '<span id="state" class="muted"></span></header>',
        f'<div id="live" data-src="{e(live_src)}" data-every="{POLL_MS}">{body}</div>',
        "</main></body></html>"])


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def studies_part(rows: list[dict[str, Any]], where: str) -> str:
    out = [f"<h1>Studies</h1><p class=\"muted\">store {e(where)}</p>"]
    if not rows:
        return out[0] + "<p>No study in this store yet.</p>"
    out.append('<div class="table-wrap"><table id="studies"><thead><tr><th>study</th><th>progress</th>'
               "<th>done</th><th>failed</th><th>diverged</th><th>running</th><th>pending</th><th>total</th>"
               "<th>updated</th><th>description</th></tr></thead><tbody>")
    for r in rows:
        epochs = ", ".join(str(x) for x in r["running_epochs"][:3]) + (", …" if len(r["running_epochs"]) > 3 else "")
        running = f'{r["running"]}' + (f' <span class="muted">(epoch {e(epochs)})</span>' if epochs else "")
        parent = f' <span class="muted">variant of {e(r["parent"])}</span>' if r.get("parent") else ""
        out.append(
            f'<tr data-study="{e(r["name"])}"><td><a href="{e(study_href(r["name"]))}">{e(r["name"])}</a>{parent}'
            f'</td><td><progress max="{r["total"]}" value="{r["finished"]}"></progress> '
            f'{r["finished"]}/{r["total"]}</td><td class="num">{r["done"]}</td><td class="num">{r["failed"]}</td>'
            f'<td class="num">{r["diverged"]}</td><td class="num">{running}</td><td class="num">{r["pending"]}</td>'
            f'<td class="num">{r["total"]}</td><td>{e(r["updated_at"])}</td><td class="desc">{e(r["description"])}'
            f"</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def study_part(s: dict[str, Any]) -> str:
    c = s["counts"]
    finished = c.get("done", 0) + c.get("failed", 0) + c.get("diverged", 0)
    head = (f'<h1 id="name">{e(s["name"])}</h1><p class="desc" id="description">{e(s["description"])}</p>'
            f'<p><progress max="{c.get("total", 0)}" value="{finished}">'
            f'</progress> <span id="counts" data-done="{c.get("done", 0)}" data-running="{c.get("running", 0)}" '
            f'data-total="{c.get("total", 0)}">{c.get("done", 0)} done, {c.get("failed", 0)} failed, '
            f'{c.get("diverged", 0)} diverged, {c.get("running", 0)} running, {c.get("pending", 0)} pending of '
            f'{c.get("total", 0)}</span> <a href="/api/study?name={e(quote(s["name"], safe=""))}">JSON</a></p>')
    return "".join([head, results_part(s), curves_part(s), running_part(s), problems_part(s), figures_part(s)])


def results_part(s: dict[str, Any]) -> str:
    rows = s["results"]
    out = ["<h2>Results</h2>"]
    if not rows or not any(r.get("n") for r in rows):
        return out[0] + '<p class="muted">No trial done yet.</p>'
    keys, metrics = s["swept_keys"], [m for m in s["metrics"] if f"{m}_mean" in rows[0]]
    out.append('<p class="muted">mean ± standard error over seeds; the same numbers as results.csv</p>'
               '<div class="table-wrap"><table id="results"><thead><tr>'
               + "".join(f"<th>{e(k)}</th>" for k in keys) + "<th>n</th>"
               + "".join(f"<th>{e(m)}</th>" for m in metrics) + "<th>rank</th><th>p (Holm)</th></tr></thead><tbody>")
    for i, r in enumerate(rows):
        cells = "".join(f"<td>{e(r.get(k))}</td>" for k in keys)
        cells += f'<td class="num">{e(r.get("n"))}</td>'
        cells += "".join(f'<td class="num">{mean_se(r, m)}</td>' for m in metrics)
        rank, p = r.get("rank"), r.get("p_holm")
        cells += f'<td class="num">{"" if rank is None else int(rank)}</td>'
        cells += f'<td class="num">{"" if p is None else f"{p:.3g}"}</td>'
        best = ' class="best"' if s.get("best") == i else ""
        out.append(f"<tr{best}>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def mean_se(row: dict[str, Any], metric: str) -> str:
    mean = row.get(metric + "_mean")
    return "" if mean is None else e(format_mean_se(mean, row.get(metric + "_sem"), metric))


def curves_part(s: dict[str, Any]) -> str:
    curves = s["curves"]
    out = ["<h2>Learning curves</h2>"]
    if not curves:
        return out[0] + '<p class="muted">No epoch stored yet.</p>'
    out.append('<p class="muted">mean ± standard error over the done and running trials of each configuration, '
               "per epoch so far</p><div class=\"curves\">")
    for metric, lines in curves.items():
        out.append(f"<figure>{svg_chart(metric, lines)}<figcaption>{e(metric)}</figcaption></figure>")
    out.append("</div>")
    labels = {line["config"]: line["label"] for lines in curves.values() for line in lines}
    out.append('<ul class="legend">' + "".join(
        f'<li><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" '
        f'fill="{PALETTE[i % len(PALETTE)]}"/></svg>{e(label)}</li>' for i, label in sorted(labels.items())) + "</ul>")
    return "".join(out)


def svg_chart(metric: str, lines: list[dict[str, Any]], width: int = 520, height: int = 260) -> str:
    left, right, top, bottom = 56, 12, 10, 30
    xs = [x for line in lines for x in line["epoch"]]
    ys = [v for line in lines for m, se in zip(line["mean"], line["sem"]) if m is not None
          for v in (m - (se or 0.0), m + (se or 0.0))]
    if not xs or not ys:
        return ""
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{e(metric)} per epoch" data-metric="{e(metric)}">',
           f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
           f'fill="none" stroke="#c9ced6"/>']
    for frac in (0.0, 0.5, 1.0):
        y = y0 + frac * (y1 - y0)
        out.append(f'<text x="{left - 4}" y="{py(y) + 4:.1f}" font-size="10" text-anchor="end" fill="#50565f">'
                   f"{y:.3g}</text>")
    for x in sorted({x0, x1, (x0 + x1) // 2}):
        out.append(f'<text x="{px(x):.1f}" y="{height - 10}" font-size="10" text-anchor="middle" fill="#50565f">'
                   f"{int(x)}</text>")
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height}" font-size="10" text-anchor="middle" '
               f'fill="#50565f">epoch</text>')
    for line in lines:
        color = PALETTE[line["config"] % len(PALETTE)]
        pts = [(x, m, se or 0.0) for x, m, se in zip(line["epoch"], line["mean"], line["sem"]) if m is not None]
        if not pts:
            continue
        band = [f"{px(x):.1f},{py(m + se):.1f}" for x, m, se in pts] + \
               [f"{px(x):.1f},{py(m - se):.1f}" for x, m, se in reversed(pts)]
        out.append(f'<polygon points="{" ".join(band)}" fill="{color}" fill-opacity="0.18" stroke="none"/>')
        out.append(f'<polyline class="curve" data-config="{line["config"]}" data-points="{len(pts)}" '
                   f'points="{" ".join(f"{px(x):.1f},{py(m):.1f}" for x, m, _ in pts)}" fill="none" '
                   f'stroke="{color}" stroke-width="1.6"><title>{e(line["label"])}</title></polyline>')
    out.append("</svg>")
    return "".join(out)


def running_part(s: dict[str, Any]) -> str:
    rows = s["running"]
    out = ["<h2>Running</h2>"]
    if not rows:
        return out[0] + '<p class="muted">No trial running.</p>'
    out.append('<div class="table-wrap"><table id="running"><thead><tr><th>trial</th><th>configuration</th>'
               "<th>seed</th><th>epoch</th><th>running for</th><th>ETA</th><th>where</th></tr></thead><tbody>")
    for r in rows:
        planned = "-" if r["epochs"] is None else r["epochs"]  # a kind that fits once plans no epochs
        out.append(f'<tr data-trial="{e(r["trial_id"])}"><td><code>{e(r["trial_id"])}</code></td>'
                   f'<td>{e(r["label"])}</td>'
                   f'<td class="num">{e(r["seed"])}</td><td class="num">{r["epoch"]}/{planned}</td>'
                   f'<td class="num">{clock(r["elapsed_s"])}</td><td class="num">{clock(r["eta_s"])}</td>'
                   f'<td>{e(r["owner"])}{"" if r["alive"] else GONE}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def problems_part(s: dict[str, Any]) -> str:
    rows = s["problems"]
    if not rows:
        return ""
    out = ['<h2>Failed and diverged</h2><p class="muted"><code>nnstudy show TRIAL</code> prints a failed trial\'s '
           'traceback</p><div class="table-wrap"><table id="problems"><thead><tr><th>trial</th><th>status</th>'
           "<th>configuration</th><th>seed</th><th>error</th></tr></thead><tbody>"]
    for r in rows:
        out.append(f'<tr><td><code>{e(r["trial_id"])}</code></td><td>{e(r["status"])}</td><td>{e(r["label"])}</td>'
                   f'<td class="num">{e(r["seed"])}</td><td><pre class="error">{e(r["error"])}</pre></td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def figures_part(s: dict[str, Any]) -> str:
    if not s["figures"]:
        return ""
    name = quote(s["name"], safe="")
    out = ['<h2>Report figures</h2><p class="muted">as the last <code>nnstudy run</code> or '
           "<code>nnstudy report</code> wrote them</p>"]
    for f in s["figures"]:
        src = f"/figure?study={name}&file={quote(f, safe='')}"
        out.append(f'<figure><img src="{e(src)}" alt="{e(f)}" loading="lazy"><figcaption>{e(f)}</figcaption></figure>')
    return "".join(out)


def message_part(title: str, text: str) -> str:
    return f"<h1>{e(title)}</h1><p>{e(text)}</p>"
