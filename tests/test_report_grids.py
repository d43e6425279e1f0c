"""Numbers as axes and pivot tables (issue 19 item 5), per-class scores and chosen configurations side by side
(item 6), on snapshots with known numbers."""

from __future__ import annotations

import io
import re
import warnings

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import classification_report

from nnstudy.report import ReportWarning, write_report
from nnstudy.report._figures import FigureSink, decision_boundary, figure_jobs, list_axes, metric_vs_key
from nnstudy.report._per_class import per_class, scores
from nnstudy.report._side_by_side import focused, side_by_side
from nnstudy.report._stats import analyze
from nnstudy.store._snapshot import Artifact, StudySnapshot

HIDDEN = ([16], [64], [16, 16], [64, 64])
OPTIMIZERS = ("sgd", "adam")
RNG = np.random.default_rng(7)
# configuration (hidden, optimizer) -> test_accuracy, val_loss of seeds 0, 1, 2
VALUES = {(tuple(h), o): (RNG.uniform(0.6, 0.95, 3).round(4), RNG.uniform(0.1, 0.9, 3).round(4))
          for h in HIDDEN for o in OPTIMIZERS}


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def snapshot(spec: dict | None = None) -> StudySnapshot:
    rows, arts = [], []
    rng = np.random.default_rng(0)
    for c, ((hidden, opt), (acc, loss)) in enumerate(VALUES.items()):
        for seed in range(3):
            tid = f"t{c}{seed}"
            rows.append({"trial_id": tid, "seed": seed, "status": "done", "error": None, "model.hidden": list(hidden),
                         "train.optimizer": opt, "test_accuracy": acc[seed], "val_loss": loss[seed],
                         "label": ["Small", None, None, None, None, None, "Big", None][c]})
            y_true = rng.integers(0, 3, 60)
            y_pred = np.where(rng.uniform(size=60) < 0.7, y_true, rng.integers(0, 3, 60))
            y_pred[:2] = 2  # class 2 predicted at least twice, class 0 maybe never: zero_division
            wrong = np.flatnonzero(y_true != y_pred)[:4]
            arts.append(Artifact(tid, "predictions.npz", _npz(
                y_true=y_true.astype(np.int16), y_pred=y_pred.astype(np.int16), classes=np.array(["cat", "dog", "eel"]),
                wrong=wrong.astype(np.int32), x=rng.normal(size=(len(wrong), 4, 4)).astype(np.float16))))
            arts.append(Artifact(tid, "first_layer_weights.npz", _npz(
                w=rng.normal(size=(hidden[0], 4, 4)), labels=np.array([f"unit {j + 1}" for j in range(hidden[0])]),
                total_units=np.array(hidden[0]))))
    return StudySnapshot(name="grid", description="", spec=spec or {}, source="", task="classification",
                         metrics=["test_accuracy", "val_loss"], swept_keys=["model.hidden", "train.optimizer"],
                         trials=pd.DataFrame(rows), artifacts=arts,
                         history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)
        write_report(snapshot({"report": {"configurations": ["Big", 1]}}), out)
    return out


def _cell(text: str) -> tuple[float, float]:
    m, s = re.fullmatch(r"\**([0-9.]+) ± ([0-9.]+)\**", text.strip()).groups()
    return float(m), float(s)


def test_a_two_key_grid_gets_a_pivot_table_equal_to_results_csv(report):
    results = pd.read_csv(report / "results.csv")
    md = (report / "report.md").read_text()
    for metric in ("test_accuracy", "val_loss"):
        start = md.index(f"### {metric}: model.hidden × train.optimizer")
        table = [ln for ln in md[start:].split("\n\n")[1].splitlines()]
        assert table[0] == "| model.hidden \\\\ train.optimizer | sgd | adam |"
        body = [[c.strip() for c in ln.strip("|").split("|")] for ln in table[2:]]
        assert [r[0] for r in body] == [str(h) for h in HIDDEN]
        for row in body:
            for opt, text in zip(OPTIMIZERS, row[1:]):
                mean, se = _cell(text)
                want = results[(results["model.hidden"] == row[0]) & (results["train.optimizer"] == opt)].iloc[0]
                d = len(text.split("±")[0].strip(" *").split(".")[1])
                assert mean == round(want[f"{metric}_mean"], d) and se == round(want[f"{metric}_sem"], d)
                assert want[f"{metric}_mean"] == pytest.approx(np.mean(VALUES[(tuple(eval(row[0])), opt)][
                    0 if metric == "test_accuracy" else 1]))
    tex = (report / "results.tex").read_text()
    assert "\\label{tab:grid-pivot-1}" in tex and "\\label{tab:grid-pivot-2}" in tex
    assert "model.hidden \\textbackslash{} train.optimizer & sgd & adam \\\\" in tex
    html = (report / "report.html").read_text()
    assert html.count('<table class="pivot">') == 2


def test_depth_and_width_of_hidden_are_numeric_axes_with_a_panel_per_metric(report):
    a = analyze(snapshot())
    axes = list_axes(a)
    assert axes["depth"] == ("model.hidden", [1, 1, 1, 1, 2, 2, 2, 2])
    assert axes["width"] == ("model.hidden", [16, 16, 64, 64, 16, 16, 64, 64])
    sink = FigureSink()
    caption = metric_vs_key(a, "depth", sink)
    assert [ax.get_title() for ax in sink.figure.axes] == ["test_accuracy (higher is better) vs depth",
                                                           "val_loss (lower is better) vs depth"]
    assert "(the number of entries of model.hidden)" in caption
    first = sink.figure.axes[0]
    assert [float(x) for x in first.get_xticks()] == [1.0, 2.0]
    legend = [t.get_text() for t in sink.figure.legends[0].get_texts()]
    assert legend == ["optimizer=sgd, width=16", "optimizer=adam, width=16", "optimizer=sgd, width=64",
                      "optimizer=adam, width=64"]
    line = first.containers[0].lines[0]  # sgd, width 16: depth 1 and 2
    want = [np.mean(VALUES[((16,), "sgd")][0]), np.mean(VALUES[((16, 16), "sgd")][0])]
    assert np.allclose(line.get_xdata(), [1, 2]) and np.allclose(line.get_ydata(), want)
    for name in ("metric_vs_depth.png", "metric_vs_width.png", "metric_vs_model.hidden.png"):
        assert (report / "figures" / name).read_bytes()[:4] == b"\x89PNG"


def test_per_class_scores_equal_sklearns_classification_report(report):
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.uniform(size=200) < 0.6, y_true, rng.integers(0, 3, 200))  # class 3 never predicted
    rows, acc = scores(y_true, y_pred, ["a", "b", "c", "d"])
    want = classification_report(y_true, y_pred, labels=[0, 1, 2, 3], target_names=list("abcd"), output_dict=True,
                                 zero_division=0)
    for name, p, r, f, n in rows:
        assert (p, r, f, n) == pytest.approx((want[name]["precision"], want[name]["recall"],
                                              want[name]["f1-score"], want[name]["support"]), abs=1e-12)
    assert acc == pytest.approx(want["accuracy"])
    md = (report / "report.md").read_text()  # one table for each chosen configuration: Big, then the first
    titles = re.findall(r"### Per-class precision, recall and F1 on the test split: (.*?) \(seed", md)
    assert titles == ["Big", "Small"]
    a = analyze(snapshot({"report": {"configurations": ["Big", 1]}}))
    tables = per_class(a)
    d = np.load(io.BytesIO(next(x.data for x in a.snap.artifacts if x.trial_id == "t60"
                                and x.name == "predictions.npz")))
    want = classification_report(d["y_true"], d["y_pred"], labels=[0, 1, 2], target_names=["cat", "dog", "eel"],
                                 output_dict=True, zero_division=0)
    assert tables[0].config == 6 and tables[0].seed == 0
    for name, p, r, f, n in tables[0].rows:
        assert f"| {name} | {p:.4f} | {r:.4f} | {f:.4f} | {n} |" in md
        assert (p, r, f, n) == pytest.approx((want[name]["precision"], want[name]["recall"],
                                              want[name]["f1-score"], want[name]["support"]))


def test_chosen_configurations_are_drawn_side_by_side(report, tmp_path):
    both = mpimg.imread(report / "figures" / "first_layer_weights.png")
    md = (report / "report.md").read_text()
    assert "One panel per configuration of report.configurations, left to right: Big \\| Small." in md
    a = analyze(snapshot({"report": {"configurations": ["Big"]}}))
    caption = side_by_side(a, "first_layer_weights.png", lambda view: dict(figure_jobs(view)[0]), tmp_path / "one.png")
    one = mpimg.imread(tmp_path / "one.png")
    assert both.shape[1] > 1.5 * one.shape[1]  # two drawings next to each other
    assert "first layer of the chosen configuration (Big, seed 0)" in caption


def test_a_decision_boundary_of_each_chosen_configuration():
    from test_report import make_snapshot  # four configurations, decision boundaries for the done trials

    snap = make_snapshot()
    snap.spec = {"report": {"configurations": [2, 1]}}
    a = analyze(snap)
    sink = FigureSink()
    view = focused(a, 1)  # configuration 2 as the chosen one: its trials alone
    jobs = dict(figure_jobs(view)[0])
    assert a.chosen() == [1, 0] and jobs["decision_boundary.png"]
    decision_boundary(view, sink)
    titles = [ax.get_title() for ax in sink.figure.axes]
    assert titles[0].startswith("configuration: lr=0.1, hidden=[50]") and len(titles) == 1


def test_a_tables_predictions_keep_labels_only_and_give_per_class_scores_without_sample_figures():
    from nnstudy.data._dataset import Dataset
    from nnstudy.engines._common import predictions_artifact
    from nnstudy.report._figures_deep import misclassified, right_vs_wrong

    y_true, y_pred = np.array([0, 1, 2, 2, 1, 0]), np.array([0, 2, 2, 2, 1, 1])
    data = Dataset("t", "classification", *(np.zeros((6, 4), np.float32), y_true) * 3, (4,), ["a", "b", "c"])
    blob = predictions_artifact(y_true, y_pred, data, samples=False)["predictions.npz"]
    assert sorted(np.load(io.BytesIO(blob)).files) == ["classes", "y_pred", "y_true"]
    snap = snapshot()
    snap.artifacts = [Artifact(x.trial_id, x.name, blob) for x in snap.artifacts if x.name == "predictions.npz"]
    a = analyze(snap)
    assert misclassified(a, FigureSink()) is None and right_vs_wrong(a, FigureSink()) is None
    (table,) = per_class(a)
    want = classification_report(y_true, y_pred, target_names=["a", "b", "c"], output_dict=True, zero_division=0)
    assert [r[1:] for r in table.rows[:3]] == [pytest.approx((want[c]["precision"], want[c]["recall"],
                                                              want[c]["f1-score"], want[c]["support"])) for c in "abc"]


def test_a_key_unset_in_one_sweep_table_adds_no_blank_pivot_row():
    """[[sweep]] tables: momentum x lr in one, lr alone in the other; the second's rows have no momentum (NaN)."""
    from nnstudy.report._pivot import pivots

    rows = []
    for c, (momentum, lr) in enumerate([(0.5, 0.1), (0.5, 0.01), (0.9, 0.1), (0.9, 0.01), (None, 0.1), (None, 0.01)]):
        for seed in range(2):
            rows.append({"trial_id": f"t{c}{seed}", "seed": seed, "status": "done", "error": None,
                         "train.momentum": np.nan if momentum is None else momentum, "train.lr": lr,
                         "test_accuracy": 0.5 + c / 20 + seed / 100})
    snap = StudySnapshot(name="m", description="", spec={}, source="", task="classification",
                         metrics=["test_accuracy"], swept_keys=["train.momentum", "train.lr"],
                         trials=pd.DataFrame(rows), artifacts=[],
                         history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]))
    (p,) = pivots(analyze(snap))
    assert p.rows == [0.5, 0.9] and p.cols == [0.1, 0.01]
    assert all("—" not in cell for row in p.cells for cell in row)  # the four configurations of the grid


def test_only_the_picked_trials_predictions_are_read_and_a_broken_one_gives_way_to_the_next_seed(monkeypatch):
    from nnstudy.report import _figures

    a = analyze(snapshot({"report": {"configurations": ["Big", 1]}}))
    a.snap.artifacts = [Artifact(x.trial_id, x.name, b"not an npz" if x.trial_id == "t60" else x.data)
                        for x in a.snap.artifacts]
    read = []
    real = np.load
    monkeypatch.setattr(_figures.np, "load", lambda f, **kw: read.append(1) or real(f, **kw))
    with pytest.warns(ReportWarning, match="predictions.npz of trial t60 unreadable"):
        picks = _figures.picked_arrays(a, "predictions.npz")
    assert [i for i, _, _ in picks] == a.ranked()
    assert dict((i, row["seed"]) for i, row, _ in picks)[6] == 1  # seed 0's file is broken: seed 1's is read
    assert len(picks) == 8 and len(read) == 9  # one file per configuration, and the broken one


def test_the_best_and_the_worst_read_their_own_files_only(monkeypatch):
    """A figure of the best (and worst) configuration reads those trials' artifacts, not every configuration's."""
    from nnstudy.report import _figures

    a = analyze(snapshot({}))
    read = []
    real = np.load
    monkeypatch.setattr(_figures.np, "load", lambda f, **kw: read.append(1) or real(f, **kw))
    every = _figures.picked_arrays(a, "predictions.npz")
    assert len(every) == 8 and len(read) == 8
    read.clear()
    best = _figures.best_arrays(a, "predictions.npz")
    assert len(read) == 1 and best[0] == every[0][0] == a.ranked()[0] and best[1]["seed"] == every[0][1]["seed"]
    read.clear()
    shown = _figures.best_and_worst(a, "predictions.npz")
    assert len(read) == 2 and [i for i, _, _ in shown] == [every[0][0], every[-1][0]]
    assert np.array_equal(shown[1][2]["y_pred"], every[-1][2]["y_pred"])
    read.clear()
    assert [i for i, _, _ in _figures.picked_arrays(a, "predictions.npz", 3)] == [i for i, _, _ in every[:3]]
    assert len(read) == 3
