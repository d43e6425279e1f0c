"""Plain-text writers: results.csv, trials.csv, report.md, results.tex."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ._format import (
    format_mean_se, latex_escape, latex_mean_se, one_line, value_text,
)
from ._stats import Analysis, higher_is_better, trials_table


def write_csvs(a: Analysis, out_dir: Path) -> list[Path]:
    results, trials = out_dir / "results.csv", out_dir / "trials.csv"
    a.summary.to_csv(results, index=False)
    trials_table(a.snap).to_csv(trials, index=False)
    return [results, trials]


# ---------------------------------------------------------------- shared table cells


def table_cells(a: Analysis) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, text cells and 'bold' flags of the results table (mean ± SE per metric)."""
    metrics = a.snap.metrics
    header = [*a.keys, "n", *metrics, "rank"]
    rows, bold = [], []
    for i, r in a.summary.iterrows():
        cells = [value_text(r[k]) for k in a.keys] + [str(int(r["n"]))]
        flags = [False] * (len(a.keys) + 1)
        for j, m in enumerate(metrics):
            cells.append(format_mean_se(r[f"{m}_mean"], r[f"{m}_sem"], m))
            flags.append(j == 0 and not pd.isna(r["rank"]) and int(r["rank"]) == 1)
        cells.append("" if pd.isna(r["rank"]) else str(int(r["rank"])))
        flags.append(False)
        rows.append(cells)
        bold.append(flags)
    return header, rows, bold


def counts_line(a: Analysis) -> str:
    c = a.counts()
    total = sum(c.values())
    parts = [f"{v} {s}" for s, v in c.items() if v or s in ("done", "failed", "diverged")]
    return f"{total} trials: " + ", ".join(parts)


def ranking_line(a: Analysis) -> str:
    m = a.metric
    if m is None:
        return "No report metrics."
    d = "higher is better" if higher_is_better(m) else "lower is better"
    return (f"Cells are mean ± standard error over the seeds of each configuration (done trials only); "
            f"rank by mean {m} ({d}).")


# ---------------------------------------------------------------- Markdown


def _md_cell(s: str) -> str:
    return one_line(s, 10_000).replace("|", "\\|")


def _md_text(s: str) -> str:
    return str(s).replace("\r", "").strip()


def markdown(a: Analysis, captions: dict[str, str]) -> str:
    s = a.snap
    lines = [f"# {one_line(s.name, 200)}", ""]
    if s.description:
        lines += [_md_text(s.description), ""]
    lines += [f"**{counts_line(a)}**", ""]
    dates = [f"{k} {v}" for k, v in (("created", s.created_at), ("updated", s.updated_at)) if v]
    if dates:
        lines += ["Study " + ", ".join(dates) + ".", ""]
    lines += ["## Results", "", ranking_line(a), ""]
    header, rows, bold = table_cells(a)
    right = {"n", "rank", *a.snap.metrics}
    lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    lines.append("|" + "|".join("---:" if h in right else "---" for h in header) + "|")
    for cells, flags in zip(rows, bold):
        out = [f"**{_md_cell(c)}**" if b and c else _md_cell(c) for c, b in zip(cells, flags)]
        lines.append("| " + " | ".join(out) + " |")
    lines.append("")
    if captions:
        lines += ["## Figures", ""]
        for name, cap in captions.items():
            alt = re.sub(r"([\[\]])", r"\\\1", one_line(cap, 10_000))
            lines += [f"![{alt}](figures/{name})", "", f"*{_md_cell(cap)}*", ""]
    probs = a.problems()
    if len(probs):
        lines += ["## Failed and diverged trials", ""]
        for _, r in probs.iterrows():
            lines.append(f"- `{r['trial_id']}` ({_md_cell(_where(a, r))}): **{r['status']}** — "
                         f"{_md_cell(r['error']) if isinstance(r['error'], str) and r['error'] else 'no error recorded'}")
        lines.append("")
    return "\n".join(lines)


def _where(a: Analysis, r) -> str:
    label = a.labels[int(r["config"])] if a.keys else ""
    seed = "" if pd.isna(r["seed"]) else f"seed {r['seed']}"
    return ", ".join(x for x in (label, seed) if x)


# ---------------------------------------------------------------- LaTeX


def latex(a: Analysis) -> str:
    metrics = a.snap.metrics
    header = [*a.keys, "$n$", *metrics, "rank"]
    head = [latex_escape(h) if h != "$n$" else h for h in header]
    spec = "l" * len(a.keys) + "r" * (len(metrics) + 2)
    label = re.sub(r"[^a-z0-9-]+", "-", a.snap.name.lower()).strip("-") or "study"
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{table}[ht]",
        "\\centering",
        f"\\caption{{{latex_escape(one_line(a.snap.name, 200))}: mean $\\pm$ standard error over seeds"
        + (f", ranked by {latex_escape(a.metric)}" if a.metric else "") + "}",
        f"\\label{{tab:{label}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(head) + " \\\\",
        "\\midrule",
    ]
    for _, r in a.summary.iterrows():
        cells = [latex_escape(value_text(r[k])) for k in a.keys] + [str(int(r["n"]))]
        best = not pd.isna(r["rank"]) and int(r["rank"]) == 1
        for j, m in enumerate(metrics):
            cells.append(latex_mean_se(r[f"{m}_mean"], r[f"{m}_sem"], m, bold=(j == 0 and best)))
        cells.append("" if pd.isna(r["rank"]) else str(int(r["rank"])))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def write_texts(a: Analysis, out_dir: Path, captions: dict[str, str]) -> list[Path]:
    md, tex = out_dir / "report.md", out_dir / "results.tex"
    md.write_text(markdown(a, captions), encoding="utf-8")
    tex.write_text(latex(a), encoding="utf-8")
    return [md, tex]


__all__ = ["write_csvs", "write_texts", "table_cells", "counts_line", "ranking_line",
           "markdown", "latex"]
