"""The interval problem: label +1 when sum(x) lies in [A, B] for x in {0,1}^D, and networks whose weights
are written by hand (in the study file or an .npz), checked on every input and on perturbations."""

import json

import numpy as np
import pandas as pd
import pytest

from nnstudy.cli import main
from nnstudy.data import load
from nnstudy.data._synthetic import all_binary_inputs, interval_labels
from nnstudy.engines._numpy._network import given_network
from nnstudy.spec import read_study

D, A, B = 8, 3, 5


def sign_solution(d: int, a: int, b: int) -> list[dict]:
    """Two sign units: [sum > a - 1/2] and [sum > b + 1/2]; output h1 - h2 - 1 > 0 exactly inside."""
    return [{"w": [[1.0] * d, [1.0] * d], "b": [-(a - 0.5), -(b + 0.5)]},
            {"w": [[1.0, -1.0]], "b": [-1.0]}]


def relu_solution(d: int, a: int, b: int) -> list[dict]:
    """Two ramps of ReLU pairs, 0 -> 1 over [a - 3/4, a - 1/4] and [b + 1/4, b + 3/4]; output their
    difference - 1/2, which crosses zero at a - 1/2 and b + 1/2, like the sign solution."""
    return [{"w": [[1.0] * d] * 4, "b": [-a + 0.75, -a + 0.25, -b - 0.25, -b - 0.75]},
            {"w": [[2.0, -2.0, -2.0, 2.0]], "b": [-0.5]}]


def data_cfg(noise: float | None = None, n_samples: int | None = None) -> dict:
    cfg = {"name": "interval-sum", "dim": D, "interval": [A, B], "normalize": "none"}
    return cfg | ({"noise": noise} if noise is not None else {}) | ({"n_samples": n_samples} if n_samples else {})


def test_dataset_holds_every_input_once_with_its_label():
    study, _, _ = read_study({"study": {"name": "i"}, "data": data_cfg()})
    ds = load(study.data)
    x = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert ds.input_shape == (D,) and ds.classes == ["-1", "+1"]
    assert len(x) == 2 ** D and len(np.unique(x, axis=0)) == 2 ** D
    sums = x.sum(1)
    np.testing.assert_array_equal(y, (sums >= A) & (sums <= B))
    assert set(np.unique(x)) == {0.0, 1.0}


def test_noise_moves_inputs_by_at_most_noise_and_keeps_labels():
    study, _, _ = read_study({"study": {"name": "i"}, "data": data_cfg(noise=0.05, n_samples=500)})
    ds = load(study.data)
    clean = np.round(ds.x_train)
    assert 0 < np.abs(ds.x_train - clean).max() <= 0.05
    np.testing.assert_array_equal(ds.y_train, interval_labels(clean, A, B))


@pytest.mark.parametrize("activation,solution", [("sign", sign_solution), ("relu", relu_solution)])
def test_hand_solution_is_exact_on_every_input_and_perturbation(activation, solution):
    margin = 0.5  # the sum may move by less than this
    net = given_network({"activation": activation, "layers": solution(D, A, B)}, np.float64)
    x = all_binary_inputs(D).astype(np.float64)
    labels = interval_labels(x, A, B)
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.99 * margin / D):  # each coordinate moved by up to shift: the sum by < margin
        x_moved = x + rng.uniform(-shift, shift, x.shape)
        np.testing.assert_array_equal(net.forward(x_moved, train=False)[:, 0] > 0, labels == 1)
    worst = x + np.where(labels[:, None] == 1, -1, 1) * (1.01 * margin / D)  # pushed towards the edge
    assert (net.forward(worst, train=False)[:, 0] > 0).sum() != (labels == 1).sum()


def test_study_with_inline_weights_scores_100_percent(tmp_path):
    study = {"study": {"name": "interval"}, "data": data_cfg(), "train": {"engine": "numpy"},
             "model": {"kind": "given", "activation": "sign", "layers": sign_solution(D, A, B)}}
    path = tmp_path / "interval.toml"
    path.write_text(_toml(study))
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 0
    trials = pd.read_csv(tmp_path / "runs" / "interval" / "trials.csv")
    assert trials[["train_accuracy", "val_accuracy", "test_accuracy"]].to_numpy().tolist() == [[1.0, 1.0, 1.0]]
    assert trials.epochs_run[0] == 0


def test_given_weights_read_the_inputs_after_an_encoding(tmp_path):
    """A Fourier encoding makes 8 inputs 24 (x, sin, cos): a network with 24 input weights, zero on the
    waves, is the sign solution; one with 8 is refused in one line before anything is written."""
    wide = sign_solution(D, A, B)
    wide[0]["w"] = [row + [0.0] * 2 * D for row in wide[0]["w"]]
    for layers, code in ((wide, 0), (sign_solution(D, A, B), 2)):
        study = {"study": {"name": "interval"}, "data": data_cfg() | {"encoding": "fourier", "frequencies": [1.0]},
                 "train": {"engine": "numpy"}, "model": {"kind": "given", "activation": "sign", "layers": layers}}
        path = tmp_path / "interval.toml"
        path.write_text(_toml(study))
        store = tmp_path / f"runs{code}"
        assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == code
    assert pd.read_csv(tmp_path / "runs0" / "interval" / "trials.csv").test_accuracy[0] == 1.0
    assert not (tmp_path / "runs2").exists()


@pytest.mark.parametrize("noise,perfect", [(0.03, True), (0.2, False)])
def test_study_with_npz_weights_on_perturbed_inputs(tmp_path, noise, perfect):
    layers = relu_solution(D, A, B)
    np.savez(tmp_path / "relu.npz", **{f"{k}{i}": np.array(layer[k]) for i, layer in enumerate(layers, 1)
                                       for k in "wb"})
    study = {"study": {"name": "interval"}, "data": data_cfg(noise=noise, n_samples=2000),
             "train": {"engine": "numpy"}, "model": {"kind": "given", "activation": "relu", "weights": "relu.npz"}}
    path = tmp_path / "interval.toml"
    path.write_text(_toml(study))
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 0
    accuracy = pd.read_csv(tmp_path / "runs" / "interval" / "trials.csv").test_accuracy[0]
    assert (accuracy == 1.0) if perfect else (0.5 < accuracy < 1.0)


def test_weights_file_is_part_of_the_trial_id(tmp_path):
    from nnstudy.spec import expand

    path = tmp_path / "s.toml"
    path.write_text(_toml({"study": {"name": "s"}, "data": data_cfg(), "train": {"engine": "numpy"},
                           "model": {"kind": "given", "weights": "w.npz"}}))
    ids = []
    for bias in (-0.5, -1.5):
        np.savez(tmp_path / "w.npz", w1=np.ones((1, D)), b1=np.array([bias]))
        study, _, label = read_study(path)
        ids.append(expand(study, label)[0].trial_id)
    assert ids[0] != ids[1]
    np.savez(tmp_path / "w.npz", w1=np.ones((1, D)), b1=np.array([-1.5]), extra=np.ones(2))
    with pytest.raises(Exception, match="must hold arrays w1, b1"):
        read_study(path)


def _toml(study: dict) -> str:
    """A study dict as TOML (enough for these tests: tables of scalars, lists and lists of tables)."""
    lines = []
    for section, table in study.items():
        lines.append(f"[{section}]")
        nested = {k: v for k, v in table.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items() if k not in nested]
        for key, items in nested.items():
            for item in items:
                lines.append(f"[[{section}.{key}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
