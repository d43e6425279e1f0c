"""Figures as a careful author would publish them: nothing cut off, nothing covering the data."""

import io

import numpy as np
import pytest

from nnstudy.report._mosaic import Tile, mosaic_figure


def _inside(fig, text) -> bool:
    box, page = text.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    return box.x0 >= page.x0 and box.x1 <= page.x1 and box.y0 >= page.y0 and box.y1 <= page.y1


def test_a_long_title_over_a_few_tiles_is_wrapped_inside_the_figure():
    tiles = [Tile(np.zeros((28, 28)), f"unit {i}") for i in range(4)]
    title = "first-layer weights, best configuration: activation=sigmoid, norm=none (seed 0)"
    fig = mosaic_figure(tiles, 2, title, 100)
    assert fig._suptitle.get_text() == ("first-layer weights, best configuration:\n"
                                        "activation=sigmoid, norm=none (seed 0)")
    assert _inside(fig, fig._suptitle)
    wide = mosaic_figure(tiles * 4, 8, title, 100)  # room enough: one line, as before
    assert wide._suptitle.get_text() == title and _inside(wide, wide._suptitle)


def _snapshot(history: list[tuple], artifacts=(), key="train.lr", values=(0.1,)):
    import pandas as pd

    from nnstudy.store._snapshot import StudySnapshot

    rows = [{"trial_id": f"t{i}", "seed": s, "status": "done", "error": None, key: v, "test_accuracy": 0.5 + i / 100}
            for i, (v, s) in enumerate((v, s) for v in values for s in (0, 1))]
    return StudySnapshot(name="s", description="", spec={"study": {"name": "s"}}, source="",
                         task="classification", metrics=["test_accuracy"], swept_keys=[key],
                         trials=pd.DataFrame(rows),
                         history=pd.DataFrame(history, columns=["trial_id", "epoch", "metric", "value"]),
                         artifacts=list(artifacts), environment={},
                         created_at="2024-05-01T09:59:00", updated_at="2024-05-01T10:05:00")


@pytest.mark.parametrize("depth", [3, 40])
def test_the_gradient_norm_legend_is_outside_the_lines(depth):
    from nnstudy.report._figures import FigureSink, grad_norms
    from nnstudy.report._stats import analyze

    layers = [f"hidden{k}" for k in range(1, depth)] + ["output"]
    hist = [("t0", e, f"grad_norm/{name}", 10.0 ** -k * e) for e in (1, 2) for k, name in enumerate(layers)]
    sink = FigureSink()
    grad_norms(analyze(_snapshot(hist)), sink)
    fig = sink.figure
    fig.canvas.draw()
    (ax,) = [ax for ax in fig.axes if ax.get_lines()]
    assert len(ax.get_lines()) == depth and ax.get_legend() is None
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == (layers if depth == 3 else ["hidden1", "output"])
    renderer = fig.canvas.get_renderer()
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


@pytest.mark.parametrize("count", [3, 6, 20])
def test_the_tick_labels_of_a_swept_list_do_not_overlap(count):
    from nnstudy.report._figures import FigureSink, metric_vs_key
    from nnstudy.report._stats import analyze

    values = [str([10 * (k + 1), 100, 100]) for k in range(count)]  # "[10, 100, 100]", ...
    sink = FigureSink()
    metric_vs_key(analyze(_snapshot([], key="model.hidden", values=values)), "model.hidden", sink)
    fig = sink.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = fig.axes[0].get_xticklabels()
    assert [t.get_text().replace("\n", " ") for t in labels] == values
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(b.overlaps(c) for b, c in zip(boxes, boxes[1:]))
    assert all(0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in boxes)


def _som(rows: int, cols: int) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, umatrix=rng.random((rows, cols)), hits=rng.integers(0, 9, (3, rows, cols)),
             labels=rng.integers(0, 3, (rows, cols)), classes=np.array(["setosa", "versicolor", "virginica"]))
    return buf.getvalue()


@pytest.mark.parametrize("grid", [(1, 3), (8, 8), (6, 2)])
@pytest.mark.parametrize("name", ["som_umatrix", "som_hits"])
def test_a_som_colour_bar_is_as_long_as_its_map(grid, name):
    from nnstudy.report import _figures_classical
    from nnstudy.report._figures import FigureSink
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    sink = FigureSink()
    getattr(_figures_classical, name)(analyze(_snapshot([], [Artifact("t0", "som.npz", _som(*grid))])), sink)
    fig = sink.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    maps = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(maps) == (1 if name == "som_umatrix" else 4)
    for ax in maps:
        image = ax.images[0].get_window_extent(renderer)
        (bar,) = ax.child_axes
        box = bar.get_window_extent(renderer)
        wide = grid[1] >= 2 * grid[0]
        lo, hi = (box.x0, box.x1) if wide else (box.y0, box.y1)
        assert (lo, hi) == pytest.approx((image.x0, image.x1) if wide else (image.y0, image.y1), abs=1.5)
        assert (box.y1 <= image.y0) if wide else (box.x0 >= image.x1)  # beside the map, not on it
        assert bar.get_tightbbox(renderer).x1 <= fig.bbox.x1  # its tick labels too


def test_trials_of_one_epoch_are_drawn_as_points_per_split_not_at_epoch_0_96_to_1_04():
    from nnstudy.report._figures import FigureSink, learning_curves
    from nnstudy.report._stats import analyze

    hist = [(f"t{i}", 1, f"{split}_loss", v + i) for i in range(4) for split, v in (("train", 1.0), ("val", 2.0))]
    sink = FigureSink()
    caption = learning_curves(analyze(_snapshot(hist, values=(0.1, 0.01))), sink)
    (ax,) = sink.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["train", "val"]
    marks = [line for line in ax.get_lines() if line.get_marker() in ("o", "s")]  # not the error bars' caps
    points = sorted((line.get_marker(), round(float(x), 2), float(y))
                    for line in marks for x, y in zip(*line.get_data()))
    assert points == [("o", -0.15, 1.5), ("o", 0.15, 3.5), ("s", 0.85, 2.5), ("s", 1.15, 4.5)]  # mean of 2 seeds
    assert [t.get_text() for t in sink.figure.legends[0].get_texts()] == ["lr=0.1", "lr=0.01"]
    assert caption.startswith("Final train and validation values: every trial recorded one epoch")


def test_nested_values_too_long_for_a_tick_are_numbered_and_named_in_the_caption():
    from nnstudy.report._figures import FigureSink, metric_vs_key
    from nnstudy.report._stats import analyze

    values = [str([{"units": c, "activation": "relu", "dropout": 0.25, "norm": "batch"}] * 2) for c in (16, 32, 64)]
    sink = FigureSink()
    caption = metric_vs_key(analyze(_snapshot([], key="model.blocks", values=values)), "model.blocks", sink)
    fig = sink.figure
    fig.canvas.draw()
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert ax.get_xlabel() == "model.blocks (numbered: see the caption)"
    assert ax.get_title() == "test_accuracy (higher is better) vs model.blocks"
    assert caption.endswith(f"Values of model.blocks: 1 = {values[0]}; 2 = {values[1]}; 3 = {values[2]}.")
    assert fig.get_tightbbox(fig.canvas.get_renderer()).y0 >= 0  # nothing below the figure's edge


def test_labelled_configurations_name_their_ticks():
    from nnstudy.report._figures import FigureSink, metric_vs_key
    from nnstudy.report._stats import analyze

    values = [str([{"channels": c, "kernel": 3, "padding": "same", "pool": "max"}] * 2) for c in (16, 32)]
    snap = _snapshot([], key="model.blocks", values=values)
    snap.trials["label"] = ["narrow", "narrow", "wide", "wide"]
    sink = FigureSink()
    caption = metric_vs_key(analyze(snap), "model.blocks", sink)
    (ax,) = sink.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["narrow", "wide"] and ax.get_xlabel() == "model.blocks"
    assert "Values of" not in caption


@pytest.mark.parametrize("inputs, log", [(8, False), (400, True)])
def test_the_ard_histogram_counts_in_whole_numbers_log_only_for_a_tall_peak(inputs, log):
    from nnstudy.report._figures import FigureSink
    from nnstudy.report._figures_unsupervised import ard_weight_histogram
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    coef = np.zeros((1, inputs))
    coef[0, 1] = 0.2
    buf = io.BytesIO()
    np.savez(buf, coef=coef)
    sink = FigureSink()
    ard_weight_histogram(analyze(_snapshot([], [Artifact("t0", "relevance.npz", buf.getvalue())])), sink)
    fig = sink.figure
    fig.canvas.draw()
    (ax,) = fig.axes
    assert ax.get_yscale() == ("log" if log else "linear")
    assert ax.get_ylabel() == ("inputs (log scale)" if log else "inputs")
    low, high = ax.get_ylim()
    ticks = [t.get_text() for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert ticks == (["1", "10", "100"] if log else ["0", "1", "2", "3", "4", "5", "6", "7"])


@pytest.mark.parametrize("name", ["pca_curves", "pca_explained"])
def test_pca_figures_tick_whole_numbers_of_components(name):
    from nnstudy.report import _figures_classical, _figures_unsupervised
    from nnstudy.report._figures import FigureSink
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    rmse = np.array([[0.9, 0.44, 0.23, 0.08, 0.0]])
    buf = io.BytesIO()
    np.savez(buf, k=np.arange(5), own=rmse, sklearn=rmse, splits=np.array(["test"]),
             explained=np.array([0.72, 0.96, 0.99, 1.0]), explained_sklearn=np.array([0.72, 0.96, 0.99, 1.0]))
    draw = getattr(_figures_classical, name, None) or getattr(_figures_unsupervised, name)
    sink = FigureSink()
    draw(analyze(_snapshot([], [Artifact("t0", "pca_curves.npz", buf.getvalue())])), sink)
    fig = sink.figure
    fig.canvas.draw()
    (ax,) = fig.axes
    low, high = ax.get_xlim()
    ticks = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert ticks == (["0", "1", "2", "3", "4"] if name == "pca_curves" else ["1", "2", "3", "4"])


def test_rbm_filters_title_is_wrapped_inside_the_figure_without_a_trailing_bar():
    from nnstudy.report._figures import FigureSink
    from nnstudy.report._figures_classical import rbm_filters
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    buf = io.BytesIO()
    np.savez(buf, w=np.random.default_rng(0).standard_normal((16, 8, 8)), total=np.array(16))
    sink = FigureSink()
    rbm_filters(analyze(_snapshot([], [Artifact("t0", "rbm_filters.npz", buf.getvalue())])), sink)
    fig = sink.figure
    fig.canvas.draw()
    title = fig._suptitle
    assert title.get_text().replace("\n", " ") == "RBM filters (weights of each hidden unit): lr=0.1 (seed 0)"
    assert "\n" in title.get_text() and _inside(fig, title)


def test_one_epoch_of_a_gan_tells_generator_from_discriminator_and_ticks_epoch_1():
    from nnstudy.report._figures import FigureSink, learning_curves
    from nnstudy.report._figures_generative import gan_losses
    from nnstudy.report._stats import analyze

    hist = [(f"t{i}", 1, m, v) for i in range(2) for m, v in (("g_loss", 1.5), ("d_loss", 0.7), ("train_loss", 2.2),
                                                             ("d_real", 0.6), ("d_fake", 0.4))]
    a = analyze(_snapshot(hist))
    sink = FigureSink()
    gan_losses(a, sink)
    loss, prob = sink.figure.axes
    assert [(line.get_label(), line.get_marker()) for line in loss.get_lines()] == [("g_loss", "o"), ("d_loss", "s")]
    sink.figure.canvas.draw()
    assert [t.get_text() for t in loss.get_xticklabels()] == ["1"] == [t.get_text() for t in prob.get_xticklabels()]
    caption = learning_curves(a, sink)
    (ax,) = sink.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["train"] and ax.get_title() == "train loss"
    assert caption.startswith("Final train values: every trial recorded one epoch;")


def test_conv_blocks_are_ticked_and_labelled_in_short():
    from nnstudy.report._figures import FigureSink, _label, metric_vs_key
    from nnstudy.report._stats import analyze

    values = [str([{"channels": 32, "kernel": 7, "padding": "same", "pool": "max"}, {"channels": 64, "pool": "max"}]),
              str([{"channels": 16, "pool": "max", "dropout": 0.25}, {"channels": 128, "batch_norm": True,
                                                                      "pool": "global_avg"}])]
    a = analyze(_snapshot([], key="model.blocks", values=values))
    sink = FigureSink()
    metric_vs_key(a, "model.blocks", sink)
    (ax,) = sink.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[32@k7 same max,\n64@k3 max]",
                                                            "[16@k3 max\ndrop0.25, 128@k3\nbn gap]"]
    assert _label(a, 1) == "blocks=[16@k3 max drop0.25,\n128@k3 bn gap]"


def test_a_key_a_configuration_does_not_use_is_left_out_of_its_line_label():
    import pandas as pd

    from nnstudy.report._figures import FigureSink, metric_vs_key
    from nnstudy.report._stats import analyze

    snap = _snapshot([], key="train.engine", values=("torch", "classical"))
    snap.trials["model.kind"] = ["mlp", "mlp", "ols", "ols"]
    snap.trials["model.hidden"] = pd.Series(["[16]", "[16]", None, None], dtype=object)
    snap.swept_keys[:] = ["train.engine", "model.kind", "model.hidden"]
    sink = FigureSink()
    metric_vs_key(analyze(snap), "train.engine", sink)
    # not 'kind=ols, hidden=': a key the configuration does not use
    (legend,) = sink.figure.legends or [sink.figure.axes[0].get_legend()]
    assert [t.get_text() for t in legend.get_texts()] == ["kind=mlp, hidden=[16]", "kind=ols"]


def test_u_matrix_labels_are_outlined_to_read_on_dark_cells():
    from matplotlib.colors import to_rgba

    from nnstudy.report._figures import FigureSink
    from nnstudy.report._figures_classical import som_umatrix
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    sink = FigureSink()
    som_umatrix(analyze(_snapshot([], [Artifact("t0", "som.npz", _som(2, 2))])), sink)
    labels = [t for t in sink.figure.axes[0].texts if t.get_text() in ("set", "ver", "vir")]
    assert len(labels) == 4
    for t in labels:
        (stroke,) = t.get_path_effects()
        assert to_rgba(stroke._gc["foreground"]) == (1.0, 1.0, 1.0, 1.0)


def test_the_confusion_matrix_has_a_colour_bar_of_the_share_of_the_true_class():
    from nnstudy.report._figures import FigureSink
    from nnstudy.report._figures_deep import confusion_matrix
    from nnstudy.report._stats import analyze
    from nnstudy.store._snapshot import Artifact

    buf = io.BytesIO()
    np.savez(buf, y_true=np.array([0, 0, 1, 1]), y_pred=np.array([0, 1, 1, 1]), classes=np.array(["a", "b"]))
    sink = FigureSink()
    confusion_matrix(analyze(_snapshot([], [Artifact("t0", "predictions.npz", buf.getvalue())])), sink)
    fig = sink.figure
    fig.canvas.draw()
    matrix = fig.axes[0]
    (scale,) = matrix.child_axes
    assert scale.get_ylabel() == "share of the true class" and scale.get_ylim() == (0.0, 1.0)
    image, box = matrix.images[0].get_window_extent(), scale.get_window_extent()
    assert box.x0 >= image.x1 and (box.y0, box.y1) == pytest.approx((image.y0, image.y1), abs=1.5)


@pytest.mark.parametrize("low", [1e-3, 1e-30])
def test_a_log_axis_reaches_eight_decades_below_its_top_not_down_to_rounding(low):
    """A loss that is rounding (PCA with every component: 1e-30) must not stretch the axis over 30 decades."""
    from matplotlib.figure import Figure

    from nnstudy.report._figures import _maybe_log_y

    ax = Figure().subplots()
    values = [0.5, 0.2, 0.01, low]
    ax.plot(range(4), values)
    _maybe_log_y(ax, values)
    bottom, top = ax.get_ylim()
    assert ax.get_yscale() == "log" and top >= 0.5
    if low == 1e-3:  # matplotlib's own limits: every value inside
        assert bottom <= low
    else:
        assert bottom == pytest.approx(0.5e-8) and np.log10(top / bottom) == pytest.approx(8.4)
