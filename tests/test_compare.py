"""`nnstudy compare` end to end on a real SQLite store, and `nnstudy.compare` from Python."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

import nnstudy
from nnstudy.cli import main
from nnstudy.report._compare import parse_where
from nnstudy.report._significance import holm
from nnstudy.spec import Trial
from nnstudy.store import Store

EVIL = "<script>alert(1)</script>"
# study -> (swept keys, base spec, metrics, {configuration point: [(test_accuracy, train_time_s)] per seed})
STUDIES = {
    "wide": (["model.hidden"], {"model": {"hidden": [16]}, "train": {"lr": 0.1}},
             ["test_accuracy", "train_time_s"],
             {(("model.hidden", (8,)),): [(0.80, 1.0), (0.82, 1.1), (0.81, 0.9), (0.79, 1.05)],
              (("model.hidden", (32,)),): [(0.88, 2.0), (0.90, 2.2), (0.89, 2.1), (0.905, 1.9)]}),
    "deep": ([], {"model": {"hidden": [32]}, "train": {"lr": 0.1}}, ["test_accuracy", "train_time_s"],
             {(): [(0.91, 3.0), (0.92, 3.3), (0.93, 3.1)]}),
    "single": ([], {"model": {"hidden": [32]}, "train": {"lr": 0.1}}, ["test_accuracy"],
               {(): [(0.95, 1.0)]}),
    "evil": (["model.note"], {"model": {"hidden": [8]}}, ["test_accuracy"],
             {(("model.note", EVIL),): [(0.5, 1.0), (0.6, 1.0)], (("model.note", "plain"),): [(0.7, 1.0), (0.8, 1.0)]}),
}


def values(study: str, point: tuple, k: int = 0) -> list[float]:
    return [v[k] for v in STUDIES[study][3][point]]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "runs"
    db = Store(path)
    for name, (swept, spec, metrics, configs) in STUDIES.items():
        trials = []
        for c, (point, runs) in enumerate(configs.items()):
            for seed, _ in enumerate(runs):
                p = {k: list(v) if isinstance(v, tuple) else v for k, v in point}
                trials.append(Trial(f"{name[:3]}{c}{seed}", seed, {}, p))
        db.register(name, f"study {name}", spec, "", "classification", metrics, swept, trials, {"device": "cpu"})
        finals = [r for runs in configs.values() for r in runs]
        for t, (acc, secs) in zip(trials, finals):
            assert db.claim(name, t.trial_id)
            db.finish(name, t.trial_id, "done", {"test_accuracy": acc, "train_time_s": secs}, [], {}, None)
    return path


W8, W32 = (("model.hidden", (8,)),), (("model.hidden", (32,)),)


def test_two_configurations_of_one_study(store, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "wide", "--where", "model.hidden=[8]", "--where", "model.hidden=[32]",
               "--store", str(store), "--out", str(out)])
    assert rc == 0
    t = pd.read_csv(out / "compare.csv")
    assert t["metric"].tolist() == ["test_accuracy", "train_time_s"]
    assert t["a"].iloc[0] == "wide [model.hidden=[8]]" and t["b"].iloc[0] == "wide [model.hidden=[32]]"
    p = [st.ttest_ind(values("wide", W8, k), values("wide", W32, k), equal_var=False).pvalue for k in (0, 1)]
    np.testing.assert_allclose(t["p_welch"], p, rtol=1e-9)
    np.testing.assert_allclose(t["p_holm"], holm(p), rtol=1e-12)
    assert t["p_holm"].iloc[0] == pytest.approx(2 * min(p), rel=1e-12)  # the smaller p, times 2
    assert t["a_n"].tolist() == [4, 4] and t["b_n"].tolist() == [4, 4]
    assert t["a_mean"].iloc[0] == pytest.approx(0.805) and t["b_mean"].iloc[0] == pytest.approx(0.89375)
    assert t["a_sem"].iloc[0] == pytest.approx(st.sem(values("wide", W8)))
    assert t["diff"].iloc[0] == pytest.approx(0.89375 - 0.805)
    # wider is more accurate (higher is better) but slower (lower is better): A wins on time
    assert t["verdict"].tolist() == ["B better", "A better"]
    md = (out / "compare.md").read_text()
    assert "| test_accuracy | 0.805 ± 0.006 (n = 4) | 0.894 ± 0.006 (n = 4) | +0.089 |" in md
    assert "Holm-corrected over the 2 metrics tested" in md
    shown = capsys.readouterr().out
    assert "B better" in shown and "wide [model.hidden=[32]]" in shown and f"wrote 3 files to {out}" in shown


def test_two_studies_with_one_where_for_both(store):
    """--where once applies to both sides: B does not sweep model.hidden, and its base value matches."""
    c = nnstudy.compare("wide", "deep", where="model.hidden=[32]", metric="test_accuracy", store=store)
    assert c.a.label == "wide [model.hidden=[32]]" and c.b.label == "deep"
    assert c.table["metric"].tolist() == ["test_accuracy"]
    p = st.ttest_ind(values("wide", W32), values("deep", ()), equal_var=False).pvalue
    assert c.table["p_welch"].iloc[0] == pytest.approx(p, rel=1e-9) == c.table["p_holm"].iloc[0]
    assert c.table["verdict"].iloc[0] == ("B better" if p < 0.05 else "no significant difference")


def test_one_seed_says_no_test(store, tmp_path):
    c = nnstudy.compare("deep", "single", store=store)
    assert c.table["metric"].tolist() == ["test_accuracy"]  # the only report metric both have
    assert math.isnan(c.table["p_welch"].iloc[0]) and c.table["verdict"].iloc[0].startswith("no test")
    assert c.note().startswith("No significance test is possible")
    c.write(tmp_path)
    assert "No significance test is possible" in (tmp_path / "compare.md").read_text()


def test_default_output_folder_and_escaped_html(store, capsys):
    rc = main(["compare", "evil", "--where", f"model.note={EVIL}", "--where", "model.note=plain",
               "--store", str(store)])
    assert rc == 0
    out = store / "compare" / "evil-model.note-script-alert-1-script-vs-evil-model.note-plain"
    html = (out / "compare.html").read_text()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "default-src 'none'" in html
    assert EVIL in capsys.readouterr().out  # the terminal shows the text as it is


def test_metric_may_name_a_stored_metric_that_is_not_a_report_metric(store):
    """evil reports test_accuracy only; its trials also stored train_time_s, which --metric can compare."""
    c = nnstudy.compare("evil", where=[f"model.note={EVIL}", "model.note=plain"], metric="train_time_s", store=store)
    assert c.table["metric"].tolist() == ["train_time_s"]
    assert c.table[["a_n", "a_mean", "b_n", "b_mean"]].values.tolist() == [[2, 1.0, 2, 1.0]]


@pytest.mark.parametrize("args, message", [
    (["nope", "wide"], "no study named 'nope'"),
    (["wide"], "compare wide with itself: give --where twice, once per side"),  # not "choose one" (then twice)
    (["wide", "--where", "model.hidden=[8]"], "compare wide with itself: give --where twice"),
    (["wide", "deep"], "wide: 2 configurations match; choose one with --where"),
    (["wide", "--where", "model.hidden=[64]"], "no trial has model.hidden=[64] (it takes: [8], [32])"),
    (["wide", "--where", "model.depth=3"], "--where model.depth: not a key of the study"),
    (["wide", "deep", "--where", "train.lr=0.5"],
     "wide: --where train.lr=0.5 matches no trial: train.lr is 0.1 in every trial"),
    (["wide", "deep", "--where", "train={a = 1}"], "wide: --where train={\"a\": 1} matches no trial: train is {"),
    (["wide", "--where", 'train={a = "' + "x" * 400 + '", b = '],
     "… (384 more characters left out): not a valid TOML value ("),
    (["wide", "--where", "oops"], "--where oops: expected KEY=VALUE"),
    (["wide", "--where", "model.hidden=[8]", "--where", "model.hidden=[8]"], "A and B are the same trials"),
    (["wide", "--where", "a=1", "--where", "b=2", "--where", "c=3"], "--where given 3 times"),
    (["wide", "deep", "--where", "model.hidden=[32]", "--metric", "val_loss"],
     "--metric val_loss: not a metric of both sides (both have: test_accuracy, train_time_s)"),
])
def test_bad_input_is_one_line_and_exit_2(store, capsys, args, message):
    assert main(["compare", *args, "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (store / "compare" / "wide-vs-wide").exists()


def test_parse_where():
    assert parse_where("model.hidden=[16, 16],train.lr=0.1") == {"model.hidden": [16, 16], "train.lr": 0.1}
    assert parse_where("model.activation=relu") == {"model.activation": "relu"}
    with pytest.raises(nnstudy.StudyError):
        parse_where("train.lr=")
