"""A comparison's files (compare.csv, compare.md, compare.html) and its terminal table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.markup import escape as escape_markup
from rich.table import Table

from ..errors import StudyError
from ._atomic import write_atomic
from ._compare import Comparison
from ._format import format_diff, format_mean_se, md_escape, mean_decimals, one_line
from ._html_assets import CSS, csp, safe, template
from ._significance import format_p

HEADER = ["metric", "A", "B", "diff (B - A)", "p", "p (Holm)", "verdict", "test", "p (test, Holm)",
          "verdict (test)", "P(B better)", "detectable Δ", "seeds"]
TEXT_COLUMNS = (0, 6, 7, 9)  # metric, verdicts, test: left-aligned


def cells(c: Comparison) -> list[list[str]]:
    """Text cells of the comparison table, one row per metric (A and B as 'mean ± SE (n = k)')."""
    rows = []
    for _, r in c.table.iterrows():
        m = r["metric"]
        # both sides to the finer of the two precisions, so that the digits line up
        d = max(mean_decimals(r[f"{s}_mean"], r[f"{s}_sem"], m) for s in "ab" if not pd.isna(r[f"{s}_mean"]))
        rows.append([m, f"{format_mean_se(r['a_mean'], r['a_sem'], m, d)} (n = {r['a_n']})",
                     f"{format_mean_se(r['b_mean'], r['b_sem'], m, d)} (n = {r['b_n']})",
                     format_diff(r["diff"], d), format_p(r["p_welch"]), format_p(r["p_holm"]), r["verdict"],
                     *_robust_cells(r, d)])
    return rows


def _robust_cells(r: pd.Series, d: int) -> list[str]:
    test = "" if r["test"] is None or pd.isna(r["test"]) else (
        f"paired-t (n = {int(r['n_pairs'])})" if r["test"] == "paired-t" else "welch")
    prob = "—" if pd.isna(r["prob_b_better"]) else f"{r['prob_b_better']:.2f}"
    if not pd.isna(r["prob_b_better_low"]):
        prob += f" [{r['prob_b_better_low']:.2f}, {r['prob_b_better_high']:.2f}]"
    mde = "—" if pd.isna(r["mde"]) else f"{r['mde']:.{max(d, 0)}f}"
    seeds = "—" if pd.isna(r["seeds_needed"]) else str(int(r["seeds_needed"]))
    return [test, format_p(r["p_test_holm"]), r["verdict_test"], prob, mde, seeds]


def terminal_table(c: Comparison) -> Table:
    table = Table(*HEADER, title=escape_markup(f"A: {c.a.label}   B: {c.b.label}"),
                  caption=escape_markup(c.note()), highlight=False)
    for row in cells(c):
        table.add_row(*(escape_markup(x) for x in row))
    return table


def markdown(c: Comparison) -> str:
    def cell(s: str) -> str:
        return md_escape(one_line(s, 10_000))

    lines = [f"# {cell(c.a.label)} vs {cell(c.b.label)}", "", f"- **A**: {cell(c.a.label)}",
             f"- **B**: {cell(c.b.label)}", "", "| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---" if j in TEXT_COLUMNS else "---:" for j in range(len(HEADER))) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in cells(c)]
    lines += ["", c.note(), "", "Cells are mean ± standard error over seeds (done trials only).", ""]
    return "\n".join(lines)


def html(c: Comparison) -> str:
    """compare.html: the table and the note, from templates/compare.html.j2 (autoescaped)."""
    return template("compare.html.j2").render(
        csp=safe(csp()), css=safe(CSS), title=f"{c.a.label} vs {c.b.label}", a=c.a.label, b=c.b.label,
        header=HEADER, rows=cells(c), text_columns=TEXT_COLUMNS, note=c.note())


def write_comparison(c: Comparison, out_dir: Path | str) -> list[Path]:
    from . import check_out_dir

    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    paths = [out_dir / "compare.csv", out_dir / "compare.md", out_dir / "compare.html"]
    table = c.table.copy()
    table.insert(0, "b", c.b.label)
    table.insert(0, "a", c.a.label)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(paths[0], table.to_csv(index=False))
        write_atomic(paths[1], markdown(c))
        write_atomic(paths[2], html(c))
    except OSError as e:  # a full disk, a read-only folder: each file is whole or absent
        raise StudyError(f"cannot write the comparison into {out_dir} ({e.strerror or e}); "
                         f"pass --out to another folder") from None
    return paths


__all__ = ["cells", "terminal_table", "markdown", "html", "write_comparison", "HEADER"]
