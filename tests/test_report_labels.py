"""Named configurations (issue 19 item 4): [[sweep]] labels stay out of configs and ids, live in the store's
point, and name rows, legends and panels; without labels a legend shows only the keys that differ, by short
name. Keys a configuration does not use are left out of its row, and an SE of exactly 0 prints (item 10)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nnstudy.errors import StudyError
from nnstudy.report import ReportWarning, write_report
from nnstudy.report._figures import FigureSink, _label, learning_curves
from nnstudy.report._stats import analyze
from nnstudy.spec._expand import expand
from nnstudy.spec._load import validate
from nnstudy.store._snapshot import StudySnapshot
from nnstudy.store._store import Store

RAW = {"study": {"name": "named"}, "data": {"name": "moons"}, "model": {"hidden": [8]},
       "train": {"epochs": 1, "optimizer": "momentum"},
       "sweep": [{"label": "Baseline"}, {"label": "Wide", "model.hidden": [[32], [64]]},
                 {"train.optimizer": ["adam"]}],
       "trials": {"seeds": 2}}


def _unlabelled(raw: dict) -> dict:
    return {**raw, "sweep": [{k: v for k, v in g.items() if k != "label"} for g in raw["sweep"]]}


def test_a_label_stays_out_of_the_config_and_the_trial_id():
    study = validate(RAW, "<dict>")
    trials = expand(study)
    plain = expand(validate(_unlabelled(RAW), "<dict>"))
    assert [t.trial_id for t in trials] == [t.trial_id for t in plain]  # the same ids as without labels
    assert [t.config for t in trials] == [t.config for t in plain] and "label" not in str(trials[0].config)
    assert [t.label for t in trials] == ["Baseline"] * 2 + ["Wide"] * 4 + [None] * 2
    dumped = study.model_dump(mode="json")  # the stored spec keeps the labels where the file wrote them
    assert [g.get("label") for g in dumped["sweep"]] == ["Baseline", "Wide", None]
    assert validate(dumped, "<dict>").grid_labels() == ["Baseline", "Wide", None]


@pytest.mark.parametrize("sweep, message", [
    ([{"label": ""}], "sweep: label '': a label is a name of 1 to 80 characters"),
    ([{"label": 3}], "sweep: label 3: a label is a name"),
    ([{"label": "A"}, {"label": "A", "train.lr": [0.5]}], "label 'A' names two [[sweep]] tables"),
])
def test_a_bad_label_is_one_line(sweep, message):
    with pytest.raises(StudyError) as e:
        validate({**RAW, "sweep": sweep}, "s.toml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_report_configurations_names_labels_or_numbers():
    ok = expand(validate({**RAW, "report": {"configurations": ["Wide", 1]}}, "s.toml"), "s.toml")
    assert len(ok) == 8
    with pytest.raises(StudyError, match=r"report.configurations: 'Nope' is no \[\[sweep\]\] label \(labels: "
                                         r"'Baseline', 'Wide'; or give a configuration's number, 1 to 4\)"):
        expand(validate({**RAW, "report": {"configurations": ["Nope"]}}, "s.toml"), "s.toml")
    with pytest.raises(StudyError, match="report.configurations: 5: the study has 4 configuration"):
        expand(validate({**RAW, "report": {"configurations": [5]}}, "s.toml"), "s.toml")
    assert "configurations" not in validate(RAW, "s.toml").model_dump(mode="json")["report"]  # unset: not dumped


def test_the_store_keeps_labels_in_the_point_and_a_renamed_label_follows(tmp_path):
    study = validate(RAW, "<dict>")
    store = Store(tmp_path)
    spec = study.model_dump(mode="json")
    keys = ["model.hidden", "train.optimizer"]
    store.register("named", "", spec, "", "classification", ["test_accuracy"], keys, expand(study), {})
    snap = store.snapshot("named")
    assert list(snap.trials["label"].fillna("-")) == ["Baseline"] * 2 + ["Wide"] * 4 + ["-"] * 2
    renamed = {**RAW, "sweep": [{"label": "Small"}, *RAW["sweep"][1:]]}
    store.register("named", "", spec, "", "classification", ["test_accuracy"], keys,
                   expand(validate(renamed, "<dict>")), {})
    again = store.snapshot("named")
    assert list(again.trials["trial_id"]) == list(snap.trials["trial_id"])  # the same trials, relabelled
    assert list(again.trials["label"].fillna("-"))[:2] == ["Small", "Small"]


# ---------------------------------------------------------------- the report, from a snapshot

# (label, hidden, optimizer, momentum) -> test_accuracy of seeds 0, 1
CONFIGS = [("Baseline", [8], "momentum", 0.9, [0.80, 0.84]),
           ("Wide", [32], "momentum", 0.9, [0.86, 0.90]),
           ("Wide", [64], "momentum", 0.9, [0.88, 0.88]),  # an SE of exactly 0
           (None, [8], "adam", 0.9, [0.82, 0.83])]


def snapshot(labels: bool = True) -> StudySnapshot:
    rows, hist = [], []
    for c, (label, hidden, opt, mom, accs) in enumerate(CONFIGS):
        for seed, acc in enumerate(accs):
            tid = f"t{c}{seed}"
            rows.append({"trial_id": tid, "seed": seed, "status": "done", "error": None, "model.hidden": hidden,
                         "train.optimizer": opt, "train.momentum": mom, "test_accuracy": acc,
                         **({"label": label} if labels else {})})
            for e in (1, 2):
                for split in ("train", "val", "test"):
                    hist.append({"trial_id": tid, "epoch": e, "metric": f"{split}_loss", "value": 1.0 / e + c})
    return StudySnapshot(name="named", description="", spec={"train": {"optimizer": "momentum"}}, source="",
                         task="classification", metrics=["test_accuracy"],
                         swept_keys=["model.hidden", "train.optimizer", "train.momentum"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(hist))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    out = tmp_path_factory.mktemp("labels")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)
        write_report(snapshot(), out)
    return out


def test_labels_name_the_rows_of_every_table(labelled):
    results = pd.read_csv(labelled / "results.csv")
    assert list(results.columns[:4]) == ["label", "model.hidden", "train.optimizer", "train.momentum"]
    assert list(results["label"].fillna("")) == ["Baseline", "Wide (hidden=[32])", "Wide (hidden=[64])", ""]
    md = (labelled / "report.md").read_text()
    assert "| configuration | model.hidden | train.optimizer | train.momentum | n | test_accuracy |" in md
    assert "| Wide (hidden=[64]) | [64] | momentum | 0.9 | 2 | 0.8800 ± 0.0000 ≈ |" in md  # SE 0 prints
    assert "|  | [8] | adam |  | 2 | 0.825 ± 0.005 ≈ |" in md  # Adam uses no momentum: its cell is empty
    assert "<td data-v=\"Wide (hidden=[32])\">Wide (hidden=[32])</td>" in (labelled / "report.html").read_text()
    tex = (labelled / "results.tex").read_text()
    assert "configuration & model.hidden" in tex and "Baseline & [8] & momentum & 0.9 & 2" in tex
    assert "$0.8800 \\pm 0.0000^{\\dagger}$" in tex and "\n & [8] & adam &  & 2 &" in tex


def test_labels_name_the_legend_and_learning_curves_draw_the_test_split():
    a = analyze(snapshot())
    sink = FigureSink()
    caption = learning_curves(a, sink)
    legend = [t.get_text() for t in sink.figure.legends[0].get_texts()]
    assert legend == ["Baseline", "Wide (hidden=[32])", "Wide (hidden=[64])", "hidden=[8], optimizer=adam",
                      "train", "val", "test"]
    assert "dotted = test" in caption
    lines = [ln for ln in sink.figure.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(lines) == 4 and np.allclose(lines[0].get_ydata(), [1.0, 0.5])  # test_loss, epochs 1 and 2


def test_without_labels_a_legend_shows_only_the_keys_that_differ_by_short_name():
    a = analyze(snapshot(labels=False))
    assert not a.labelled and "label" not in a.summary.columns
    # momentum is 0.9 everywhere: left out; model.hidden and train.optimizer by their last part
    assert [_label(a, i, 200) for i in range(4)] == [
        "hidden=[8], optimizer=momentum", "hidden=[32], optimizer=momentum", "hidden=[64], optimizer=momentum",
        "hidden=[8], optimizer=adam"]
    assert max(len(line) for i in range(4) for line in _label(a, i).split("\n")) <= 38  # wrapped, never runs off


@pytest.mark.parametrize("config, key, left_out", [
    ({"train.optimizer": "adam"}, "train.momentum", True), ({"train.optimizer": "nesterov"}, "train.momentum", False),
    ({"train.optimizer": "sgd"}, "train.beta1", True), ({"train.optimizer": "adamw"}, "train.beta2", False),
    ({"train.optimizer": "adam"}, "train.rho", True), ({"train.optimizer": "adadelta"}, "train.rho", False),
    ({"model.kind": "xgboost"}, "train.lr", True), ({"model.kind": "mlp"}, "train.lr", False),
    ({"model.kind": "random_forest"}, "train.momentum", True), ({}, "train.momentum", False),  # the file's sgd+mom.
])
def test_keys_a_configuration_does_not_use(config, key, left_out):
    from nnstudy.spec._unused import unused

    assert unused(config, key, {"model": {"kind": "mlp"}, "train": {"optimizer": "momentum"}}) is left_out


VAE = {"model": {"kind": "vae", "hidden": [16], "latent_dim": 4, "channels": [4]}}


@pytest.mark.parametrize("config, key, spec, left_out", [
    ({"model.architecture": "mlp", "model.channels": "[8]"}, "model.channels", VAE, True),  # as the tables hold it
    ({"model.architecture": "conv", "model.channels": [8]}, "model.channels", VAE, False),
    ({"model.architecture": "conv", "model.hidden": "[32]"}, "model.hidden", VAE, True),
    ({"model.architecture": "mlp", "model.hidden": [32]}, "model.hidden", VAE, False),
    ({"model.hidden": "[]", "model.activation": "tanh"}, "model.activation", {}, True),  # a linear model
    ({"model.activation": "tanh"}, "model.activation", {}, False),  # the mlp kind's default hidden layers
    ({"model.kind": "mlp"}, "model.channels", VAE, False),  # the VAE's keys make no mlp section: shown
])
def test_model_keys_a_configuration_does_not_read(config, key, spec, left_out):
    """spec/_unread.UNREAD_MODEL_KEYS on a configuration with its kind's defaults: the results table leaves such a
    cell empty and a legend leaves the key out, as for an optimizer's key."""
    from nnstudy.spec._unused import unused

    assert unused(config, key, spec) is left_out


def test_a_mixed_sweep_leaves_the_cells_of_an_unread_model_key_empty():
    """architecture x channels of a VAE: the mlp rows do not read channels; their cells are empty in the results
    table and their legend entries leave channels out."""
    rows, hist = [], []
    grid = [(arch, ch) for arch in ("conv", "mlp") for ch in ("[4]", "[8]")]
    for c, (arch, ch) in enumerate(grid):
        rows.append({"trial_id": f"t{c}", "seed": 0, "status": "done", "error": None, "model.architecture": arch,
                     "model.channels": ch, "test_loss": 40.0 - c})
        hist += [{"trial_id": f"t{c}", "epoch": e, "metric": f"{split}_loss", "value": 50.0 / e + c}
                 for e in (1, 2) for split in ("train", "val")]
    snap = StudySnapshot(name="mix", description="", spec=VAE, source="", task="reconstruction",
                         metrics=["test_loss"], swept_keys=["model.architecture", "model.channels"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(hist))
    from nnstudy.report._cells import key_text

    a = analyze(snap, tests=False)
    assert [key_text(a, i, "model.channels") for i in range(4)] == ["[4]", "[8]", "", ""]
    assert [_label(a, i, 200) for i in range(4)] == [
        "architecture=conv, channels=[4]", "architecture=conv, channels=[8]", "architecture=mlp", "architecture=mlp"]


def _optimizer_grid() -> StudySnapshot:
    """optimizer x momentum x lr, 1 seed: the sgd configurations do not read momentum."""
    rows, hist = [], []
    grid = [(o, m, lr) for o in ("sgd", "momentum") for m in (0.5, 0.9) for lr in (0.1, 0.01)]
    for c, (opt, mom, lr) in enumerate(grid):
        rows.append({"trial_id": f"t{c}", "seed": 0, "status": "done", "error": None, "train.optimizer": opt,
                     "train.momentum": mom, "train.lr": lr, "test_accuracy": 0.8 + c / 100})
        hist += [{"trial_id": f"t{c}", "epoch": e, "metric": f"{split}_loss", "value": 1.0 / e + c}
                 for e in (1, 2) for split in ("train", "val")]
    return StudySnapshot(name="grid", description="", spec={"train": {"optimizer": "sgd"}}, source="",
                         task="classification", metrics=["test_accuracy"],
                         swept_keys=["train.optimizer", "train.momentum", "train.lr"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(hist))


def test_a_legend_leaves_out_a_key_the_configuration_does_not_read():
    """As the results table leaves the sgd rows' momentum cell empty (spec/_unused.py), their legend entries
    say 'optimizer=sgd, lr=0.1', not 'optimizer=sgd, momentum=0.5, lr=0.1': in the learning curves (a
    configuration's label) and in metric_vs_key's lines (a combination of the other keys)."""
    from nnstudy.report._figures import metric_vs_key

    a = analyze(_optimizer_grid())
    sink = FigureSink()
    learning_curves(a, sink)
    legend = [t.get_text() for t in sink.figure.legends[0].get_texts()]
    assert legend[:8] == ["optimizer=sgd, lr=0.1", "optimizer=sgd, lr=0.01"] * 2 + [
        "optimizer=momentum, momentum=0.5,\nlr=0.1", "optimizer=momentum, momentum=0.5,\nlr=0.01",
        "optimizer=momentum, momentum=0.9,\nlr=0.1", "optimizer=momentum, momentum=0.9,\nlr=0.01"]
    assert _label(a, 0, 200) == "optimizer=sgd, lr=0.1"
    assert _label(a, 4, 200) == "optimizer=momentum, momentum=0.5, lr=0.1"
    sink = FigureSink()
    metric_vs_key(a, "train.lr", sink)
    (legend,) = sink.figure.legends or [sink.figure.axes[0].get_legend()]
    assert [t.get_text() for t in legend.get_texts()] == [  # sgd at momentum 0.9 repeats sgd at 0.5: drawn once
        "optimizer=sgd", "optimizer=momentum, momentum=0.5", "optimizer=momentum, momentum=0.9"]


def test_configurations_that_do_not_read_the_key_are_a_dashed_level_across_it():
    """metric_vs_key against momentum: sgd trains the same at every momentum, so its configurations are a dashed
    level (± 1 SE shaded) across the axis, labelled as reading no momentum, not points at momentum values they
    never used; the caption says so. The momentum optimizer's configurations are lines through the values."""
    from matplotlib.lines import Line2D

    from nnstudy.report._figures import metric_vs_key

    a = analyze(_optimizer_grid())
    sink = FigureSink()
    caption = metric_vs_key(a, "train.momentum", sink)
    (legend,) = sink.figure.legends or [sink.figure.axes[0].get_legend()]
    assert [t.get_text() for t in legend.get_texts()] == [
        "optimizer=sgd, lr=0.1 (reads no\nmomentum)", "optimizer=sgd, lr=0.01 (reads no\nmomentum)",
        "optimizer=momentum, lr=0.1", "optimizer=momentum, lr=0.01"]
    ax = sink.figure.axes[0]
    levels = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert sorted(round(float(ln.get_ydata()[0]), 4) for ln in levels) == [0.8, 0.81]  # t0 and t1, sgd at 0.5
    curves = [ln for ln in ax.get_lines() if isinstance(ln, Line2D) and ln.get_linestyle() == "-"
              and len(ln.get_xdata()) == 2]
    assert sorted(tuple(round(float(y), 4) for y in ln.get_ydata()) for ln in curves) == [(0.84, 0.86), (0.85, 0.87)]
    assert "Dashed: configurations that do not read train.momentum" in caption
    assert "Dashed" not in metric_vs_key(a, "train.lr", FigureSink())


def test_a_mixed_sweep_leaves_a_key_out_of_the_rows_labels_and_legends_of_the_configurations_that_do_not_read_it(
        tmp_path):
    """A conv autoencoder reads model.activation in every block, a DCGAN in none (its activations are fixed):
    swept beside each other, the DCGAN rows leave the activation cell of the results table empty, their label
    drops it from its suffix ('DCGAN', not 'DCGAN (activation=relu)'), and their legends leave it out, in the
    learning curves and in metric_vs_key's lines. The trials' resolved sections come from the store
    (StudySnapshot.sections)."""
    import nnstudy
    from nnstudy.report._figures import metric_vs_key

    study = {"study": {"name": "mixed"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 64},
             "model": {"kind": "ae", "architecture": "conv", "channels": [4]},
             "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 1}, "trials": {"seeds": 1},
             "sweep": [{"label": "AE", "model.encoding_dim": [4], "model.activation": ["relu", "tanh"]},
                       {"label": "DCGAN", "model.kind": ["gan"], "model.latent_dim": [4],
                        "model.activation": ["relu", "tanh"]}]}
    run = nnstudy.run(study, store=tmp_path / "store", workers=1)
    md = (run.report_dir / "report.md").read_text()
    assert "| configuration | model.encoding_dim | model.activation | model.kind | model.latent_dim | n |" in md
    assert "| AE (activation=relu) | 4 | relu | ae |  | 1 |" in md
    assert "| AE (activation=tanh) | 4 | tanh | ae |  | 1 |" in md
    assert md.count("| DCGAN |  |  | gan | 4 | 1 |") == 2
    a = analyze(run.snapshot())
    assert a.given == ["AE (activation=relu)", "AE (activation=tanh)", "DCGAN", "DCGAN"]
    assert [a.unread(i, "model.activation") for i in range(4)] == [False, False, True, True]
    sink = FigureSink()
    learning_curves(a, sink)
    assert [t.get_text() for t in sink.figure.legends[0].get_texts()][:4] == a.given
    sink = FigureSink()
    metric_vs_key(a, "model.kind", sink)
    (legend,) = sink.figure.legends or [sink.figure.axes[0].get_legend()]
    assert [t.get_text() for t in legend.get_texts()] == [
        "encoding_dim=4, activation=relu", "encoding_dim=4, activation=tanh", "latent_dim=4"]  # DCGANs repeat


def test_a_labels_suffix_leaves_out_a_key_the_configuration_does_not_read_or_lacks():
    """A [[sweep]] label its table gives several configurations (optimizer x momentum x lr) is followed by what
    tells them apart, less what their row of the results table leaves empty: momentum for sgd, which does not
    read it, and a key the configuration lacks (None: 'lr=', before)."""
    snap = _optimizer_grid()
    snap.trials["label"] = "Opt"
    snap.trials["train.lr"] = snap.trials["train.lr"].astype(object)
    snap.trials.loc[7, "train.lr"] = None
    assert analyze(snap).given == [
        "Opt (optimizer=sgd, lr=0.1)", "Opt (optimizer=sgd, lr=0.01)", "Opt (optimizer=sgd, lr=0.1)",
        "Opt (optimizer=sgd, lr=0.01)", "Opt (optimizer=momentum, momentum=0.5, lr=0.1)",
        "Opt (optimizer=momentum, momentum=0.5, lr=0.01)", "Opt (optimizer=momentum, momentum=0.9, lr=0.1)",
        "Opt (optimizer=momentum, momentum=0.9)"]


def test_a_stored_config_of_a_kind_no_longer_installed_falls_back_to_the_row():
    """A store written with a plugin's model kind that is gone: the report still draws, leaving out the optimizer
    keys by the row (sgd: no momentum) as for a snapshot without stored sections."""
    snap = _optimizer_grid()
    snap.sections = {tid: {"model": {"kind": "gone-plugin"}, "train": {}} for tid in snap.trials["trial_id"]}
    a = analyze(snap)
    assert [a.unread(i, "train.momentum") for i in range(8)] == [True] * 4 + [False] * 4


def test_a_swept_key_with_one_value_where_it_is_set_gets_no_figure_against_it():
    """A key only one [[sweep]] table sets, to one value (optimizers-size's train.momentum), would be a column of
    points over a single tick: figure_jobs draws no metric_vs_ for it, and still draws it for the keys that vary."""
    from nnstudy.report._figures import figure_jobs

    snap = _optimizer_grid()
    snap.trials["train.momentum"] = [None if o == "sgd" else 0.9 for o in snap.trials["train.optimizer"]]
    names = [name for name, _ in figure_jobs(analyze(snap))[0]]
    assert "metric_vs_train.lr.png" in names and "metric_vs_train.optimizer.png" in names
    assert "metric_vs_train.momentum.png" not in names
    assert "metric_vs_train.momentum.png" in [name for name, _ in figure_jobs(analyze(_optimizer_grid()))[0]]


def test_a_configurations_name_in_tables_and_notes_leaves_out_the_keys_it_does_not_read():
    """The names of the Paired seeds table, the power and race notes: an sgd configuration is
    'train.optimizer=sgd, train.lr=0.1', without the momentum it does not read, as its results-table row leaves
    that cell empty. Where two sgd configurations differ only in momentum (they repeat each other), both keep it,
    or they would have one name."""
    snap = _optimizer_grid()
    a = analyze(snap)
    assert a.labels[:2] == ["train.optimizer=sgd, train.momentum=0.5, train.lr=0.1",
                            "train.optimizer=sgd, train.momentum=0.5, train.lr=0.01"]  # repeated at 0.9
    assert a.labels[4] == "train.optimizer=momentum, train.momentum=0.5, train.lr=0.1"
    one = snap.trials[snap.trials["train.momentum"] == 0.9].reset_index(drop=True)
    a = analyze(StudySnapshot(**{**snap.__dict__, "trials": one,
                                 "history": snap.history[snap.history["trial_id"].isin(one["trial_id"])]}))
    assert a.labels == ["train.optimizer=sgd, train.lr=0.1", "train.optimizer=sgd, train.lr=0.01",
                        "train.optimizer=momentum, train.momentum=0.9, train.lr=0.1",
                        "train.optimizer=momentum, train.momentum=0.9, train.lr=0.01"]
