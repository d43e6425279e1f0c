"""`nnstudy gradcheck`: every layer type, loss and penalty below 1e-7; a broken backward is caught."""

import itertools

import numpy as np
import pytest

from nnstudy.cli import main
from nnstudy.data import load
from nnstudy.engines._numpy import _activations, _norm
from nnstudy.engines._numpy._gradcheck import TOLERANCE, check_trial
from nnstudy.spec import expand, read_study
from nnstudy.spec._schema import ACTIVATIONS


def checks(data: dict, model: dict, train: dict | None = None, seed: int = 0):
    study, _, _ = read_study({"study": {"name": "g"}, "data": data, "model": model, "train": train or {},
                              "trials": {"seeds": [seed]}})
    return check_trial(expand(study)[0], load(study.data))


def assert_passes(results) -> None:
    assert results and all(c.checked > 0 for c in results)
    bad = {c.name: c.error for c in results if not c.ok}
    assert not bad, bad
    assert max(c.error for c in results) < TOLERANCE


LAYERS = list(itertools.product(ACTIVATIONS, ("none", "batch", "layer"), (0.0, 0.3)))


@pytest.mark.parametrize("activation,norm,dropout", LAYERS, ids=["-".join(map(str, c)) for c in LAYERS])
def test_every_layer_type_passes(activation, norm, dropout):
    assert_passes(checks({"name": "iris"}, {"hidden": [8, 6], "activation": activation, "norm": norm,
                                            "dropout": dropout}, {"l2": 1e-3}))


LOSSES = {
    "softmax-ce": ({"name": "iris"}, {"hidden": [8, 6], "activation": "tanh"}),
    "sigmoid-bce": ({"name": "moons", "n_samples": 100}, {"kind": "logistic"}),
    "mse": ({"name": "sine", "n_samples": 100}, {"hidden": [8, 6], "activation": "tanh"}),
    "perceptron": ({"name": "iris"}, {"kind": "perceptron"}),
}
PENALTIES = {"none": {}, "l1": {"l1": 0.01}, "l2": {"l2": 0.01}, "l1+l2": {"l1": 0.01, "l2": 0.01}}
CASES = list(itertools.product(LOSSES, PENALTIES))


@pytest.mark.parametrize("loss,penalty", CASES, ids=["-".join(c) for c in CASES])
def test_every_loss_and_penalty_passes(loss, penalty):
    data, model = LOSSES[loss]
    assert_passes(checks(data, model, PENALTIES[penalty]))


def test_default_mlp_on_images_passes():
    assert_passes(checks({"name": "digits", "normalize": "minmax"}, {"hidden": [200, 200]}, seed=3))


STUDY = """
[study]
name = "gc"
[data]
name = "iris"
[model]
hidden = [8, 6]
norm = "batch"
dropout = 0.2
[train]
l2 = 0.001
[sweep]
"model.activation" = ["relu", "tanh"]
"""


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "gc.toml"
    path.write_text(STUDY)
    return path


def test_cli_prints_a_table_and_exits_0(study, capsys):
    assert main(["gradcheck", str(study), "--point", "model.activation=tanh"]) == 0
    out = capsys.readouterr().out
    assert 'model.activation="tanh"' in out
    for name in ("hidden1.weight", "norm1.bias", "hidden2.bias", "output.weight"):
        assert name in out
    assert "all 10 tensors below 1e-07" in out


def _no_kink_relu(x, y, d):  # forward right, derivative 1 everywhere: the classic copy-paste bug
    np.maximum(x, 0, out=y)
    if d is not None:
        d.fill(1.0)


def _bn_backward_without_mean_term(self, dy):
    dxhat = self._affine_backward(dy)
    return self.inv * dxhat


@pytest.mark.parametrize("breakage", ["relu", "batch-norm"])
def test_a_broken_backward_fails(study, capsys, monkeypatch, breakage):
    if breakage == "relu":
        monkeypatch.setitem(_activations.ACTIVATIONS, "relu", _no_kink_relu)
    else:
        monkeypatch.setattr(_norm.BatchNorm, "backward", _bn_backward_without_mean_term)
    assert main(["gradcheck", str(study), "--point", "model.activation=relu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "hidden1.weight" in out.split("tensors above")[1]


@pytest.mark.parametrize("args,message", [
    (["--point", "train.lr=0.5"], "--point train.lr: not a swept key"),
    (["--point", "model.activation=elu"], "no configuration has it"),
    (["--batch", "0"], "--batch 0"),
])
def test_cli_bad_options_exit_2(study, capsys, args, message):
    assert main(["gradcheck", str(study), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
