"""The NumPy engine end to end: it learns, it is deterministic, it keeps the torch engine's semantics
(metrics, lr schedule, early stopping, divergence, artifacts), and the linear model kinds run on both."""

import io
import math

import numpy as np
import pandas as pd
import pytest

from nnstudy.cli import main
from nnstudy.data import load
from nnstudy.engines import get_engine
from nnstudy.spec import expand, read_study


def train(engine: str, data: dict, model: dict | None = None, **train_keys):
    study, _, _ = read_study({"study": {"name": "e"}, "data": data, "model": model or {"hidden": [16]},
                              "train": {"engine": engine, **train_keys}})
    return get_engine(engine).train(expand(study)[0], load(study.data), lambda e, m: None)


MOONS = {"name": "moons", "n_samples": 300}


def test_learns_moons_and_is_deterministic():
    a = train("numpy", MOONS, epochs=15, batch_size=16)
    b = train("numpy", MOONS, epochs=15, batch_size=16)
    losses = [h["train_loss"] for h in a.history]
    assert losses[-1] < 0.75 * losses[0] and losses[-1] == min(losses)
    assert a.final["test_accuracy"] > 0.85
    assert [{k: v for k, v in h.items() if k != "time_s"} for h in a.history] == \
           [{k: v for k, v in h.items() if k != "time_s"} for h in b.history]


@pytest.mark.parametrize("data,model", [(MOONS, {"hidden": [16], "norm": "batch", "dropout": 0.2}),
                                        ({"name": "sine", "n_samples": 200}, {"hidden": [8]})])
def test_same_metrics_as_the_torch_engine(data, model):
    n = train("numpy", data, model, epochs=3, schedule={"kind": "step", "step_size": 1, "gamma": 0.5})
    t = train("torch", data, model, epochs=3, schedule={"kind": "step", "step_size": 1, "gamma": 0.5})
    assert [set(h) for h in n.history] == [set(h) for h in t.history]
    assert set(n.final) == set(t.final)
    assert [h["lr"] for h in n.history] == pytest.approx([h["lr"] for h in t.history]) == [0.05, 0.025, 0.0125]


def test_float64_on_request():
    f32 = train("numpy", MOONS, epochs=3)
    f64 = train("numpy", MOONS, epochs=3, dtype="float64")
    assert f64.final["test_loss"] == pytest.approx(f32.final["test_loss"], rel=1e-3)
    assert f64.final["test_loss"] != f32.final["test_loss"]  # computed in another precision


def test_grad_noise_is_seeded():
    a, b = (train("numpy", MOONS, epochs=2, grad_noise=0.5) for _ in range(2))
    clean = train("numpy", MOONS, epochs=2)
    assert a.final["train_loss"] == b.final["train_loss"] != clean.final["train_loss"]


def test_divergence_is_a_status():
    r = train("numpy", MOONS, epochs=5, lr=1e12)
    assert r.status == "diverged" and "loss became" in r.error
    assert not math.isfinite(r.history[-1]["train_loss"])


def test_early_stopping_restores_the_best_epoch():
    r = train("numpy", {"name": "moons", "n_samples": 100, "noise": 0.4}, {"hidden": [64, 64]}, epochs=200,
              optimizer="adam", lr=0.05, early_stopping={"patience": 3})
    val = [h["val_loss"] for h in r.history]
    assert r.final["epochs_run"] == len(val) < 200
    assert r.final["val_loss"] == min(val)
    best = val.index(min(val))
    assert r.final["test_accuracy"] == r.history[best]["test_accuracy"]


def _weights(result) -> dict:
    with np.load(io.BytesIO(result.artifacts["first_layer_weights.npz"]), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_first_layer_weights_artifact_for_images(engine):
    r = train(engine, {"name": "digits", "normalize": "minmax"}, {"kind": "perceptron"}, epochs=2)
    w = _weights(r)
    assert w["w"].shape == (10, 8, 8) and list(w["labels"]) == [str(d) for d in range(10)]
    assert np.abs(w["w"]).max() > 0  # trained away from zero
    mlp = _weights(train(engine, {"name": "digits"}, {"hidden": [100]}, epochs=1))
    assert mlp["w"].shape == (64, 8, 8) and int(mlp["total_units"]) == 100
    assert "first_layer_weights.npz" not in train(engine, MOONS, epochs=1).artifacts


LINEAR = """
[study]
name = "linear"
[data]
name = "digits"
normalize = "minmax"
[model]
kind = "perceptron"
[train]
lr = 0.1
epochs = 4
[sweep]
"model.kind" = ["perceptron", "logistic"]
"train.engine" = ["numpy", "torch"]
[trials]
seeds = 2
"""


def test_perceptron_and_logistic_on_both_engines(tmp_path):
    path = tmp_path / "linear.toml"
    path.write_text(LINEAR)
    store = tmp_path / "runs"
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 0
    trials = pd.read_csv(store / "linear" / "trials.csv")
    assert len(trials) == 8 and set(trials.status) == {"done"}
    assert (trials.test_accuracy > 0.85).all()
    means = trials.groupby(["model.kind", "train.engine"]).test_accuracy.mean()
    for kind in ("perceptron", "logistic"):
        assert abs(means[kind, "numpy"] - means[kind, "torch"]) < 0.04
    figures = store / "linear" / "figures"
    assert (figures / "first_layer_weights.png").stat().st_size > 10_000
    assert (figures / "learning_curves.png").exists()


def test_binary_logistic_has_one_output():
    r = train("numpy", MOONS, {"kind": "logistic"}, epochs=5, lr=0.5)
    assert [k for k in r.history[0] if k.startswith("grad_norm/")] == ["grad_norm/output"]
    assert r.final["test_accuracy"] > 0.8
    study, _, _ = read_study({"study": {"name": "e"}, "data": MOONS, "model": {"kind": "logistic"}})
    from nnstudy.engines._common import head_of

    assert head_of(expand(study)[0].config["model"], load(study.data)).n_out == 1


def test_augmentation_is_refused_where_the_numpy_engine_would_ignore_it():
    from nnstudy.errors import StudyError

    raw = {"study": {"name": "aug"}, "data": {"name": "digits", "augment": ["flip"]}, "model": {"hidden": [8]}}
    read_study(raw)  # the torch engine augments
    with pytest.raises(StudyError, match='data.augment: the numpy engine does not augment images; leave augment out '
                                         'or set engine = "torch"'):
        read_study({**raw, "train": {"engine": "numpy"}})
