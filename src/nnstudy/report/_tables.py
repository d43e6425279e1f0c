"""Plain-text writers: results.csv, trials.csv, report.md, results.tex."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from . import _per_class, _pivot, _robust_cells
from ._atomic import write_atomic
from ._cells import (TIED, comparison_texts, counts_line, key_text, ranking_line, results_header, results_rows,
                     selection_line, text_columns, time_line)
from ._format import latex_escape, latex_mean_se, md_escape, one_line
from ._stats import Analysis, trials_table


def write_csvs(a: Analysis, out_dir: Path) -> list[Path]:
    results, trials = out_dir / "results.csv", out_dir / "trials.csv"
    write_atomic(results, a.summary.to_csv(index=False))
    write_atomic(trials, trials_table(a.snap).to_csv(index=False))
    return [results, trials]


# ---------------------------------------------------------------- Markdown


def _md_cell(s: str) -> str:
    return md_escape(one_line(s, 10_000))


def _md_text(s: str) -> str:
    return md_escape(str(s).replace("\r", "").strip(), cell=False)


def markdown(a: Analysis, captions: dict[str, str]) -> str:
    s = a.snap
    lines = [f"# {md_escape(one_line(s.name, 200))}", ""]
    if s.description:
        lines += [_md_text(s.description), ""]
    lines += [f"**{counts_line(a)}**", ""]
    if selection_line(a):
        lines += [_md_text(selection_line(a)), ""]
    dates = [f"{k} {v}" for k, v in (("created", s.created_at), ("updated", s.updated_at)) if v]
    if dates:
        lines += ["Study " + ", ".join(dates) + ".", ""]
    if time_line(a):
        lines += [time_line(a) + ".", ""]
    from ._conditions import mixed_timing_line

    if mixed_timing_line(s, s.metrics):
        lines += [_md_text(mixed_timing_line(s, s.metrics)), ""]
    lines += ["## Results", "", ranking_line(a), ""]
    if _robust_cells.race_line(a):
        lines += [_md_text(_robust_cells.race_line(a)), ""]
    header, rows = results_header(a), results_rows(a)
    nkeys = text_columns(a)
    lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    lines.append("|" + "|".join("---:" if j >= nkeys else "---" for j in range(len(header))) + "|")
    for cells in rows:
        out = [_md_cell(c.text) for c in cells]
        out = [f"**{t}**" if c.bold and t else t for t, c in zip(out, cells)]
        out = [f"{t} {TIED}" if c.tied else t for t, c in zip(out, cells)]
        lines.append("| " + " | ".join(out) + " |")
    lines.append("")
    if a.comparison_note():
        lines += [_md_text(a.comparison_note()), ""]
    lines += _md_robust(a)
    lines += _md_pivots(a)
    lines += _md_per_class(a)
    if captions:
        lines += ["## Figures", ""]
        for name, cap in captions.items():
            alt = md_escape(one_line(cap, 10_000), cell=False)
            lines += [f"![{alt}](figures/{name})", "", f"*{_md_cell(cap)}*", ""]
    probs = a.problems()
    if len(probs):
        lines += ["## Failed and diverged trials", ""]
        for _, r in probs.iterrows():
            lines.append(f"- `{r['trial_id']}` ({_md_cell(_where(a, r))}): **{r['status']}** — "
                         f"{_md_cell(r['error']) if isinstance(r['error'], str) and r['error'] else 'no error recorded'}")
        lines.append("")
    return "\n".join(lines)


def _md_pivots(a: Analysis) -> list[str]:
    """A two-key grid's pivot tables, one per report metric (report/_pivot.py)."""
    lines = []
    for p in _pivot.pivots(a):
        lines += [f"### {_md_cell(p.metric)}: {_md_cell(p.row_key)} × {_md_cell(p.col_key)}", ""]
        head = _pivot.header(p)
        lines.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
        lines.append("|---|" + "|".join("---:" for _ in head[1:]) + "|")
        for j, row in enumerate(_pivot.body(p)):
            out = [_md_cell(c) for c in row]
            if p.best and p.best[0] == j:
                out[p.best[1] + 1] = f"**{out[p.best[1] + 1]}**"
            lines.append("| " + " | ".join(out) + " |")
        lines += ["", _md_cell(_pivot.caption(p)), ""]
    return lines


def _md_per_class(a: Analysis) -> list[str]:
    """A classifier's per-class precision, recall, F1 and support (report/_per_class.py)."""
    lines = []
    for t in _per_class.per_class(a):
        lines += [f"### {_md_cell(_per_class.title(a, t))}", "",
                  "| " + " | ".join(_per_class.HEADER) + " |", "|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _per_class.cells(t)]
        lines.append("")
    return lines


def _md_robust(a: Analysis) -> list[str]:
    """The power sentence, then the table of paired tests, robust intervals and power."""
    if not _robust_cells.shown(a):
        return []
    header, rows = _robust_cells.robust_table(a)
    notes = _robust_cells.notes(a)
    lines = [_md_text(n) for n in notes[1:]] + [""] if len(notes) > 1 else []
    lines += [f"## {_robust_cells.TITLE}", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    lines.append("|" + "|".join("---" if j in (0, 2) else "---:" for j in range(len(header))) + "|")  # 2: test
    for i, (cells, tied) in enumerate(zip(rows, _robust_cells.tied_rows(a))):
        out = [_md_cell(t) for t, _ in cells]
        out[0] = f"**{out[0]}**" if i == a.best else out[0] + (f" {TIED}" if tied else "")
        lines.append("| " + " | ".join(out) + " |")
    return lines + ["", _md_cell(notes[0]), ""]


def _where(a: Analysis, r) -> str:
    label = a.labels[int(r["config"])] if a.keys else ""
    seed = "" if pd.isna(r["seed"]) else f"seed {r['seed']}"
    return ", ".join(x for x in (label, seed) if x)


# ---------------------------------------------------------------- LaTeX


def latex(a: Analysis) -> str:
    metrics = a.snap.metrics
    header = [latex_escape(h) for h in results_header(a)[:text_columns(a)]] + ["$n$"] + \
        [latex_escape(m) for m in metrics] + ["rank"]
    if a.tested:
        header += [f"$\\Delta$ {latex_escape(a.metric)}", "$p$", "$p_{\\mathrm{Holm}}$"]
    spec = "l" * text_columns(a) + "r" * (len(header) - text_columns(a))
    label = re.sub(r"[^a-z0-9-]+", "-", a.snap.name.lower()).strip("-") or "study"
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{table}[ht]",
        "\\centering",
        f"\\caption{{{_latex_caption(a)}}}",
        f"\\label{{tab:{label}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(header) + " \\\\",
        "\\midrule",
    ]
    for i, r in a.summary.iterrows():
        cells = [latex_escape(a.given[i] or "")] if a.labelled else []
        cells += [latex_escape(key_text(a, i, k)) for k in a.keys] + [str(int(r["n"]))]
        tied = not pd.isna(r["tied"]) and bool(r["tied"])
        for j, m in enumerate(metrics):
            first = j == 0
            cells.append(latex_mean_se(r[f"{m}_mean"], r[f"{m}_sem"], m, bold=first and i == a.best,
                                       tied=first and tied))
        cells.append("" if pd.isna(r["rank"]) else str(int(r["rank"])))
        if a.tested:
            cells += [_latex_text(t) for t in comparison_texts(a, r)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def _latex_caption(a: Analysis) -> str:
    text = f"{latex_escape(one_line(a.snap.name, 200))}: mean $\\pm$ standard error over seeds"
    if a.metric:
        text += f", ranked by {latex_escape(a.rank_metric)}; best in bold"
    if a.tested:
        text += (f". $\\Delta$: difference to the best; $p$: Welch's $t$-test against the best, "
                 f"$p_{{\\mathrm{{Holm}}}}$ Holm-corrected; $^\\dagger$ not significantly different "
                 f"from the best ($\\alpha = 0.05$)")
    elif a.comparison_note():
        text += ". No significance test is possible with fewer than two seeds"
    return text


def _latex_text(s: str) -> str:
    """'−0.0120' -> '$-0.0120$', '<0.001' -> '$<0.001$', '—' -> '--'."""
    if s == "—":
        return "--"
    return "$" + s.replace("−", "-") + "$"


_UNICODE = {"Δ": "$\\Delta$", "α": "$\\alpha$", "≈": "$\\approx$", "–": "--", "−": "$-$", "≥": "$\\geq$", "±": "$\\pm$",
            "×": "$\\times$"}


def _latex_unicode(s: str) -> str:
    return "".join(_UNICODE.get(ch, ch) for ch in s)


def latex_robust(a: Analysis) -> str:
    """The second table of results.tex: paired tests, robust intervals and power ('' when not shown)."""
    if not _robust_cells.shown(a):
        return ""
    header, rows = _robust_cells.robust_table(a)
    label = re.sub(r"[^a-z0-9-]+", "-", a.snap.name.lower()).strip("-") or "study"
    notes = _robust_cells.notes(a)
    caption = _latex_unicode(" ".join(latex_escape(n) for n in notes[1:] + notes[:1]))
    lines = ["\\begin{table}[ht]", "\\centering", "\\small",
             f"\\caption{{{latex_escape(one_line(a.snap.name, 200))}: {latex_escape(_robust_cells.TITLE.lower())}. "
             f"{caption}}}", f"\\label{{tab:{label}-robust}}",
             f"\\begin{{tabular}}{{lrl{'r' * (len(header) - 3)}}}", "\\toprule",
             " & ".join(_latex_unicode(latex_escape(h)) for h in header) + " \\\\", "\\midrule"]
    for i, (cells, tied) in enumerate(zip(rows, _robust_cells.tied_rows(a))):
        out = [latex_escape(cells[0][0])] + [_latex_text(t) if t and t[0] in "−0123456789<—" else latex_escape(t)
                                              for t, _ in cells[1:]]
        if i == a.best:
            out[0] = f"\\textbf{{{out[0]}}}"
        elif tied:
            out[0] += "$^{\\dagger}$"
        lines.append(" & ".join(out) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def latex_pivots(a: Analysis) -> str:
    """A two-key grid's pivot tables for results.tex ('' when the study has none)."""
    label = re.sub(r"[^a-z0-9-]+", "-", a.snap.name.lower()).strip("-") or "study"
    out = []
    for n, p in enumerate(_pivot.pivots(a)):
        head = _pivot.header(p)
        lines = ["\\begin{table}[ht]", "\\centering",
                 f"\\caption{{{latex_escape(one_line(a.snap.name, 200))}: "
                 f"{_latex_unicode(latex_escape(_pivot.caption(p)))}}}",
                 f"\\label{{tab:{label}-pivot-{n + 1}}}", f"\\begin{{tabular}}{{l{'r' * (len(head) - 1)}}}",
                 "\\toprule", " & ".join(latex_escape(h) for h in head) + " \\\\", "\\midrule"]
        for j, row in enumerate(_pivot.body(p)):
            cells = [latex_escape(row[0])] + [_latex_text(c.replace(" ± ", " \\pm ")) for c in row[1:]]
            if p.best and p.best[0] == j:
                cells[p.best[1] + 1] = f"\\textbf{{\\boldmath{cells[p.best[1] + 1]}}}"
            lines.append(" & ".join(cells) + " \\\\")
        out.append("\n".join(lines + ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]))
    return "\n".join(out)


def write_texts(a: Analysis, out_dir: Path, captions: dict[str, str]) -> list[Path]:
    md, tex = out_dir / "report.md", out_dir / "results.tex"
    write_atomic(md, markdown(a, captions))
    robust, pivots = latex_robust(a), latex_pivots(a)
    write_atomic(tex, latex(a) + ("\n" + robust if robust else "") + ("\n" + pivots if pivots else ""))
    return [md, tex]


__all__ = ["write_csvs", "write_texts", "markdown", "latex"]
