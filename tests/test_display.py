"""A Study in a notebook: _repr_html_ (table + inline PNGs, escaped), _repr_markdown_, plot() Figures."""

from __future__ import annotations

import base64
import re

import pytest
from matplotlib.figure import Figure

import nnstudy
from nnstudy.report import format_mean_se

EVIL = "<script>alert(1)</script>"
SPEC = {
    "study": {"name": "shown", "description": f"depth on moons {EVIL}"},
    "data": {"name": "moons", "n_samples": 200},
    "train": {"epochs": 3, "batch_size": 32, "lr": 0.2},
    "sweep": {"model.hidden": [[4], [8, 8]]},
    "trials": {"seeds": 2},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return nnstudy.run(SPEC, store=tmp_path_factory.mktemp("display") / "runs", workers=1)


def test_html_shows_the_results_table_and_figures_inline(study):
    html = study._repr_html_()
    results = study.results()
    assert "<table>" in html and html.count("<tr>") == 1 + len(results)
    for _, r in results.iterrows():  # each cell as the report formats it
        assert format_mean_se(r["test_accuracy_mean"], r["test_accuracy_sem"], "test_accuracy") in html
    assert "±" in html and "<strong>" in html  # mean ± SE, the best in bold
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 3  # learning curves, metric vs model.hidden, seed spread (+ boundary)
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)


def test_html_and_markdown_escape_user_text(study):
    html = study._repr_html_()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = study._repr_markdown_()
    assert md.startswith("# shown") and "| model.hidden | n |" in md


def test_tie_marker_as_in_the_report(study):
    tied = study.results()["tied"].fillna(False).astype(bool)
    html = study._repr_html_()
    assert html.count("≈</span>") == int(tied.sum())


@pytest.mark.parametrize("name", ["learning_curves", "metric_vs", "seed_spread", "grad_norms",
                                  "decision_boundary"])
def test_plot_returns_a_figure_with_drawn_axes(study, name):
    fig = study.plot(name)
    assert isinstance(fig, Figure) and fig.axes
    ax = fig.axes[0]
    assert ax.lines or ax.collections  # something was drawn
    assert ax.get_title()
    assert fig._repr_png_().startswith(b"\x89PNG")  # shows inline in Jupyter without pyplot


def test_plot_learning_curves_has_one_line_per_configuration_and_split(study):
    ax = study.plot("learning_curves").axes[0]
    assert len(ax.lines) == 2 * 3  # two configurations x (train, val, test: recorded per epoch)
    assert max(max(line.get_xdata()) for line in ax.lines) == 3


def test_plot_errors_are_study_errors(study):
    with pytest.raises(nnstudy.StudyError, match="unknown figure 'nope'.*class_errors.*search_history"):
        study.plot("nope")
    with pytest.raises(nnstudy.StudyError, match="no data for the figure 'samples'"):
        study.plot("samples")  # a generative model's figure
    with pytest.raises(nnstudy.StudyError, match="not a swept key"):
        study.plot("metric_vs", key="train.lr")
    with pytest.raises(nnstudy.StudyError, match="no data for the figure 'first_layer_weights'"):
        study.plot("first_layer_weights")


def test_progress_bars_show_in_terminals_not_in_pipes_nor_notebooks():  # notebooks: test_notebook_progress.py
    import io

    from rich.console import Console

    from nnstudy.executor._progress import StudyProgress

    def disabled(**kw) -> bool:
        return StudyProgress(Console(file=io.StringIO(), **kw), "x", 2, 4).progress.disable

    assert disabled(force_jupyter=True) is True  # rich's Jupyter display: a widget per refresh, or a warning
    assert disabled(force_terminal=True) is False
    assert disabled() is True  # a pipe or a log file: lines only
