"""An ablation by [[sweep]] label (one labelled configuration per table, the tables setting different keys) gets
one chart by label, metric_by_label.png, whose points are results.csv's means ± SE, beside the metric_vs figures
(the report files' contract); a study whose tables all set the same key gets no chart by label."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import nnstudy
from nnstudy.report._figures import FigureSink, figure_jobs
from nnstudy.report._figures_labels import metric_by_label
from nnstudy.report._stats import analyze

SWEEP = [{"label": "Baseline"}, {"label": "Dropout 0.3", "model.dropout": [0.3]},
         {"label": "L2 <1e-3>", "train.l2": [1e-3]}]
METRICS = ["test_accuracy", "val_loss"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    raw = {"study": {"name": "ablation"}, "data": {"name": "digits", "train_size": 300}, "model": {"hidden": [8]},
           "train": {"optimizer": "sgd", "lr": 0.05, "epochs": 1}, "sweep": SWEEP, "trials": {"seeds": 2},
           "report": {"metrics": METRICS}}
    return nnstudy.run(raw, store=tmp_path_factory.mktemp("runs"), workers=1, device="cpu")


def test_an_ablation_gets_one_chart_by_label_beside_its_metric_vs_figures(study):
    figures = sorted(p.name for p in (study.report_dir / "figures").iterdir())
    assert "metric_by_label.png" in figures
    assert {"metric_vs_model.dropout.png", "metric_vs_train.l2.png"} <= set(figures)
    assert "metric_by_label.png" in (study.report_dir / "report.md").read_text()


def test_the_chart_shows_the_mean_and_standard_error_of_each_label(study):
    results = pd.read_csv(study.report_dir / "results.csv").set_index("label")
    a = analyze(study.snapshot())
    sink = FigureSink()
    caption = metric_by_label(a, sink)
    assert caption.startswith("Final test_accuracy, val_loss of each [[sweep]] table")
    panels = sink.figure.axes
    names = [t.get_text() for t in panels[0].get_yticklabels()]
    assert names == ["Baseline", "Dropout 0.3", "L2 <1e-3>"]
    best = a.given[a.best]  # the report's best configuration, red in every panel
    for ax, m in zip(panels, METRICS):
        assert ax.get_title().startswith(m)
        points = {}
        for c in ax.containers:
            (x,), (y,) = c.lines[0].get_xdata(), c.lines[0].get_ydata()
            (lo, hi), = [seg[:, 0] for seg in c.lines[2][0].get_segments()]
            points[names[int(y)]] = (x, (hi - lo) / 2, c.lines[0].get_color())
        assert set(points) == set(names)
        for label, (mean, se, color) in points.items():
            assert mean == pytest.approx(results.loc[label, f"{m}_mean"], abs=1e-12)
            assert se == pytest.approx(results.loc[label, f"{m}_sem"], abs=1e-12)
            assert (color == "tab:red") == (label == best)


def test_tables_that_all_set_the_same_key_keep_their_metric_vs_figure(study):
    snap = study.snapshot(artifacts=False)
    same = [{"label": "Small", "model.dropout": [0.0]}, {"label": "Big", "model.dropout": [0.3]}]
    several = [{"label": "Base"}, {"label": "Rates", "train.lr": [0.1, 0.01]}]
    for sweep in (same, several):
        a = analyze(dataclasses.replace(snap, spec={**snap.spec, "sweep": sweep}))
        names = [name for name, _ in figure_jobs(a)[0]]
        assert "metric_by_label.png" not in names and "metric_vs_model.dropout.png" in names
        assert metric_by_label(a, FigureSink()) is None


def test_the_notebook_shows_the_chart_by_label_and_study_plot_draws_it(study):
    from nnstudy.report._notebook import notebook_html

    html = notebook_html(analyze(study.snapshot()))
    assert html.index("of each [[sweep]] table, by its label") < html.index("against model.dropout")
    ax = study.plot("metric_by_label").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Baseline", "Dropout 0.3", "L2 <1e-3>"]


def test_figure_text_is_drawn_as_written_not_as_a_formula(study, tmp_path):
    """A label such as "cost $5 and $6" is text: matplotlib would set what lies between the dollars as math."""
    import matplotlib

    from nnstudy.report._draw_all import _draw

    seen = []
    name, caption, warned, failed = _draw(("x.png", lambda p: seen.append(matplotlib.rcParams["text.parse_math"])),
                                          tmp_path)
    assert seen == [False] and not failed and matplotlib.rcParams["text.parse_math"]  # the user's own plots keep it
    ticks = study.plot("metric_by_label").axes[0].get_yticklabels()
    assert [t.get_text() for t in ticks][:1] == ["Baseline"] and not any(t.get_parse_math() for t in ticks)
