"""Kinds that need a layout (convolutions, patches) on flat inputs, and the serve page's epoch count for kinds
that pre-train."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli
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
@pytest.mark.parametrize("data, n", [("iris", 4), ("elnino", 12)])
def test_a_convolution_over_flat_inputs_is_one_line(tmp_path, capsys, model, data, n):
    study = write(tmp_path, CONV.format(data=f'name = "{data}"', model=model))
    err = refused(tmp_path, capsys, ["run", study])
    kind = model.split('"')[1]
    assert err == (f'nnstudy: error: {study}: model.kind = "{kind}" convolves images and signals; {data} has flat '
                   f"inputs ({n} features)")


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
