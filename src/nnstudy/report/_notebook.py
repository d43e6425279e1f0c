"""A study in a notebook: figures as matplotlib Figures, and an HTML view (table + inline figures)."""

from __future__ import annotations

import base64
import importlib
import io
from typing import Callable

from matplotlib.figure import Figure

from ..errors import StudyError
from . import _figures as F
from ._cells import TIED, counts_line, ranking_line, results_header, results_rows
from ._figures_labels import metric_by_label
from ._html_assets import template
from ._stats import Analysis

PLOTS = ("learning_curves", "metric_vs", "metric_by_label", "seed_spread", "grad_norms", "decision_boundary",
         "first_layer_weights")
INLINE = ("learning_curves", "metric_by_label", "metric_vs", "seed_spread", "decision_boundary")  # _repr_html_


def kind_figures(a: Analysis) -> dict[str, Callable]:
    """The figures of model kinds and searches (report/_figures_*.py), by name without .png."""
    jobs = [job for module in F.figure_sets() for job in importlib.import_module(module).jobs(a)]
    return {name.removesuffix(".png"): job for name, job in jobs}


def draw(a: Analysis, name: str, key: str | None = None) -> tuple[Figure, str] | None:
    """(Figure, caption) of one report figure, or None when the study has no data for it."""
    others = kind_figures(a)
    if name not in PLOTS and name not in others:
        known = [n.removesuffix(".png") for m in F.figure_sets() for n in importlib.import_module(m).PATTERNS
                 if "*" not in n]
        raise StudyError(f"plot: unknown figure {name!r} (allowed: {', '.join([*PLOTS, *known])})")
    sink = F.FigureSink()
    if name == "metric_vs" and a.keys and key is not None and key not in a.keys:
        raise StudyError(f"plot: {key!r} is not a swept key of {a.snap.name} (swept: {', '.join(a.keys)})")
    with F.plain_text():
        if name in others:
            caption = others[name](sink)
        elif name == "metric_vs":
            caption = F.metric_vs_key(a, key or a.keys[0], sink) if a.keys else None
        elif name == "metric_by_label":
            caption = metric_by_label(a, sink)
        else:
            caption = getattr(F, name)(a, sink)
    if not caption or sink.figure is None:
        return None
    # Jupyter shows a Figure inline only once pyplot set up its formatter; these are drawn without it
    sink.figure._repr_png_ = lambda fig=sink.figure: _png_bytes(fig)
    return sink.figure, caption


def _png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with F.plain_text():  # tick labels are made as the figure is drawn
        fig.savefig(buf, format="png", dpi=F.DPI, facecolor="white")
    return buf.getvalue()


def _png(fig: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(_png_bytes(fig)).decode("ascii")


def notebook_html(a: Analysis, figures: tuple[str, ...] = INLINE) -> str:
    """The study's name, counts, results table (mean ± SE, ties marked) and key figures inline
    (templates/notebook.html.j2, autoescaped)."""
    shown = []
    for name in figures:
        for key in (a.keys if name == "metric_vs" else [None]):
            got = draw(a, name, key)
            if got:
                shown.append({"src": _png(got[0]), "caption": got[1]})
    s = a.snap
    return template("notebook.html.j2").render(
        name=s.name, description=s.description, counts=counts_line(a), ranking=ranking_line(a), tested=a.tested,
        tied=TIED, header=results_header(a), rows=results_rows(a), note=a.comparison_note(), figures=shown)
