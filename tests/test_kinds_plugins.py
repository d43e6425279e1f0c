"""An installed package adds a model kind through the entry-point group nnstudy.models, the same way the
built-in kinds are declared: one module with KIND = Kind(...), no list edited anywhere."""

from __future__ import annotations

import sys
import textwrap

import pytest

import nnstudy
from nnstudy import kinds
from nnstudy.engines import get_engine
from nnstudy.errors import StudyError
from nnstudy.spec import expand, read_study

PLUGIN = '''
from typing import Literal

from nnstudy.kinds import Kind
from nnstudy.spec._schema import ModelBase


class WideLinearConfig(ModelBase):
    kind: Literal["wide_linear"] = "wide_linear"
    width: int = 16


def build(mc, n_in, n_out, input_shape=()):  # a plain nn.Module: the engine adds what its loops need
    from torch import nn

    return nn.Sequential(nn.Linear(n_in, mc["width"]), nn.Tanh(), nn.Linear(mc["width"], n_out))


KIND = Kind("wide_linear", WideLinearConfig, build={"torch": build}, stacking="mlp",
            example={"data": {"name": "iris"}, "model": {"width": 4}, "train": {"epochs": 1}})
'''


def install(tmp_path, monkeypatch, module_text: str, entry: str) -> None:
    """A distribution on sys.path whose entry point names ``entry``; the registry is read again."""
    (tmp_path / "wide_plugin.py").write_text(textwrap.dedent(module_text))
    info = tmp_path / "wide_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wide-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[nnstudy.models]\nwide_linear = {entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "wide_plugin", raising=False)
    monkeypatch.setattr(kinds, "_registry", None)


@pytest.fixture(autouse=True)
def fresh_registry():
    yield
    kinds._registry = None  # the next test sees the built-in kinds only


@pytest.mark.parametrize("entry", ["wide_plugin", "wide_plugin:KIND"])
def test_plugin_kind_validates_trains_and_stacks(tmp_path, monkeypatch, entry):
    install(tmp_path, monkeypatch, PLUGIN, entry)
    assert "wide_linear" in kinds.names() and "mlp" in kinds.names()
    spec = {"study": {"name": "plugin"}, "data": {"name": "iris"},
            "model": {"kind": "wide_linear", "width": 8}, "train": {"lr": 0.05, "epochs": 3},
            "sweep": {"train.lr": [0.05, 0.02]}}
    study = nnstudy.run(spec, store=tmp_path / "runs", workers=1)
    trials = study.trials()
    assert (trials["status"] == "done").all() and len(trials) == 2
    assert (trials["test_accuracy"] > 0.5).all()
    assert {"grad_norm/0.weight", "grad_norm/2.weight"} <= set(study.history()["metric"])
    keys = {get_engine("torch").group_key(t) for t in expand(read_study(spec)[0])}
    assert len(keys) == 1 and None not in keys  # both learning rates train as one stacked program
    with pytest.raises(StudyError, match="model.widht: unknown key"):
        nnstudy.run({**spec, "model": {"kind": "wide_linear", "widht": 8}}, store=tmp_path / "runs")


def test_plugin_that_reuses_a_built_in_name_is_refused(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, PLUGIN.replace('Kind("wide_linear"', 'Kind("mlp"'), "wide_plugin")
    with pytest.raises(StudyError, match="'mlp' is declared twice"):
        kinds.names()


def test_plugin_module_without_a_kind_is_named(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "X = 1\n", "wide_plugin")
    with pytest.raises(StudyError, match="entry point wide_linear = wide_plugin declares no KIND"):
        kinds.names()


def test_plugin_whose_module_fails_to_import_is_one_line(tmp_path, monkeypatch, capsys):
    from nnstudy.cli import main

    install(tmp_path, monkeypatch, "import not_installed_anywhere\n", "wide_plugin")
    assert main(["run", "studies/own-module.toml", "--store", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err == ("nnstudy: error: model kinds: entry point wide_linear = wide_plugin cannot be loaded: "
                   "ModuleNotFoundError: No module named 'not_installed_anywhere' (fix or uninstall the package "
                   "that declares it)\n")
    assert not (tmp_path / "runs").exists()


def test_a_plugins_check_data_of_three_arguments_still_runs_before_the_store(tmp_path, monkeypatch):
    """check_data(mc, data, label), as plugins wrote it before the built-in kinds took the training's numerics."""
    install(tmp_path, monkeypatch, PLUGIN + textwrap.dedent('''
        import dataclasses


        def narrow(mc, data, label):
            from nnstudy.errors import StudyError

            if mc["width"] < data.x_train.shape[1]:
                raise StudyError(f"{label}: model.width: {mc['width']} is narrower than {data.x_train.shape[1]} inputs")


        KIND = dataclasses.replace(KIND, check_data=narrow)
        '''), "wide_plugin")
    spec = {"study": {"name": "plugin"}, "data": {"name": "iris"}, "model": {"kind": "wide_linear", "width": 2},
            "train": {"epochs": 1}}
    with pytest.raises(StudyError, match="model.width: 2 is narrower than 4 inputs"):
        nnstudy.run(spec, store=tmp_path / "runs", workers=1)
    assert not (tmp_path / "runs").exists()
    assert nnstudy.run({**spec, "model": {"kind": "wide_linear", "width": 4}}, store=tmp_path / "runs",
                       workers=1).trials()["status"].tolist() == ["done"]
