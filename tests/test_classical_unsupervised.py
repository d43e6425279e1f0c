"""Classical engine, unsupervised kinds: SOM clustering on iris, RBM and DBM on binarized digits."""

import numpy as np
import pandas as pd
import pytest
import torch
from classical_helpers import figures, run
from sklearn.datasets import load_digits

from nnstudy.engines._classical._boltzmann import RBM, inpaint, pseudo_ll

DIGITS = {"name": "digits", "train_size": 1000}


def test_som_on_iris_clusters_with_nmi_above_07(tmp_path):
    s = run(tmp_path, "som", {"name": "iris", "normalize": "none", "validation": 0.0},
            {"kind": "som", "grid": [1, 3], "iterations": 2000}, {"epochs": 2}, seeds=3)
    t = s.trials()
    assert (t["status"] == "done").all()
    assert t["train_nmi"].mean() >= 0.7 and t["test_nmi"].mean() >= 0.7
    assert t["test_accuracy"].mean() >= 0.75  # each of the 3 neurons labelled by its majority class
    res = pd.read_csv(s.report_dir / "results.csv")
    assert "test_nmi_mean" in res.columns and res["rank"].iloc[0] == 1
    assert "test_nmi" in pd.read_csv(s.report_dir / "trials.csv").columns
    assert {"som_umatrix.png", "som_hits.png", "learning_curves.png"} <= set(figures(s))


def test_som_in_epochs_is_minisoms_own_training_with_the_seed(tmp_path):
    """The map trained in 3 epochs is MiniSom(random_seed=seed).train(x, iterations, random_order=True) (it drew
    its own sample order from another generator: test_loss 0.6226 instead of MiniSom's 0.6239 on iris)."""
    from minisom import MiniSom
    from sklearn.metrics import normalized_mutual_info_score

    from nnstudy.data import load
    from nnstudy.spec._schema import DataConfig

    data = {"name": "iris", "normalize": "none", "validation": 0.0}
    s = run(tmp_path, "som", data, {"kind": "som", "grid": [1, 3], "iterations": 500}, {"epochs": 3}, seeds=2)
    ds = load(DataConfig(**data))
    for seed, row in s.trials().set_index("seed").iterrows():
        som = MiniSom(1, 3, ds.x_train.shape[1], sigma=1.0, learning_rate=0.5, random_seed=seed)
        som.random_weights_init(ds.x_train.astype(np.float64))
        som.train(ds.x_train.astype(np.float64), 500, random_order=True)
        x_test = ds.x_test.astype(np.float64)
        assert row["test_loss"] == som.quantization_error(x_test)
        winners = [som.winner(v)[1] for v in x_test]
        assert row["test_nmi"] == pytest.approx(normalized_mutual_info_score(ds.y_test, winners), rel=1e-12)


def test_pseudo_likelihood_is_exact_on_a_tiny_rbm():
    gen = torch.Generator().manual_seed(0)
    rbm = RBM(5, 3, torch.full((5,), 0.4), gen)
    rbm.W = torch.randn(5, 3, generator=gen)
    v = torch.bernoulli(torch.full((7, 5), 0.5), generator=gen)

    def free_energy(x):
        return -(x @ rbm.b) - torch.nn.functional.softplus(x @ rbm.W + rbm.c).sum(-1)

    expected = 0.0
    for i in range(5):  # log P(v_i | rest) = -log(1 + exp(F(v) - F(v with bit i flipped)))
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        expected += (-torch.nn.functional.softplus(free_energy(v) - free_energy(flipped))).mean()
    assert pseudo_ll(v, rbm.W, rbm.b, rbm.c) == pytest.approx(float(expected), abs=1e-5)


def test_inpainting_estimates_the_exact_conditional_of_a_tiny_rbm():
    """Two of six pixels hidden: the inpainted values approach P(pixel on | the four shown), computed by
    summing the RBM's free energy over the four fillings; one Gibbs step's mean alone is far noisier."""
    gen = torch.Generator().manual_seed(1)
    rbm = RBM(6, 4, torch.full((6,), 0.5), gen)
    rbm.W = 2 * torch.randn(6, 4, generator=gen, dtype=torch.float64)
    rbm.b, rbm.c = rbm.b.double(), torch.randn(4, generator=gen, dtype=torch.float64)
    x = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 0, 0, 1, 1]], dtype=torch.float64)
    hidden = torch.tensor([False, False, False, False, True, True])

    def free_energy(v):
        return -(v @ rbm.b) - torch.nn.functional.softplus(v @ rbm.W + rbm.c).sum(-1)

    fills = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
    exact = []
    for row in x:
        v = row.repeat(4, 1)
        v[:, 4:] = fills
        p = torch.softmax(-free_energy(v), 0)
        exact.append(p @ fills)
    exact = torch.stack(exact).numpy()
    averaged = inpaint(rbm.W, rbm.b, rbm.c, x, hidden, 20_000, torch.Generator().manual_seed(0))
    one_step = inpaint(rbm.W, rbm.b, rbm.c, x, hidden, 1, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(averaged[:, 4:], exact, atol=0.02)
    np.testing.assert_array_equal(averaged[:, :4], x[:, :4].numpy())  # the shown pixels stay as they are
    assert np.abs(one_step[:, 4:] - exact).max() > 0.1


def test_rbm_pseudo_likelihood_rises_on_digits(tmp_path):
    s = run(tmp_path, "rbm", DIGITS, {"kind": "rbm", "hidden": 32, "gibbs_steps": 50},
            {"epochs": 4, "lr": 0.1, "batch_size": 10})
    h = s.history()
    own = h[h["metric"] == "train_pll"].sort_values("epoch")["value"].to_numpy()
    theirs = h[h["metric"] == "sklearn_test_pll"].sort_values("epoch")["value"].to_numpy()
    assert len(own) == 4 and own[-1] > own[0] + 1.0  # nats per image
    assert theirs[-1] > theirs[0] and abs(own[-1] - theirs[-1]) < 5.0  # scikit-learn's RBM learns alike
    figs = figures(s)
    assert {"rbm_samples.png", "rbm_inpainting.png", "rbm_filters.png"} <= set(figs)
    assert figs["rbm_samples.png"][0] > 300  # one row per Gibbs-step count (1, 10, 50)


def test_dbm_reconstruction_falls_and_shows_both_layers(tmp_path):
    s = run(tmp_path, "dbm", DIGITS, {"kind": "dbm", "hidden": [32, 16], "pretrain_epochs": 2, "chains": 50,
                                      "gibbs_steps": 20}, {"epochs": 3, "lr": 0.05, "batch_size": 20})
    h = s.history()
    loss = h[h["metric"] == "train_loss"].sort_values("epoch")["value"].to_numpy()
    assert len(loss) == 3 and loss[-1] < loss[0] and loss[-1] < 0.7 * 64 * np.log(2)  # beats coin flips
    assert {"dbm_filters.png", "dbm_samples.png"} <= set(figures(s))


@pytest.mark.parametrize("kind, model", [("rbm", {"hidden": 8, "gibbs_steps": 5, "sklearn": False}),
                                         ("dbm", {"hidden": [8, 4], "pretrain_epochs": 1, "chains": 10,
                                                  "gibbs_steps": 5})])
def test_boltzmann_weights_overflowing_at_a_huge_lr_are_a_diverged_trial(tmp_path, kind, model):
    """Weights gone inf give NaN probabilities, which torch.bernoulli refused: the trial failed with its error."""
    s = run(tmp_path, kind, {"name": "digits", "train_size": 200}, {"kind": kind, **model},
            {"epochs": 2, "lr": 1e308, "batch_size": 20})
    t = s.trials()
    assert t["status"].tolist() == ["diverged"]
    assert t["error"].tolist() == ["loss became nan at epoch 1"]


def test_scikit_learns_rbm_overflowing_at_a_huge_lr_is_said_once_as_diverged_without_numpy_warnings(tmp_path, capsys):
    import warnings

    from nnstudy.cli import main

    (tmp_path / "rbm.toml").write_text('[study]\nname = "rbm"\n[data]\nname = "digits"\ntrain_size = 200\n'
                                       '[model]\nkind = "rbm"\nhidden = 8\ngibbs_steps = 5\nsklearn = true\n'
                                       '[train]\nengine = "classical"\nlr = 1e308\nbatch_size = 20\nepochs = 2\n')
    with warnings.catch_warnings(record=True) as caught:  # what the command line prints one line each
        warnings.simplefilter("always")
        assert main(["run", str(tmp_path / "rbm.toml"), "--store", str(tmp_path / "store"), "--workers", "1"]) == 1
    assert [str(w.message) for w in caught] == []
    err = capsys.readouterr().err
    assert "overflow" not in err and "RuntimeWarning" not in err, err
    assert err.count("diverged") == 2 and "sklearn_test_pll=nan" in err, err  # its line and the summary's


def test_digit_inputs_binarize_at_half_range():
    from nnstudy.engines._classical._boltzmann import binarize
    from nnstudy.data._dataset import Dataset

    x = load_digits().data[:20].astype(np.float32)
    ds = Dataset("digits", "classification", x, np.zeros(20, int), x[:0], np.zeros(0, int), x, np.zeros(20, int),
                 (8, 8), [str(i) for i in range(10)])
    b = binarize(ds, torch.device("cpu"))
    assert set(np.unique(b["train"].numpy())) <= {0.0, 1.0} and b["val"].shape == (0, 64)
    assert b["train"].mean() > 0.2


def test_a_bubble_of_radius_one_and_a_half_trains_without_minisoms_warning():
    import warnings

    from nnstudy.data import load
    from nnstudy.engines._classical._som import train_trial
    from nnstudy.spec import expand, read_study

    model = {"kind": "som", "grid": [2, 2], "sigma": 1.5, "neighborhood": "bubble", "iterations": 50}
    study, _, label = read_study({"study": {"name": "b"}, "data": {"name": "iris"}, "model": model,
                                  "train": {"engine": "classical", "epochs": 1}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train_trial(expand(study, label)[0], load(study.data), lambda *a: None)
    assert result.status == "done" and result.final["test_loss"] > 0
