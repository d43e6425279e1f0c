"""Issue 19 item 7: SOM dead units and prototypes, PCA explained variance (own vs scikit-learn), RBM inpainting
masks on any side, autoencoder reconstructions along training, ordinary least squares next to ARD."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

import nnstudy
from nnstudy.data import load
from nnstudy.engines import get_engine
from nnstudy.engines._classical._pca import own_pca
from nnstudy.engines._classical._rbm import inpaint_mask
from nnstudy.engines._classical._som import dead_units
from nnstudy.engines._classical._supervised import linear_weights, ols
from nnstudy.engines._torch._generative_common import along_epochs
from nnstudy.spec import expand, read_study

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_dead_units_count_the_neurons_that_win_no_sample():
    from minisom import MiniSom

    som = MiniSom(1, 4, 1, random_seed=0)
    som._weights[0, :, 0] = [0.0, 10.0, 100.0, 1000.0]  # data near 0 and 10: the last two never win
    x = np.array([[0.1], [-0.2], [9.5], [11.0], [10.2]])
    assert dead_units(som, x) == 2
    assert dead_units(som, np.array([[0.0], [10.0], [99.0], [990.0]])) == 0


def test_pca_cumulative_explained_variance_equals_scikit_learns():
    from sklearn.datasets import load_iris
    from sklearn.decomposition import PCA

    x = load_iris().data
    _, _, var = own_pca(x)
    ours = np.cumsum(var) / np.var(x, axis=0, ddof=1).sum()
    np.testing.assert_allclose(ours, np.cumsum(PCA().fit(x).explained_variance_ratio_), rtol=1e-12)
    assert ours[1] == pytest.approx(0.9776852, abs=1e-6)  # iris: two components keep 97.8 %


@pytest.mark.parametrize("side, hidden", [
    ("top", [(r, c) for r in range(2) for c in range(5)]),
    ("bottom", [(r, c) for r in range(2, 4) for c in range(5)]),
    ("left", [(r, c) for r in range(4) for c in range(2)]),
    ("right", [(r, c) for r in range(4) for c in range(3, 5)])])
def test_inpainting_masks_the_chosen_side(side, hidden):
    mask, n = inpaint_mask((4, 5), side, 2 if side != "right" else 0)  # right, 0: half of the 5 columns = 2
    assert n == 2 and sorted(zip(*np.nonzero(mask))) == hidden


def test_rbm_inpaint_side_is_left_out_of_the_config_when_bottom():
    from nnstudy.spec import MODEL_KINDS

    rbm = MODEL_KINDS["rbm"]
    assert "inpaint_side" not in rbm.model_validate({"kind": "rbm"}).model_dump()
    assert rbm.model_validate({"kind": "rbm", "inpaint_side": "left"}).model_dump()["inpaint_side"] == "left"


def test_ols_weights_equal_least_squares_and_scikit_learn():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 5))
    y = x @ np.array([1.0, 0.0, -2.0, 0.5, 0.0]) + 0.3 + 0.1 * rng.normal(size=40)
    model = ols({"fit_intercept": True}, "regression", 0, 1).fit(x, y)
    design = np.hstack([x, np.ones((40, 1))])
    lstsq = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(linear_weights(model)[0], lstsq[:5], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, lstsq[5], rtol=1e-10)
    np.testing.assert_allclose(linear_weights(model)[0], LinearRegression().fit(x, y).coef_, rtol=1e-12)


def test_ard_vs_ols_study_finds_the_known_relevant_inputs(tmp_path):
    path = STUDIES / "ard-vs-ols.toml"
    s = nnstudy.run(path, store=tmp_path / "runs", workers=1)
    kinds = dict(zip(s.trials()["trial_id"], s.trials()["model.kind"]))
    weights = {kinds[a.trial_id]: np.load(io.BytesIO(a.data))["coef"][0]
               for a in s.snapshot().artifacts if a.name == "linear_weights.npz"}
    spec = importlib.util.spec_from_file_location("sparse_linear", STUDIES / "sparse_linear.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    d = module.load(n_train=100, n_inputs=20)
    design = np.hstack([d["x_train"].astype(np.float32), np.ones((100, 1))])  # the data arrive as float32
    np.testing.assert_allclose(weights["ols"], np.linalg.lstsq(design, d["y_train"].astype(np.float32),
                                                               rcond=None)[0][:20], rtol=0, atol=1e-5)
    ard = weights["ard"]
    assert sorted(np.argsort(-np.abs(ard))[:3]) == [0, 5, 6]  # y = 3 x0 - 2 x5 + x6 + noise
    np.testing.assert_allclose(ard[[0, 5, 6]], [3.0, -2.0, 1.0], atol=0.1)
    assert (ard == 0).sum() >= 10 and (weights["ols"] == 0).sum() == 0  # ARD prunes, OLS does not
    assert {"linear_weights.png", "ard_weight_histogram.png"} <= {p.name for p in (s.report_dir / "figures").iterdir()}


def test_along_epochs_are_one_two_five_and_the_last():
    assert along_epochs(1) == [1]
    assert along_epochs(30) == [1, 2, 5, 10, 20, 30]


def test_stacked_autoencoder_keeps_reconstructions_after_pretraining_and_along_training():
    st = read_study({"study": {"name": "along"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 64},
                     "model": {"kind": "stacked_ae", "hidden": [16], "encoding_dim": 4, "pretrain_epochs": 1},
                     "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 3}})[0]
    trial = expand(st)[0]
    r = get_engine("torch").train(trial, load(st.data), lambda e, m: None, "cpu")
    along = np.load(io.BytesIO(r.artifacts["reconstructions_along.npz"]))
    final = np.load(io.BytesIO(r.artifacts["reconstructions.npz"]))
    # two pairs pre-trained for one epoch each (epochs 1-2), then fine-tuning epochs 3-5
    assert list(along["labels"]) == ["after pre-training", "epoch 3", "epoch 4", "epoch 5"]
    assert along["images"].shape == (4, 16, 8, 8)
    np.testing.assert_allclose(along["images"][-1], final["reconstruction"], atol=1e-6)
    np.testing.assert_array_equal(along["original"], final["original"])
    assert not np.allclose(along["images"][0], along["images"][-1])  # fine-tuning changed them
