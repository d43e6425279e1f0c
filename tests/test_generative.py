"""Autoencoders and generative models on the torch engine: training, loss terms, optimizers, pre-training."""

import io
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from nnstudy import StudyError
from nnstudy.cli import main
from nnstudy.data import load
from nnstudy.engines import get_engine
from nnstudy.engines._torch._autoencoders import Setup, build, pair_optimizer, pretrain_epoch
from nnstudy.engines._torch._gan import d_step, g_step, gan_optimizers
from nnstudy.engines._torch._generative_common import frechet_distance
from nnstudy.engines._torch._generative_nets import GAN, gaussian_kl
from nnstudy.spec import expand, read_study

DATA = {"name": "digits", "normalize": "minmax", "train_size": 300}


def study(model, data=None, **train):
    return read_study({"study": {"name": "g"}, "data": {**DATA, **(data or {})}, "model": model,
                       "train": {"optimizer": "adam", "lr": 0.003, "batch_size": 32, "epochs": 3, **train}})[0]


@pytest.fixture(scope="module")
def digits():
    return load(study({"kind": "ae"}).data)


def train(model, data, **kw):
    t = expand(study(model, **kw))[0]
    seen = []
    result = get_engine("torch").train(t, data, lambda e, m: seen.append(e), "cpu")
    assert seen == list(range(1, len(result.history) + 1))
    return t, result


@pytest.mark.parametrize("model", [
    {"kind": "ae", "hidden": [32], "encoding_dim": 8},
    {"kind": "ae", "architecture": "conv", "channels": [4, 8], "encoding_dim": 8},
    {"kind": "vae", "hidden": [32], "latent_dim": 4},
    {"kind": "vae", "architecture": "conv", "channels": [8], "latent_dim": 4, "loss": "mse"},
], ids=["ae-mlp", "ae-conv", "vae-mlp", "vae-conv-mse"])
def test_autoencoders_lower_their_loss_and_store_images(digits, model):
    _, r = train(model, digits)
    losses = [h["train_loss"] for h in r.history]
    assert r.status == "done" and losses[-1] < 0.95 * losses[0], losses
    assert r.final["test_loss"] == pytest.approx(r.history[-1]["test_loss"])
    rec = np.load(io.BytesIO(r.artifacts["reconstructions.npz"]))
    assert rec["original"].shape == rec["reconstruction"].shape == (16, 8, 8)
    interp = np.load(io.BytesIO(r.artifacts["interpolation.npz"]))
    assert interp["images"].shape == (9, 8, 8) and interp["ends"].shape == (2, 8, 8)
    if model["kind"] == "vae":
        h = r.history[-1]
        assert h["train_loss"] == pytest.approx(h["train_recon"] + h["train_kl"], rel=1e-6)
        assert h["test_kl"] > 0 and math.isfinite(h["test_fd"]) and h["test_fd"] > 0
        assert np.load(io.BytesIO(r.artifacts["samples.npz"]))["images"].shape == (64, 8, 8)
    if model.get("loss", "bce") == "bce":
        assert 0 <= rec["reconstruction"].min() and rec["reconstruction"].max() <= 1
    layers = [k for k in r.history[0] if k.startswith("grad_norm/")]  # per-layer gradients, as classifiers
    assert len(layers) >= 2 and all(h[k] > 0 for h in r.history for k in layers)


def test_autoencoder_gradient_norms_are_the_layers_gradient_norms(digits):
    """One step per epoch (batch = the training set): the recorded norm is that of the first step's gradient."""
    model = {"kind": "ae", "hidden": [32], "encoding_dim": 8}
    t, r = train(model, digits, epochs=1, batch_size=300)
    s = Setup(t, digits, "cpu")
    net = build(t.config["model"], s)
    net.losses(s.inputs.x["train"])["loss"].mean().backward()
    expected = {f"grad_norm/{n.removesuffix('.weight')}": float(p.grad.norm())
                for n, p in net.named_parameters() if p.dim() == 2}
    got = {k: v for k, v in r.history[0].items() if k.startswith("grad_norm/")}
    assert got.keys() == expected.keys() and len(got) == 4  # 64-32-8 encoder, 8-32-64 decoder
    for k in got:
        assert got[k] == pytest.approx(expected[k], rel=1e-5), k


def test_vae_kl_term_matches_the_closed_form():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    kl = gaussian_kl(mu, logvar)
    # 0.5 (mu^2 + var - 1 - log var): 0.5 (1 + 1 - 1 - 0) + 0.5 (0 + 4 - 1 - log 4)
    assert kl[0].item() == pytest.approx(0.5 + 0.5 * (3.0 - math.log(4.0)))
    assert kl[1].item() == 0.0
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, (0.5 * logvar).exp()),
                                            torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl, ref)


def test_frechet_distance_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + np.eye(5) * 0.1, b @ b.T
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    got = frechet_distance(*(torch.tensor(v) for v in (m1, s1, m2, s2))).item()
    assert got == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(*(torch.tensor(v) for v in (m1, s1, m1, s1))).item() == pytest.approx(0, abs=1e-6)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_gan_learning_rates_reach_their_own_optimizers(digits):
    t = expand(study({"kind": "gan", "hidden": [16], "latent_dim": 4, "g_lr": 0.01, "d_lr": 0.0003}))[0]
    s = Setup(t, digits, "cpu")
    model = GAN(t.config["model"], s.n_in, s.layout)
    opt_g, opt_d = gan_optimizers(model, t.config["model"], t.config["train"])
    assert [g["lr"] for g in opt_g.param_groups] == [0.01] and [g["lr"] for g in opt_d.param_groups] == [0.0003]
    for opt, net in ((opt_g, model.generator), (opt_d, model.discriminator)):
        assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in net.parameters()}
    before = _state(model)
    d_step(model, opt_d, s.inputs.x["train"][:32], s)
    assert _changed(before, model) and all(k.startswith("discriminator.") for k in _changed(before, model))
    before = _state(model)
    g_step(model, opt_g, 32, s)
    assert _changed(before, model) and all(k.startswith("generator.") for k in _changed(before, model))
    t = expand(study({"kind": "gan", "hidden": [16], "latent_dim": 4}, lr=0.002))[0]
    assert [o.param_groups[0]["lr"] for o in gan_optimizers(model, t.config["model"], t.config["train"])] == \
        [0.002, 0.002]  # both default to train.lr


@pytest.mark.parametrize("model", [{"kind": "gan", "hidden": [32], "latent_dim": 4, "d_steps": 2},
                                   {"kind": "gan", "architecture": "conv", "channels": [4, 8], "latent_dim": 4}],
                         ids=["mlp", "dcgan"])
def test_gan_trains_and_reports_both_losses(digits, model):
    _, r = train(model, digits, epochs=2, beta1=0.5)
    assert r.status == "done" and len(r.history) == 2
    for h in r.history:
        assert h["train_loss"] == h["g_loss"] and h["d_loss"] > 0 and 0 < h["d_fake"] < 1 and 0 < h["d_real"] < 1
        assert h["val_fd"] > 0 and h["test_fd"] > 0
    assert r.history[-1]["d_real"] > r.history[-1]["d_fake"]  # the discriminator tells them apart
    for net in ("G", "D"):
        layers = [k for k in r.history[0] if k.startswith(f"grad_norm/{net}.")]
        assert len(layers) >= 2 and all(h[k] > 0 for h in r.history for k in layers), net
    samples = np.load(io.BytesIO(r.artifacts["samples.npz"]))["images"]
    assert samples.shape == (64, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    assert "reconstructions.npz" not in r.artifacts


def test_stacked_pretraining_changes_only_its_pair(digits):
    t = expand(study({"kind": "stacked_ae", "hidden": [24, 12], "encoding_dim": 6}))[0]
    s = Setup(t, digits, "cpu")
    model = build(t.config["model"], s)
    for pair in range(3):
        before = _state(model)
        loss = pretrain_epoch(model, pair, s, pair_optimizer(model, pair, s, 0.01))
        assert math.isfinite(loss.item())
        assert _changed(before, model) == {f"{side}.{pair}.0.{p}" for side in ("enc", "dec")
                                           for p in ("weight", "bias")}


def test_stacked_history_has_the_phases_then_fine_tuning(digits):
    _, r = train({"kind": "stacked_ae", "hidden": [24], "encoding_dim": 6, "pretrain_epochs": 2}, digits,
                 epochs=2)
    assert [h.get("phase") for h in r.history] == [1.0, 1.0, 2.0, 2.0, None, None]
    assert r.history[1]["pretrain_loss"] < r.history[0]["pretrain_loss"]
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    assert r.final["epochs_run"] == 6 and "pretrain_loss" not in r.final


@pytest.mark.parametrize("model, data, train, message", [
    ({"kind": "ae"}, {"normalize": "standard"}, {}, "data.normalize: loss = \"bce\" needs inputs in [0, 1]"),
    ({"kind": "gan", "loss": "bce"}, {"normalize": "none"}, {}, "data.normalize: the GAN's sigmoid generator"),
    ({"kind": "vae", "architecture": "conv"}, {"name": "iris"}, {}, "model.architecture: \"conv\" needs image"),
    ({"kind": "ae"}, {}, {"engine": "numpy"}, "train.engine: model.kind 'ae' trains on the torch engine"),
    ({"kind": "stacked_ae"}, {}, {"optimizer": "lbfgs"}, "train.optimizer: 'lbfgs' is not available"),
    ({"kind": "gan", "hidden": []}, {}, {}, "an MLP GAN needs at least one hidden layer"),
    ({"kind": "gan"}, {}, {"early_stopping": {"patience": 3}}, "train.early_stopping: a GAN has no validation"),
    ({"kind": "ae", "encoding_dim": 0}, {}, {}, "model.encoding_dim"),
])
def test_bad_combinations_are_one_line_errors(model, data, train, message):
    with pytest.raises(StudyError) as e:
        study(model, data, **train)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cli_refuses_bce_on_standardized_data_with_exit_2(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('[study]\nname = "s"\n[data]\nname = "digits"\n[model]\nkind = "vae"\n')
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    assert "data.normalize" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
