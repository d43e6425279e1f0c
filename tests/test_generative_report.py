"""Tiny studies of the generative kinds end to end: their report figures, and the vanishing-gradient figure."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nnstudy
from classical_helpers import figures
from nnstudy.api import prepare
from nnstudy.report._figures import FigureSink
from nnstudy.report._figures_generative import grad_heatmap
from nnstudy.report._stats import analyze

STUDIES = Path(__file__).resolve().parents[1] / "studies"
DATA = {"name": "digits", "normalize": "minmax", "train_size": 200}
TRAIN = {"optimizer": "adam", "lr": 0.003, "batch_size": 50, "epochs": 1}


def run(tmp_path, name, model, sweep, **extra):
    spec = {"study": {"name": name}, "data": DATA, "model": model, "train": TRAIN, "sweep": sweep, **extra}
    return nnstudy.run(spec, store=tmp_path / "runs", workers=1)


def test_autoencoder_report_has_reconstructions_per_configuration(tmp_path):
    s = run(tmp_path, "ae", {"kind": "ae", "hidden": [16], "encoding_dim": 4},
            {"model.encoding_dim": [2, 8]})
    figs = figures(s)
    for name in ("reconstructions.png", "reconstructions_by_config.png", "interpolation.png"):
        assert name in figs
    h, w = figs["reconstructions_by_config.png"]
    assert w > 1000 and h > 200  # 16 tiles across, three rows
    assert "samples.png" not in figs and "gan_losses.png" not in figs
    results = pd.read_csv(s.report_dir / "results.csv")
    assert list(results.columns[:3]) == ["model.encoding_dim", "n", "test_loss_mean"]
    assert results["test_loss_mean"].between(0.05, 1.0).all()


def test_vae_and_gan_in_one_study_report_samples_and_gan_losses(tmp_path):
    spec = {"kind": "vae", "hidden": [16], "latent_dim": 3}
    s = run(tmp_path, "vg", spec, [{"model.kind": ["vae"]}, {"model.kind": ["gan"], "train.beta1": [0.5]}],
            report={"metrics": ["test_fd", "train_time_s"]})
    figs = figures(s)
    for name in ("samples.png", "interpolation.png", "gan_losses.png", "reconstructions.png"):
        assert name in figs
    assert figs["samples.png"][1] > 400
    trials = pd.read_csv(s.report_dir / "trials.csv")
    assert sorted(trials["model.kind"]) == ["gan", "vae"] and (trials["test_fd"] > 0).all()
    html = (s.report_dir / "report.html").read_text()
    assert "GAN training: generator and discriminator loss" in html and "Generated samples" in html


def test_hundred_layer_sigmoid_mlp_shows_the_vanishing_gradient(tmp_path):
    s = run(tmp_path, "vanish", {"kind": "mlp", "hidden": [4] * 100},
            {"model.activation": ["sigmoid", "relu"]}, train={**TRAIN, "dtype": "float64"})
    figs = figures(s)
    assert {"grad_heatmap.png", "grad_vs_depth.png", "grad_norms.png"} <= set(figs)
    a = analyze(s.snapshot())
    sink = FigureSink()
    grad_heatmap(a, sink)
    panels = [ax for ax in sink.figure.axes if ax.get_label() != "<colorbar>" and ax.collections]
    sigmoid = next(ax for ax in panels if "sigmoid" in ax.get_title())
    norms = np.ma.getdata(sigmoid.collections[0].get_array()).reshape(101, -1)[:, 0]  # layer x epoch
    assert norms.shape == (101,) and norms[-1] > 1e-3
    assert norms[0] < 1e-40 * norms[-1]  # about 1/4 per sigmoid layer: tens of orders of magnitude
    assert np.all(np.diff(np.log10(norms[1:90])) > 0)  # falls steadily towards the input


def test_small_mlp_report_has_no_gradient_heatmap(tmp_path):
    s = run(tmp_path, "shallow", {"kind": "mlp", "hidden": [8, 8]}, {})
    assert "grad_norms.png" in figures(s) and "grad_heatmap.png" not in figures(s)


@pytest.mark.parametrize("name", ["ae-bottleneck", "vae-vs-gan", "stacked-ae", "vanishing-gradients"])
def test_shipped_studies_validate(name):
    study, trials, _, _, metrics, _ = prepare(STUDIES / f"{name}.toml")
    assert study.data.normalize == "minmax" or name == "vanishing-gradients"
    if name == "vae-vs-gan":
        assert sorted(t.config["model"]["kind"] for t in trials) == ["gan", "gan", "vae", "vae"]
        assert metrics[0] == "test_fd"
    if name == "vanishing-gradients":
        assert all(t.config["model"]["hidden"] == [4] * 100 for t in trials)
        assert {t.config["model"]["activation"] for t in trials} >= {"sigmoid", "relu"}
    if name == "ae-bottleneck":
        assert sorted({t.config["model"]["encoding_dim"] for t in trials}) == [16, 64, 128]
