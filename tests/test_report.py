"""The report: statistics against scipy, every file of the contract, escaping, valid PNGs."""

from __future__ import annotations

import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

try:
    import nnstudy.report  # noqa: F401
except ImportError:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import matplotlib.image as mpimg  # noqa: E402

from nnstudy.report import ReportWarning, format_mean_se, summarize, trials_table, write_report  # noqa: E402
from nnstudy.report._robust import COLUMNS as ROBUST_COLUMNS  # noqa: E402
from nnstudy.report._format import latex_escape  # noqa: E402
from nnstudy.store._snapshot import Artifact, StudySnapshot  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"
KEYS = ["train.lr", "model.hidden"]

# configuration -> list of (seed, status, test_accuracy, test_loss)
# A: 3 done; B: 2 done + 1 failed; C: 1 done + 1 diverged; D: only a pending trial (n = 0).
CONFIGS = {
    (0.1, (200, 200)): [(0, "done", 0.90, 0.30), (1, "done", 0.92, 0.25), (2, "done", 0.95, 0.20)],
    (0.1, (50,)): [(0, "done", 0.80, 0.10), (1, "done", 0.84, 0.12), (2, "failed", None, None)],
    (0.001, (200, 200)): [(0, "done", 0.70, 0.90), (1, "diverged", None, None)],
    (0.001, (50,)): [(0, "pending", None, None)],
}
A, B, C = [0.90, 0.92, 0.95], [0.80, 0.84], [0.70]
A_LOSS, B_LOSS = [0.30, 0.25, 0.20], [0.10, 0.12]


def _boundary_npz(seed: int) -> bytes:
    g = np.linspace(-2, 2, 30)
    xx, yy = np.meshgrid(g, g)
    zz = (xx + (0.2 * seed) * yy > 0).astype(int)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (40, 2))
    y = (x[:, 0] > 0).astype(int)
    buf = io.BytesIO()
    np.savez(buf, xx=xx, yy=yy, zz=zz, x=x, y=y, classes=np.array(["left", "right"]))
    return buf.getvalue()


def make_snapshot(*, metrics=("test_accuracy", "test_loss", "train_time_s"), evil: bool = False,
                  history: bool = True, artifacts: bool = True) -> StudySnapshot:
    rows, hist, arts = [], [], []
    for c, (cfg, trials) in enumerate(CONFIGS.items()):
        lr, hidden = cfg
        for seed, status, acc, loss in trials:
            tid = f"t{c}{seed}"
            done = status == "done"
            err = None
            if status == "failed":
                err = EVIL if evil else "RuntimeError: out of memory"
            elif status == "diverged":
                err = "loss is nan at epoch 2"
            rows.append({
                "trial_id": tid, "seed": seed, "status": status, "error": err,
                "train.lr": lr, "model.hidden": list(hidden),
                "train_loss": loss * 0.8 if done else None, "val_loss": loss if done else None,
                "test_loss": loss, "test_accuracy": acc,
                "train_time_s": 10.0 + seed + c if done else None,
                "epochs_run": (3 if seed == 2 else 5) if done else None,
                "started_at": "2024-05-01T10:00:00", "finished_at": "2024-05-01T10:01:00" if done else None,
            })
            if not done:
                continue
            epochs = 3 if seed == 2 else 5  # the seed-2 trials stop early
            for e in range(1, epochs + 1):
                for m, v in (("train_loss", loss * 2 / e), ("val_loss", loss * 2.2 / e),
                             ("train_accuracy", acc - 0.3 / e), ("val_accuracy", acc - 0.35 / e),
                             ("lr", lr), ("time_s", 2.0 * e),
                             ("grad_norm/0.weight", 1.0 / e), ("grad_norm/0.bias", 0.1 / e),
                             ("grad_norm/2.weight", 0.5 / e ** 2)):
                    hist.append({"trial_id": tid, "epoch": e, "metric": m, "value": v})
            arts.append(Artifact(tid, "decision_boundary.npz", _boundary_npz(seed)))
            arts.append(Artifact(tid, "weights.pt", b"not a figure"))
    source = '[study]\nname = "demo"\n' + (f'description = "{EVIL}"\n' if evil else "")
    return StudySnapshot(
        name=EVIL if evil else "demo-study",
        description=(f"Description with {EVIL}" if evil else "Learning rate & width, 3 seeds"),
        spec={"study": {"name": "demo"}},
        source=source,
        task="classification",
        metrics=list(metrics),
        swept_keys=list(KEYS),
        trials=pd.DataFrame(rows),
        history=pd.DataFrame(hist if history else [], columns=["trial_id", "epoch", "metric", "value"]),
        artifacts=arts if artifacts else [],
        environment={"nnstudy": "0.1.0", "numpy": np.__version__, "device": EVIL if evil else "cpu"},
        created_at="2024-05-01T09:59:00",
        updated_at="2024-05-01T10:05:00",
    )


def write(snap: StudySnapshot, out: Path) -> list[Path]:
    """write_report, with any skipped figure turned into a test failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)
        return write_report(snap, out)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "demo"
    write(make_snapshot(), out)
    return out


# ---------------------------------------------------------------- results.csv / summarize


def _expected(values):
    x = np.array(values, dtype=float)
    n = len(x)
    mean = x.sum() / n
    if n == 1:
        return mean, math.nan, math.nan, math.nan, math.nan
    std = math.sqrt(((x - mean) ** 2).sum() / (n - 1))
    sem = std / math.sqrt(n)
    assert sem == pytest.approx(st.sem(x))
    lo, hi = st.t.interval(0.95, n - 1, loc=mean, scale=sem)
    return mean, std, sem, lo, hi


def _check_stats(row, metric, values):
    got = [row[f"{metric}_{s}"] for s in ("mean", "std", "sem", "ci95_low", "ci95_high")]
    for g, e in zip(got, _expected(values)):
        if math.isnan(e):
            assert pd.isna(g)
        else:
            assert g == pytest.approx(e, rel=1e-12)


def test_summary_matches_hand_computation_and_scipy():
    s = summarize(make_snapshot())
    assert list(s.columns[:3]) == ["train.lr", "model.hidden", "n"]
    assert list(s.columns[3:8]) == [f"test_accuracy_{x}" for x in ("mean", "std", "sem", "ci95_low", "ci95_high")]
    r = list(s.columns).index("rank")  # then the comparison columns, then those of docs/statistics.md
    assert list(s.columns[r:r + 5]) == ["rank", "diff_to_best", "p_welch", "p_holm", "tied"]
    assert list(s.columns[r + 5:]) == list(ROBUST_COLUMNS)
    assert list(s["train.lr"]) == [0.1, 0.1, 0.001, 0.001]
    assert list(s["model.hidden"]) == ["[200, 200]", "[50]", "[200, 200]", "[50]"]
    assert list(s["n"]) == [3, 2, 1, 0]  # failed, diverged and pending trials do not count
    _check_stats(s.iloc[0], "test_accuracy", A)
    _check_stats(s.iloc[1], "test_accuracy", B)
    _check_stats(s.iloc[2], "test_accuracy", C)  # n = 1: mean only
    _check_stats(s.iloc[0], "test_loss", A_LOSS)
    _check_stats(s.iloc[1], "test_loss", B_LOSS)
    assert s.iloc[0]["test_accuracy_ci95_low"] < np.mean(A) < s.iloc[0]["test_accuracy_ci95_high"]
    d = s.iloc[3]
    assert all(pd.isna(d[c]) for c in s.columns if c.startswith("test_accuracy_")) and pd.isna(d["rank"])


def test_results_csv_equals_summary(report_dir):
    csv = pd.read_csv(report_dir / "results.csv")
    s = summarize(make_snapshot())
    assert list(csv.columns) == list(s.columns)
    assert list(csv["n"]) == [3, 2, 1, 0]
    for m in ("test_accuracy", "test_loss", "train_time_s"):
        for suf in ("mean", "std", "sem", "ci95_low", "ci95_high"):
            np.testing.assert_allclose(csv[f"{m}_{suf}"], s[f"{m}_{suf}"].astype(float), rtol=1e-12)
    _check_stats(csv.iloc[0], "test_accuracy", A)
    assert csv["rank"].tolist()[:3] == [1, 2, 3] and pd.isna(csv["rank"].iloc[3])
    text = (report_dir / "results.csv").read_text().splitlines()
    assert text[-1].endswith(",")  # n = 0: empty stats and empty rank
    assert "[200, 200]" in text[1]


def test_rank_direction_accuracy_vs_loss():
    acc = summarize(make_snapshot(metrics=("test_accuracy", "test_loss")))
    assert acc["rank"].tolist()[:3] == [1, 2, 3]  # higher accuracy is better: A > B > C
    loss = summarize(make_snapshot(metrics=("test_loss", "test_accuracy")))
    assert loss["rank"].tolist()[:3] == [2, 1, 3]  # lower loss is better: B < A < C
    assert pd.isna(loss["rank"].iloc[3])


def test_ties_share_a_rank_and_constant_seeds_give_a_point_interval():
    snap = make_snapshot()
    t = snap.trials
    t.loc[t["status"] == "done", "test_accuracy"] = 0.5
    s = summarize(snap)
    assert s["rank"].tolist()[:3] == [1, 1, 1]
    assert s.iloc[0]["test_accuracy_std"] == 0
    assert s.iloc[0]["test_accuracy_ci95_low"] == s.iloc[0]["test_accuracy_ci95_high"] == 0.5


def test_no_swept_keys_is_one_configuration(tmp_path):
    snap = make_snapshot()
    snap.swept_keys = []
    s = summarize(snap)
    assert len(s) == 1 and s["n"].iloc[0] == 6 and s["rank"].iloc[0] == 1
    write(snap, tmp_path)
    assert not list((tmp_path / "figures").glob("metric_vs_*.png"))
    assert (tmp_path / "figures" / "seed_spread.png").exists()


# ---------------------------------------------------------------- trials.csv


def test_trials_csv_contract(report_dir):
    t = pd.read_csv(report_dir / "trials.csv")
    assert list(t.columns) == ["trial_id", "seed", "status", "train.lr", "model.hidden", "train_loss",
                               "val_loss", "test_loss", "test_accuracy", "train_time_s", "epochs_run",
                               "error"]
    snap = make_snapshot()
    assert len(t) == len(snap.trials) == 9
    assert t["trial_id"].tolist() == snap.trials["trial_id"].tolist()
    assert set(t["status"]) == {"done", "failed", "diverged", "pending"}
    assert t.loc[t["status"] == "failed", "error"].iloc[0] == "RuntimeError: out of memory"
    assert t["model.hidden"].iloc[0] == "[200, 200]"
    assert trials_table(snap).shape == t.shape


# ---------------------------------------------------------------- report.md / results.tex


def test_markdown(report_dir):
    md = (report_dir / "report.md").read_text()
    assert md.startswith("# demo-study")
    assert "Learning rate & width, 3 seeds" in md
    assert "6 done" in md and "1 failed" in md and "1 diverged" in md
    assert ("| train.lr | model.hidden | n | test_accuracy | test_loss | train_time_s | rank "
            "| Δ test_accuracy | p | p (Holm) |") in md
    assert "| 0.1 | [200, 200] | 3 | **0.923 ± 0.015** | 0.25 ± 0.03 | 11.0 ± 0.6 | 1 | 0 | — | — |" in md
    # B: Welch p = 0.0506 (one comparison, so Holm changes nothing): tied with the best
    assert "| 0.1 | [50] | 2 | 0.82 ± 0.02 ≈ | 0.110 ± 0.010 | 11.5 ± 0.5 | 2 | −0.10 | 0.051 | 0.051 |" in md
    assert "| 3 | −0.2233 | — | — |" in md  # n = 1: the mean alone, no test
    assert "Holm-corrected over 1 comparison;" in md and "fewer than two seeds, no test" in md
    for name in ("learning_curves", "metric_vs_train.lr", "seed_spread", "grad_norms", "decision_boundary"):
        assert f"](figures/{name}.png)" in md
    assert "RuntimeError: out of memory" in md and "loss is nan at epoch 2" in md


def test_latex(report_dir):
    tex = (report_dir / "results.tex").read_text()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in tex
    assert "test\\_accuracy" in tex and "train\\_time\\_s" in tex
    assert "test_accuracy" not in tex.replace("test\\_accuracy", "")
    assert f"{np.mean(A):.3f} {st.sem(A):.3f}" == "0.923 0.015"  # SE 0.0145: two digits, it starts with 1
    assert "\\textbf{\\boldmath$0.923 \\pm 0.015$}" in tex
    assert "$0.82 \\pm 0.02^{\\dagger}$" in tex  # tied: p = 0.0506
    assert "& 2 & $-0.10$ & $0.051$ & $0.051$ \\\\" in tex
    assert "$^\\dagger$ not significantly different from the best" in tex
    first = tex[:tex.index("\\end{table}")]  # then the second table: paired tests, robust intervals, power
    assert first.count("\\\\\n") == 5  # header + 4 configurations
    tables = tex[:tex.index("\\label{tab:demo-study-pivot-1}")]  # then a pivot table per metric (2-key grid)
    assert tables.count("\\\\\n") == 10 and "\\label{tab:demo-study-robust}" in tex


def test_latex_escape_every_special_character():
    assert latex_escape("a_b%c&d#e$f{g}h~i^j\\k") == (
        "a\\_b\\%c\\&d\\#e\\$f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k")


def test_format_mean_se():
    assert format_mean_se(0.88123, 0.00123, "test_accuracy") == "0.8812 ± 0.0012"
    # rounded to the SE's precision: one significant digit, two when the SE starts with 1
    assert format_mean_se(0.88389, 0.000887, "test_accuracy") == "0.8839 ± 0.0009"
    assert format_mean_se(87.56, 0.76, "train_time_s") == "87.6 ± 0.8"
    assert format_mean_se(12.3456, 0.789, "train_time_s") == "12.3 ± 0.8"
    assert format_mean_se(0.34567, 0.0123, "test_loss") == "0.346 ± 0.012"
    assert format_mean_se(1234.7, 10.2, "test_mse") == "1235 ± 10"
    assert format_mean_se(1234.7, 35.0, "test_mse") == "1230 ± 40"  # to the tens
    assert format_mean_se(0.0012346, 0.0001, "val_mse") == "0.00123 ± 0.00010"
    assert format_mean_se(4.4, 0.51, "epochs_run") == "4.4 ± 0.5"
    assert format_mean_se(0.82, np.std([0.80, 0.84], ddof=1) / np.sqrt(2), "test_accuracy") == "0.82 ± 0.02"
    # no SE (n = 1) or a zero SE: the metric's own decimals
    assert format_mean_se(0.9, float("nan"), "val_accuracy") == "0.9000"
    assert format_mean_se(0.9375, 0.0, "val_accuracy") == "0.9375 ± 0.0000"
    assert format_mean_se(float("nan"), float("nan"), "test_loss") == "—"


# ---------------------------------------------------------------- report.html


def test_html_self_contained(report_dir):
    html = (report_dir / "report.html").read_text()
    figures = sorted((report_dir / "figures").glob("*.png"))
    assert html.count("data:image/png;base64,") == len(figures) == html.count("<figure")
    assert html.count("<figcaption>") == len(figures)
    assert "http://" not in html and "https://" not in html
    assert "<pre>" in html and "[study]" in html
    assert "RuntimeError: out of memory" in html and "demo-study" in html
    assert "2024-05-01T09:59:00" in html and "2024-05-01T10:05:00" in html
    assert "max-width" in html and "<style>" in html and "<link" not in html and "@media print" in html
    assert html.count("<script") == 1 and "default-src 'none'" in html  # the sort script, pinned by hash
    assert html.count('<th class="num"><button type="button">') >= 7  # every column sorts
    assert '<span class="tied"' in html and "Holm-corrected over 1 comparison" in html
    assert "1 min 00 s wall clock" in html and "1 min 08 s of training" in html
    assert "nnstudy 0.1.0, numpy" in html  # the environment line


def test_html_escapes_every_user_string(tmp_path):
    write(make_snapshot(evil=True), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert EVIL not in html and html.count("<script") == 1  # only the page's own sort script
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5  # name x2, description, env, error, source
    for text in ((tmp_path / "report.md").read_text(), (tmp_path / "results.tex").read_text()):
        assert text  # written despite the odd strings


# ---------------------------------------------------------------- figures


def _assert_png(path: Path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50, path
    assert img.std() > 0, f"{path} is blank"


def test_every_figure_is_a_valid_png(report_dir):
    names = sorted(p.name for p in (report_dir / "figures").iterdir())
    assert names == sorted(["learning_curves.png", "metric_vs_train.lr.png", "metric_vs_model.hidden.png",
                            "metric_vs_depth.png", "metric_vs_width.png",  # hidden [50] and [200, 200] as numbers
                            "seed_spread.png", "performance_profile.png", "grad_norms.png", "decision_boundary.png"])
    for p in (report_dir / "figures").iterdir():
        _assert_png(p)


def test_write_report_returns_the_files_it_wrote(tmp_path):
    paths = write(make_snapshot(), tmp_path / "new" / "dir")
    names = {p.name for p in paths}
    assert {"results.csv", "trials.csv", "report.md", "results.tex", "report.html"} <= names
    assert all(p.exists() for p in paths)
    assert len([p for p in paths if p.suffix == ".png"]) == 9


def test_figures_without_data_are_skipped_and_stale_ones_removed(tmp_path):
    write(make_snapshot(), tmp_path)
    assert (tmp_path / "figures" / "grad_norms.png").exists()
    (tmp_path / "figures" / "confusion_matrix.png").write_bytes(b"someone else's")
    paths = write(make_snapshot(history=False, artifacts=False), tmp_path)
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert names == sorted(["metric_vs_train.lr.png", "metric_vs_model.hidden.png", "metric_vs_depth.png",
                            "metric_vs_width.png", "seed_spread.png", "performance_profile.png", "confusion_matrix.png"])
    html = (tmp_path / "report.html").read_text()
    assert html.count("<figure") == 6 == len([p for p in paths if p.suffix == ".png"])


def test_empty_study(tmp_path):
    snap = make_snapshot()
    snap.trials = snap.trials.iloc[0:0]
    snap.history = snap.history.iloc[0:0]
    snap.artifacts = []
    write(snap, tmp_path)
    assert len(pd.read_csv(tmp_path / "results.csv")) == 0
    assert "0 trials" in (tmp_path / "report.md").read_text()


def test_regression_and_many_configurations(tmp_path):
    """Regression metrics, > 8 lines per key plot, > 12 layers, a categorical string key."""
    rows, hist = [], []
    lrs, bss, acts = [1e-3, 1e-2, 1e-1], [8, 16, 32, 64], ["relu", "tanh"]
    layers = [f"grad_norm/{i}.weight" for i in range(15)]
    k = 0
    for lr in lrs:
        for bs in bss:
            for act in acts:
                for seed in range(2):
                    tid = f"r{k}"
                    k += 1
                    mse = 0.5 * lr * 10 + bs / 100 + (0.1 if act == "tanh" else 0) + 0.01 * seed
                    rows.append({"trial_id": tid, "seed": seed, "status": "done", "error": None,
                                 "train.lr": lr, "train.batch_size": bs, "model.activation": act,
                                 "test_mse": mse, "test_rmse": mse ** 0.5, "train_time_s": 1.0})
                    for e in range(1, 4):
                        for m, v in [("train_mse", mse * 3 / e), ("val_mse", mse * 3.3 / e),
                                     ("train_loss", mse * 3 / e), ("val_loss", mse * 3.3 / e)] + \
                                    [(n, (j + 1) / e) for j, n in enumerate(layers)]:
                            hist.append({"trial_id": tid, "epoch": e, "metric": m, "value": v})
    snap = StudySnapshot(
        name="reg", description="", spec={"study": {"name": "reg"}}, source="", task="regression",
        metrics=["test_mse", "test_rmse"], swept_keys=["train.lr", "train.batch_size", "model.activation"],
        trials=pd.DataFrame(rows), history=pd.DataFrame(hist))
    write(snap, tmp_path)
    s = summarize(snap)
    assert len(s) == 24 and s["n"].tolist() == [2] * 24
    best = s.loc[s["rank"] == 1].iloc[0]
    assert (best["train.lr"], best["train.batch_size"], best["model.activation"]) == (1e-3, 8, "relu")
    for p in (tmp_path / "figures").glob("*.png"):
        _assert_png(p)
    assert len(list((tmp_path / "figures").glob("*.png"))) == 7
    html = (tmp_path / "report.html").read_text()
    assert "Study (resolved, JSON)" in html  # no source text: the spec instead


def test_the_curves_drawn_of_many_configurations_are_the_best_by_the_metric_the_report_chooses_on(tmp_path):
    """With validation scores the report ranks on val_accuracy: the 12 curves drawn are the 12 best by it (not
    by test_accuracy, which would choose on the test set), and the caption names val_accuracy."""
    from nnstudy.report._figures import _shown
    from nnstudy.report._stats import analyze

    rows, hist = [], []
    for c in range(30):
        for seed in range(2):
            tid = f"t{c}-{seed}"
            rows.append({"trial_id": tid, "seed": seed, "status": "done", "error": None, "train.lr": 0.001 * (c + 1),
                         "val_accuracy": 0.5 + 0.01 * ((7 * c) % 30) + 0.001 * seed,
                         "test_accuracy": 0.5 + 0.01 * ((11 * c) % 30) + 0.001 * seed, "epochs_run": 2})
            hist += [{"trial_id": tid, "epoch": e, "metric": "train_loss", "value": 1 / e} for e in (1, 2)]
    snap = StudySnapshot(name="val", description="", spec={"study": {"name": "val"}}, source="",
                         task="classification", metrics=["test_accuracy"], swept_keys=["train.lr"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(hist), artifacts=[], environment={},
                         created_at="2024-05-01T09:59:00", updated_at="2024-05-01T10:05:00")
    a = analyze(snap)
    drawn, note = _shown(a, list(range(30)), 12)
    by_val = sorted(range(30), key=lambda c: -((7 * c) % 30))[:12]
    by_test = sorted(range(30), key=lambda c: -((11 * c) % 30))[:12]
    assert sorted(drawn) == sorted(by_val) and sorted(drawn) != sorted(by_test)
    assert note == " Only the 12 best configurations by val_accuracy of 30 are drawn (all are in the tables)."
    write(snap, tmp_path)
    assert "Only the 12 best configurations by val\\_accuracy of 30 are drawn" in (tmp_path / "report.md").read_text()


def test_many_configurations_draw_only_the_best_curves(tmp_path):
    """30 configurations: the learning curves show the 12 best, the seed spread the 20 best, and say so."""
    rows, hist = [], []
    for c in range(30):
        acc = 0.5 + 0.01 * ((7 * c) % 30)  # a scrambled order: the best are not the first
        for seed in range(2):
            tid = f"t{c}-{seed}"
            rows.append({"trial_id": tid, "seed": seed, "status": "done", "error": None,
                         "train.lr": 0.001 * (c + 1), "test_accuracy": acc + 0.001 * seed, "epochs_run": 2})
            hist += [{"trial_id": tid, "epoch": e, "metric": m, "value": v}
                     for e in (1, 2) for m, v in (("train_loss", 1 / e), ("val_loss", 1.1 / e))]
    snap = StudySnapshot(name="many", description="", spec={"study": {"name": "many"}}, source="",
                         task="classification", metrics=["test_accuracy"], swept_keys=["train.lr"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(hist), artifacts=[], environment={},
                         created_at="2024-05-01T09:59:00", updated_at="2024-05-01T10:05:00")
    write(snap, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Only the 12 best configurations by test_accuracy of 30 are drawn" in md
    assert "Only the 20 best configurations by test_accuracy of 30 are drawn" in md
    curves = mpimg.imread(tmp_path / "figures" / "learning_curves.png")
    spread = mpimg.imread(tmp_path / "figures" / "seed_spread.png")
    assert curves.shape[0] < 1100 and spread.shape[0] < 1000  # legend and rows sized for what is drawn


def test_gradient_layers_sort_from_the_input_side():
    from nnstudy.report._stats import grad_layers

    names = ["grad_norm/output", "grad_norm/hidden10", "grad_norm/hidden2", "grad_norm/decoder.0",
             "grad_norm/encoder.3", "grad_norm/encoder.1", "grad_norm/D.net.0", "grad_norm/G.net.2",
             "grad_norm/G.net.10", "val_loss"]
    hist = pd.DataFrame({"trial_id": "t", "epoch": 1, "metric": names, "value": 1.0})
    assert grad_layers(hist) == ["grad_norm/G.net.2", "grad_norm/G.net.10", "grad_norm/encoder.1",
                                 "grad_norm/encoder.3", "grad_norm/hidden2", "grad_norm/hidden10",
                                 "grad_norm/D.net.0", "grad_norm/decoder.0", "grad_norm/output"]


def test_a_regression_loss_is_not_drawn_twice():
    from nnstudy.report._figures import _second_panel_metric

    rows = [("t", e, m, v) for e in (1, 2) for m, v in (("train_loss", 1 / e), ("train_mse", 1 / e),
                                                        ("val_loss", 2 / e), ("val_mse", 2 / e))]
    hist = pd.DataFrame(rows, columns=["trial_id", "epoch", "metric", "value"])
    assert _second_panel_metric(hist) is None  # the MSE is the loss: one panel
    hist.loc[hist.metric == "val_mse", "value"] *= 0.5  # e.g. a loss with a penalty: both panels
    assert _second_panel_metric(hist) == "mse"
    hist["metric"] = hist["metric"].str.replace("mse", "accuracy")
    assert _second_panel_metric(hist) == "accuracy"


def test_colour_first_layer_weights_are_drawn_as_colour_images():
    from nnstudy.report._figures import FigureSink, first_layer_weights
    from nnstudy.report._stats import analyze

    w = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float16)  # 4 units on 8x8 RGB
    buf = io.BytesIO()
    np.savez(buf, w=w, labels=np.array([f"unit {i}" for i in range(4)]), total_units=np.array(4))
    rows = [{"trial_id": "t0", "seed": 0, "status": "done", "error": None, "train.lr": 0.1, "test_accuracy": 0.5}]
    snap = StudySnapshot(name="rgb", description="", spec={"study": {"name": "rgb"}}, source="",
                         task="classification", metrics=["test_accuracy"], swept_keys=["train.lr"],
                         trials=pd.DataFrame(rows), history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]),
                         artifacts=[Artifact("t0", "first_layer_weights.npz", buf.getvalue())], environment={},
                         created_at="2024-05-01T09:59:00", updated_at="2024-05-01T10:05:00")
    sink = FigureSink()
    caption = first_layer_weights(analyze(snap), sink)
    images = [im.get_array() for ax in sink.figure.axes for im in ax.images]  # one tile each
    assert len(images) == 4 and all(img.shape == (8, 8, 3) for img in images)
    assert all(float(img.min()) == 0.0 and float(img.max()) == 1.0 for img in images)  # each unit scaled
    assert "colour images" in caption


def test_a_key_another_grid_sets_is_left_out_of_a_label():
    from types import SimpleNamespace

    from nnstudy.report._figures import _label

    a = SimpleNamespace(keys=["model.kind", "data.pca"], labels=["x", "y"],
                        configs=[{"model.kind": "mlp", "data.pca": None}, {"model.kind": "mlp", "data.pca": 50}])
    assert _label(a, 0) == "kind=mlp" and _label(a, 1) == "pca=50"  # only what differs, by short name


def test_conv_blocks_in_a_label_are_short_and_wrap_between_blocks():
    from types import SimpleNamespace

    from nnstudy.report._figures import _label

    blocks = [{"channels": 32, "kernel": 7, "padding": "same", "pool": "max"},
              {"channels": 64, "dilation": 2, "batch_norm": True, "pool": "global_avg", "dropout": 0.25},
              {"channels": 8, "kernel": 1, "stride": 2, "pool": "avg", "pool_size": 3, "activation": "tanh"}]
    a = SimpleNamespace(keys=["model.blocks", "train.lr"], labels=["x"], configs=[{"model.blocks": blocks,
                                                                                  "train.lr": 0.01}])
    assert _label(a, 0, width=200) == ("blocks=[32@k7 same max, 64@k3 d2 bn gap drop0.25, "
                                       "8@k1 s2 tanh avg /3], lr=0.01")
    assert _label(a, 0) == "blocks=[32@k7 same max,\n64@k3 d2 bn gap drop0.25,\n8@k1 s2 tanh avg /3], lr=0.01"
