"""Model options of issue 19: the Inception-style conv block, input batch norm and starting weights for MLPs,
a tanh output for autoencoders and VAEs, sign(0) = +1 for given networks; batch norm with a batch of one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnstudy
from nnstudy.engines._numpy._network import given_network
from nnstudy.engines._torch._generative_nets import AutoEncoder, VAE
from nnstudy.engines._torch._mlp import build_model
from nnstudy.errors import StudyError
from nnstudy.spec import MODEL_KINDS, expand, read_study


def cfg(**model) -> dict:
    return MODEL_KINDS[model["kind"]].model_validate(model).model_dump(mode="json")


def test_inception_block_concatenates_branches_with_their_parameter_count():
    mc = cfg(kind="cnn", blocks=[{"channels": 4, "branches": [1, 3, 5], "pool": "max", "batch_norm": True}])
    model = build_model(mc, 64, 10, (1, 8, 8))
    x = torch.randn(5, 64)
    assert model(x).shape == (5, 10)
    convs = model.linears()[:-1]
    assert [c.kernel_size for c in convs] == [(1, 1), (3, 3), (5, 5)]
    assert model.linear_names == ["conv1_k1", "conv1_k3", "conv1_k5", "output"]
    # branches: 4 x (1 + 9 + 25) weights + 3 x 4 biases; batch norm of 12 channels; 12 x 4 x 4 -> 10
    expected = 4 * (1 + 9 + 25) + 12 + 2 * 12 + (12 * 4 * 4 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected == 2_106
    with torch.no_grad():  # the concatenation keeps each branch's own output, in order, at full size
        body = model[1]
        out = body(x.view(5, 1, 8, 8))
        assert out.shape == (5, 12, 8, 8)
        torch.testing.assert_close(out[:, 4:8], body.branches[1](x.view(5, 1, 8, 8)))
    assert "branches" not in cfg(kind="cnn")["blocks"][0]  # unset: left out, trial ids unchanged


@pytest.mark.parametrize("block, message", [({"channels": 4, "branches": [1, 2]}, "odd"),
                                            ({"channels": 4, "branches": [3], "kernel": 5}, "leave")])
def test_inception_block_refuses_even_kernels_and_a_kernel_of_its_own(block, message):
    with pytest.raises(ValueError, match=message):
        cfg(kind="cnn", blocks=[block])


def study(tmp_path, model: dict, train: dict | None = None, **extra) -> dict:
    return {"study": {"name": "mlp-options"}, "data": {"name": "moons", "n_samples": 200},
            "model": {"hidden": [8], **model},
            "train": {"lr": 0.05, "batch_size": 32, "epochs": 1, **(train or {})}, **extra}


def test_input_batch_norm_is_the_first_layer_and_left_out_when_unset():
    model = build_model(cfg(kind="mlp", hidden=[8], input_norm="batch"), 2, 2)
    assert isinstance(model[0], torch.nn.BatchNorm1d) and model[0].num_features == 2
    x = torch.randn(64, 2) * 5 + 3
    model.train()
    h = model[0](x)  # the batch's inputs standardized (gamma 1, beta 0 at the start)
    torch.testing.assert_close(h.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    assert "input_norm" not in cfg(kind="mlp") and "init_weights" not in cfg(kind="mlp")


def test_batch_norm_with_a_batch_of_one_is_a_study_file_error(tmp_path):
    for model in ({"input_norm": "batch"}, {"norm": "batch"}):
        with pytest.raises(StudyError, match="batch_size: batch norm"):
            read_study(study(tmp_path, model, {"batch_size": 1}))
    read_study(study(tmp_path, {}, {"batch_size": 1}))  # no batch norm: a batch of one is fine


def test_mlp_starts_from_given_weights_then_trains(tmp_path):
    rng = np.random.default_rng(0)
    w = {"w1": rng.normal(size=(8, 2)), "b1": rng.normal(size=8), "w2": rng.normal(size=(2, 8)), "b2": np.zeros(2)}
    np.savez(tmp_path / "start.npz", **w)
    path = tmp_path / "s.toml"
    path.write_text('[study]\nname = "start"\n[data]\nname = "moons"\nn_samples = 200\n'
                    '[model]\nhidden = [8]\ninit_weights = "start.npz"\n'
                    '[train]\nlr = 0.05\nbatch_size = 32\nepochs = 1\n')
    mc = read_study(path)[0].model.model_dump(mode="json")
    import hashlib

    assert mc["init_weights_sha256"] == hashlib.sha256((tmp_path / "start.npz").read_bytes()).hexdigest()
    model = build_model(mc, 2, 2)
    torch.testing.assert_close(model[0].weight.double(), torch.from_numpy(w["w1"]), rtol=0, atol=1e-6)
    torch.testing.assert_close(model[2].bias.double(), torch.from_numpy(w["b2"]), rtol=0, atol=1e-6)
    first = expand(read_study(path)[0], str(path))[0].trial_id
    # trained from there: a run with a tiny step stays at the file's weights; the file is part of the id
    from safetensors.torch import load

    from nnstudy.data import load as load_data
    from nnstudy.engines import get_engine

    tiny, _, label = read_study(path, {"train.lr": 1e-9, "train.save_weights": True})
    r = get_engine("torch").train(expand(tiny, label)[0], load_data(tiny.data), lambda e, m: None, "cpu")
    assert r.status == "done"
    art = r.artifacts["weights.safetensors"]
    np.testing.assert_allclose(load(art)["0.weight"].numpy(), w["w1"], atol=1e-6)
    np.testing.assert_allclose(load(art)["0.bias"].numpy(), w["b1"], atol=1e-6)
    np.savez(tmp_path / "start.npz", **{**w, "b2": np.ones(2)})
    assert expand(read_study(path)[0], str(path))[0].trial_id != first
    np.savez(tmp_path / "start.npz", w1=w["w1"], b1=w["b1"])  # one layer short: one line, before any training
    with pytest.raises(StudyError, match="init_weights: start.npz holds b1, w1; this MLP has 2 linear layers"):
        nnstudy.run(path, store=tmp_path / "runs")


def test_tanh_output_reconstructs_with_squared_error_in_minus_one_to_one():
    torch.manual_seed(0)
    mc = cfg(kind="ae", hidden=[8], encoding_dim=3, loss="mse", output="tanh")
    ae = AutoEncoder(mc, 6, None)
    x = torch.rand(4, 6) * 2 - 1
    recon = ae.reconstruct(x)
    torch.testing.assert_close(recon, torch.tanh(ae.decoder(ae.encoder(x))))
    torch.testing.assert_close(ae.losses(x)["loss"], (recon - x).pow(2).sum(1) / 6)
    vae = VAE(cfg(kind="vae", hidden=[8], latent_dim=2, loss="mse", output="tanh"), 6, None)
    assert vae.decode(torch.randn(50, 2) * 100).abs().max() <= 1.0
    with pytest.raises(ValueError, match='set loss = "mse"'):
        cfg(kind="vae", output="tanh")
    assert "output" not in cfg(kind="vae")


def test_sign_zero_makes_a_threshold_unit():
    layers = [{"w": [[1.0], [-1.0]], "b": [0.0, 0.0]}, {"w": [[1.0, 1.0]], "b": [0.0]}]
    x = np.array([[0.0], [2.0]])
    plain = given_network(cfg(kind="given", layers=layers), np.float64)
    plus = given_network(cfg(kind="given", layers=layers, sign_zero=1), np.float64)
    # x = 0: sign gives 0 + 0; the threshold unit +1 + +1; x = 2: +1 - 1 either way
    np.testing.assert_array_equal(plain.forward(x, train=False).ravel(), [0.0, 0.0])
    np.testing.assert_array_equal(plus.forward(x, train=False).ravel(), [2.0, 0.0])
    with pytest.raises(ValueError, match="applies to activation"):
        cfg(kind="given", layers=layers, activation="relu", sign_zero=1)
    assert "sign_zero" not in cfg(kind="given", layers=layers)


def test_a_sweep_that_switches_kinds_sets_each_key_on_the_kinds_that_have_it():
    base = {"study": {"name": "kinds"}, "data": {"name": "digits", "train_size": 64},
            "model": {"kind": "mlp", "hidden": [8], "norm": "batch"}, "train": {"epochs": 1}}
    one_grid = {"model.kind": ["mlp", "cnn"], "model.blocks": [[{"channels": 4, "branches": [1, 3]}]],
                "model.norm": ["none", "layer"]}
    trials = expand(read_study({**base, "sweep": one_grid})[0], "<dict>")
    models = [t.config["model"] for t in trials]
    # mlp: two norms, no blocks; cnn: its blocks, no norm (the file's norm = "batch" is the mlp's)
    assert [(m["kind"], m.get("norm"), "blocks" in m) for m in models] == [
        ("mlp", "none", False), ("mlp", "layer", False), ("cnn", None, True)]
    assert trials[2].point == {"model.kind": "cnn", "model.blocks": [{"channels": 4, "branches": [1, 3]}],
                               "model.norm": None}
    with pytest.raises(StudyError, match=r"sweep.model.width: none of the swept kinds \(mlp, cnn\) has model.width"):
        expand(read_study({**base, "sweep": {"model.kind": ["mlp", "cnn"], "model.width": [4]}})[0], "<dict>")


def test_a_model_key_left_out_while_unset_can_be_swept():
    base = {"study": {"name": "optional"}, "data": {"name": "moons", "n_samples": 200},
            "model": {"hidden": [8]}, "train": {"epochs": 1}, "sweep": {"model.input_norm": ["none", "batch"]}}
    trials = expand(read_study(base)[0], "<dict>")
    assert [t.config["model"].get("input_norm") for t in trials] == [None, "batch"]  # "none": left out, as unset
    assert trials[0].trial_id == expand(read_study({**base, "sweep": {}})[0], "<dict>")[0].trial_id
