"""Kinds that need a layout (convolutions, patches) on flat inputs, and the epochs a running trial plans as
ls, show and the serve page count them: a kind's pre-training, and none for a kind that fits once."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnstudy
from conftest import run_cli
from nnstudy.cli import main
from refusals import refused, write

CONV = """
[study]
name = "flat"
[data]
{data}
[model]
{model}
[train]
epochs = 1
batch_size = 16
"""
CNN = 'kind = "cnn"\nblocks = [{channels = 2, kernel = 3, pool = "max"}]\nhidden = [4]'
RESNET18 = 'kind = "resnet18"\nwidth = 4'


@pytest.mark.parametrize("model", [CNN, RESNET18], ids=["cnn", "resnet18"])
def test_a_convolution_over_flat_inputs_is_one_line(tmp_path, capsys, model):
    study = write(tmp_path, CONV.format(data='name = "iris"', model=model))
    err = refused(tmp_path, capsys, ["run", study])
    kind = model.split('"')[1]
    assert err == (f'nnstudy: error: {study}: model.kind = "{kind}" convolves images and signals; iris has flat '
                   f"inputs (4 features)")


@pytest.mark.parametrize("model", [CNN, RESNET18], ids=["cnn", "resnet18"])
def test_a_convolution_over_a_series_windows_trains(tmp_path, model):
    """elnino's inputs are flat (12 lags) but each is a window of one series: a one-channel signal in time order.
    (Its raw temperatures diverge at SGD's lr 0.1, as an MLP's do: Adam at 1e-3.)"""
    store, study = tmp_path / "runs", CONV.format(data='name = "elnino"', model=model)
    study = study.replace("batch_size = 16", 'batch_size = 16\noptimizer = "adam"\nlr = 0.001')
    assert run_cli(write(tmp_path, study), "--store", store) == 0
    assert nnstudy.load("flat", store=store).trials()["status"].tolist() == ["done"]


def test_a_refused_cnn_leaves_a_store_as_it_was(tmp_path, capsys):
    store = tmp_path / "runs"
    assert run_cli(write(tmp_path, CONV.format(data='name = "iris"', model='kind = "logistic"'), "ok.toml"),
                   "--store", store) == 0
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run_cli(write(tmp_path, CONV.format(data='name = "iris"', model=CNN)), "--store", store) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("model", [CNN, RESNET18], ids=["cnn", "resnet18"])
def test_a_convolution_over_a_signal_file_trains(tmp_path, model):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 1, 16)).astype(np.float32)
    np.savez(tmp_path / "signals.npz", x=x, y=(x[:, 0, :8].sum(axis=1) > 0).astype(np.int64))
    data = 'name = "file"\npath = "signals.npz"'
    assert run_cli(write(tmp_path, CONV.format(data=data, model=model)), "--store", tmp_path / "runs") == 0


STACKED_AE = {"study": {"name": "pre"}, "data": {"name": "digits", "train_size": 64, "normalize": "minmax"},
              "model": {"kind": "stacked_ae", "hidden": [8], "encoding_dim": 4, "pretrain_epochs": 3},
              "train": {"epochs": 2}, "trials": {"seeds": 1}}


def running_stacked_ae(folder, epochs_ended: int) -> str:
    """A stacked_ae trial running in ``folder`` (claimed by this live process): 2 x 3 pre-training epochs, then 2."""
    return running_trial(folder, STACKED_AE, epochs_ended)


def running_trial(folder, study: dict, epochs_ended: int) -> str:
    """The one trial of ``study`` (named "pre") running in ``folder``, claimed by this live process."""
    from nnstudy.spec import expand, read_study
    from nnstudy.store import Store

    spec, _, _ = read_study(study)
    (trial,) = expand(spec)
    db = Store(folder)
    db.register("pre", "", spec.model_dump(mode="json"), "", "classification", ["val_loss"], [], [trial], {})
    assert db.claim("pre", trial.trial_id)
    db.add_epochs("pre", [(trial.trial_id, e, {"train_loss": 1.0 / e}) for e in range(1, epochs_ended + 1)])
    return trial.trial_id


def page(folder) -> tuple[dict, str]:
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from nnstudy.serve import make_app

    client = TestClient(make_app(folder))
    return client.get("/api/study", params={"name": "pre"}).json(), client.get("/study", params={"name": "pre"}).text


def test_the_serve_page_counts_the_pretraining_epochs_of_a_running_trial(tmp_path):
    trial_id = running_stacked_ae(tmp_path / "runs", 5)
    data, html = page(tmp_path / "runs")
    (running,) = data["running"]
    assert (running["trial_id"], running["epoch"], running["epochs"]) == (trial_id, 5, 2 * 3 + 2)
    assert running["eta_s"] is not None and running["eta_s"] >= 0
    assert '<td class="num">5/8</td>' in html


@pytest.mark.parametrize("model", [{"kind": "a_plugin_no_longer_installed"}, {"kind": "stacked_ae"}],
                         ids=["unknown-kind", "hand-edited"])
def test_a_running_trial_whose_kind_cannot_count_its_epochs_shows_train_epochs(tmp_path, model):
    import sqlite3

    running_stacked_ae(tmp_path / "runs", 1)
    with sqlite3.connect(tmp_path / "runs" / "nnstudy.sqlite") as con:
        (config,) = con.execute("SELECT config_json FROM trials").fetchone()
        config = json.loads(config)
        config["model"] = model
        con.execute("UPDATE trials SET config_json = ?", (json.dumps(config),))
    data, html = page(tmp_path / "runs")
    (running,) = data["running"]
    assert (running["epoch"], running["epochs"]) == (1, 2)
    assert '<td class="num">1/2</td>' in html


def test_ls_and_show_count_the_pretraining_epochs_of_a_running_trial(tmp_path, capsys):
    trial_id = running_stacked_ae(tmp_path / "runs", 5)
    assert main(["ls", "--store", str(tmp_path / "runs")]) == 0
    assert "epoch 5/8" in capsys.readouterr().out
    assert main(["show", trial_id, "--store", str(tmp_path / "runs")]) == 0
    assert "running: 5 of 8 epochs ended so far" in capsys.readouterr().out


FITS_ONCE = {"study": {"name": "pre"}, "data": {"name": "iris"}, "model": {"kind": "random_forest"},
             "train": {"engine": "classical"}, "trials": {"seeds": 1}}


STEPS = {"study": {"name": "pre"}, "data": {"name": "moons", "n_samples": 200}, "model": {"hidden": [4]},
         "train": {"steps": 30, "batch_size": 16}, "trials": {"seeds": 1}}  # 1 epoch of 160 samples: 10 steps


@pytest.mark.parametrize("case", ["kind that fits once", "config without train.epochs", "train.steps budget"])
def test_a_running_trial_that_plans_no_epochs_shows_none_not_0(tmp_path, capsys, case):
    """"-" where the store cannot tell the epochs: a steps budget's depend on the data's size (3 here, not 20)."""
    import sqlite3

    study = {"kind that fits once": FITS_ONCE, "train.steps budget": STEPS}.get(case, STACKED_AE)
    trial_id = running_trial(tmp_path / "runs", study, 1)
    if case == "config without train.epochs":  # a hand-edited row, or one another tool wrote
        with sqlite3.connect(tmp_path / "runs" / "nnstudy.sqlite") as con:
            (config,) = con.execute("SELECT config_json FROM trials").fetchone()
            config = json.loads(config)
            del config["train"]["epochs"]
            con.execute("UPDATE trials SET config_json = ?", (json.dumps(config),))
    assert main(["show", trial_id, "--store", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "running: 1 epoch ended so far" in out and " of 0 " not in out and " of 20 " not in out, out
    assert main(["ls", "--store", str(tmp_path / "runs")]) == 0
    assert "1 (epoch 1/-)" in capsys.readouterr().out
    data, html = page(tmp_path / "runs")
    (running,) = data["running"]
    assert (running["epoch"], running["epochs"], running["eta_s"]) == (1, None, None)
    assert '<td class="num">1/-</td>' in html
