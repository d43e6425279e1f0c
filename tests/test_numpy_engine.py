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


def test_a_wide_layers_weight_gradient_takes_the_thread_budget_and_the_numbers_stay(monkeypatch):
    """At batch <= 32 BLAS runs one thread, except for a wide layer's weight gradient (_blas.wider): numpy's
    OpenBLAS at the budget for that product, one again after it, and every number as with one thread."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from nnstudy.engines._numpy import _blas, _layers

    seen = []
    product = _layers.Linear.backward

    def spy(self, dy):
        if self.threads is not None:
            seen.append(self.w.shape)
        return product(self, dy)

    monkeypatch.setattr(_layers.Linear, "backward", spy)
    data = {"name": "digits", "normalize": "minmax"}
    model = {"hidden": [512, 16]}  # 64 x 512 = 32768 weights: below WIDE; 512 x 16 below too
    with threadpool_limits(1, user_api="blas"):
        assert _blas.wider() is None  # a budget of one thread: nothing to switch
        alone = train("numpy", data, {"hidden": [1024, 16]}, epochs=1, batch_size=16)
    assert not seen
    with threadpool_limits(2, user_api="blas"):
        switch = _blas.wider()
        assert switch is not None
        switch(True)
        numpy_blas = [i for i in threadpool_info() if i["internal_api"] == "openblas" and "numpy" in i["filepath"]]
        assert [i["num_threads"] for i in numpy_blas] == [2]
        switch(False)
        assert [i["num_threads"] for i in threadpool_info() if i["filepath"] == numpy_blas[0]["filepath"]] == [1]
        switch(True)
        wide = train("numpy", data, {"hidden": [1024, 16]}, epochs=1, batch_size=16)
        narrow = train("numpy", data, model, epochs=1, batch_size=16)
    assert set(seen) == {(64, 1024)} and len(narrow.history) == 1
    assert {k: v for k, v in wide.final.items() if k != "train_time_s"} == \
           {k: v for k, v in alone.final.items() if k != "train_time_s"}


def test_the_update_follows_the_arrays_it_is_handed():
    """add_scaled keeps the last step's BLAS pairs: new arrays (another trial) are updated, not the old ones."""
    from nnstudy.engines._numpy._optim import add_scaled

    p, u = [np.ones(3, np.float32), np.ones((2, 2), np.float64)], [np.full(3, 2, np.float32), np.ones((2, 2))]
    add_scaled(p, u, -0.5)
    assert p[0].tolist() == [0, 0, 0] and p[1].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    q = [np.ones(3, np.float32), np.ones((3, 2), np.float32)[:, 0]]  # a strided view: not BLAS's
    add_scaled(q, [np.ones(3, np.float32), np.ones(3, np.float32)], 2.0)
    assert q[0].tolist() == [3, 3, 3] and q[1].tolist() == [3, 3, 3] and p[0].tolist() == [0, 0, 0]


def test_trains_without_a_validation_split():
    """data.validation = 0: an empty split, whose reshape(0, -1) raised and failed every trial."""
    r = train("numpy", {"name": "iris", "validation": 0.0}, {"hidden": [4]}, epochs=2, batch_size=16)
    assert r.status == "done" and [h["epoch"] for h in r.history] == [1, 2]
    assert r.final["test_accuracy"] > 0 and "val_loss" not in r.final
