"""The NumPy engine's multi-head self-attention and ViT: torch's SelfAttention's and ViT's outputs and
gradients on the same weights (float64), the numerical gradient check, training, and `nnstudy summary`."""

import re

import numpy as np
import pytest
import torch

from nnstudy import kinds
from nnstudy.cli import main
from nnstudy.data import load
from nnstudy.engines._numpy._attention import SelfAttention
from nnstudy.engines._numpy._gradcheck import TOLERANCE, check_gradients, check_trial
from nnstudy.engines._numpy._layers import Layer, Linear
from nnstudy.engines._numpy._losses import make_loss
from nnstudy.engines._numpy._network import Network
from nnstudy.engines._numpy._step import Objective
from nnstudy.engines._numpy._train import train_trial
from nnstudy.engines._numpy._vit import image_shape, vit_network
from nnstudy.engines._torch._vit import SelfAttention as TorchSelfAttention
from nnstudy.engines._torch._vit import ViT
from nnstudy.spec import expand, read_study
from nnstudy.summary import summarize_study

B, T, DIM, HEADS = 3, 5, 8, 2


def pair(seed: int = 0) -> tuple[TorchSelfAttention, SelfAttention]:
    """torch's layer with its default init, and the NumPy one holding the same weights."""
    torch.manual_seed(seed)
    theirs = TorchSelfAttention(DIM, HEADS).double()
    ours = SelfAttention(DIM, HEADS, np.float64, None)
    for mine, lin in ((ours.qkv, theirs.qkv), (ours.proj, theirs.proj)):
        mine.w[...] = lin.weight.detach().numpy().T
        mine.b[...] = lin.bias.detach().numpy()
    return theirs, ours


def test_forward_and_gradients_equal_torch():
    theirs, ours = pair()
    rng = np.random.default_rng(1)
    x, dy = rng.normal(size=(B, T, DIM)), rng.normal(size=(B, T, DIM))
    xt = torch.tensor(x, requires_grad=True)
    y = theirs(xt)
    (y * torch.tensor(dy)).sum().backward()

    out = ours.forward(x, train=True)
    assert out.shape == (B, T, DIM)
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=0, atol=1e-12)
    assert ours.q.shape == ours.k.shape == ours.v.shape == (B, HEADS, T, DIM // HEADS)
    assert ours.attn.shape == (B, HEADS, T, T)
    np.testing.assert_allclose(ours.attn.sum(-1), 1.0, rtol=0, atol=1e-12)

    dx = ours.backward(dy.copy())
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-12)
    expected = [theirs.qkv.weight.grad.T, theirs.qkv.bias.grad, theirs.proj.weight.grad.T, theirs.proj.bias.grad]
    for name, grad, want in zip(ours.param_names, ours.grads, expected):
        assert np.abs(grad).max() > 1e-3, name  # a real gradient, not zeros on both sides
        np.testing.assert_allclose(grad, want.numpy(), rtol=0, atol=1e-12, err_msg=name)


def test_buffers_are_reused_between_steps():
    _, ours = pair()
    x = np.random.default_rng(2).normal(size=(B, T, DIM))
    first = ours.forward(x, train=True)
    again = ours.forward(x + 1.0, train=True)
    assert np.shares_memory(again, first)  # the same output buffer, refilled
    assert np.shares_memory(ours.backward(np.ones((B, T, DIM))), ours.backward(np.ones((B, T, DIM))))


class Flatten(Layer):
    """(B, T, D) -> (B, T * D), for a classifier on top of the attention in the gradient check."""

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self.shape)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_numerical_gradient_check_passes(l2):
    rng = np.random.default_rng(3)
    attention = SelfAttention(DIM, HEADS, np.float64, rng)
    net = Network([attention, Flatten(np.float64), Linear(T * DIM, 3, np.float64, rng)],
                  ["attn.qkv", "attn.proj", "output"])
    assert net.param_names == ["attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                               "output.weight", "output.bias"]
    objective = Objective(net, make_loss("cross_entropy"), 0.0, l2)
    assert len(objective.weights) == 3  # the L2 penalty reaches the attention's two projections too
    x, y = rng.normal(size=(B, T, DIM)), rng.integers(0, 3, B)
    results = check_gradients(objective, x, y, 0, rng)
    assert [c.name for c in results] == net.param_names
    assert all(c.checked == np.prod(c.shape) and c.max_grad > 1e-4 for c in results)
    assert max(c.error for c in results) < TOLERANCE, {c.name: c.error for c in results}


def test_a_broken_backward_is_caught():
    rng = np.random.default_rng(4)
    attention = SelfAttention(DIM, HEADS, np.float64, rng)
    net = Network([attention, Flatten(np.float64), Linear(T * DIM, 3, np.float64, rng)],
                  ["attn.qkv", "attn.proj", "output"])
    backward = attention.backward

    def wrong(dy):  # forgets the softmax's 1 / sqrt(d) in the query and key gradients' path
        dx = backward(dy)
        attention.qkv.dw[:, :DIM] *= np.sqrt(DIM // HEADS)
        return dx

    attention.backward = wrong
    results = check_gradients(Objective(net, make_loss("cross_entropy"), 0.0, 0.0), rng.normal(size=(B, T, DIM)),
                              rng.integers(0, 3, B), 0, rng)
    bad = [c.name for c in results if not c.ok]
    assert bad == ["attn.qkv.weight"]


def test_heads_must_divide_dim():
    with pytest.raises(ValueError, match="heads = 3 must divide dim = 8"):
        SelfAttention(8, 3, np.float64, None)


# ---- the whole ViT on the NumPy engine ----

def ours_name(torch_name: str) -> str:
    """torch's ViT parameter name -> the NumPy network's (gradcheck's) name."""
    name = re.sub(r"^blocks\.(\d+)\.", lambda m: f"block{int(m.group(1)) + 1}.", torch_name)
    for theirs, mine in (("embed.proj.", "embed."), ("attn.qkv", "qkv"), ("attn.proj", "proj"),
                         ("mlp.0.", "mlp1."), ("mlp.3.", "mlp2."), ("head.", "output.")):
        name = name.replace(theirs, mine)
    return name


@pytest.mark.parametrize("shape,patch", [((2, 4, 6), 2), ((3, 12), 4)], ids=["image", "signal"])
def test_numpy_vit_equals_torch_vit(shape, patch):
    torch.manual_seed(0)
    theirs = ViT(shape, 5, patch=patch, dim=8, depth=2, heads=2, mlp_dim=12).double()
    net = vit_network(image_shape(shape), 5, patch, 8, 2, 2, 12, 0.0, np.float64, np.random.default_rng(0), None)
    params, grads = dict(zip(net.param_names, net.params)), dict(zip(net.param_names, net.grads))
    assert sorted(map(ours_name, dict(theirs.named_parameters()))) == sorted(params)
    for name, p in theirs.named_parameters():
        params[ours_name(name)][...] = p.detach().numpy().T if p.ndim == 2 else p.detach().numpy()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, int(np.prod(shape))))
    y = theirs(torch.tensor(x))
    dy = rng.normal(size=y.shape)
    (y * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(net.forward(x, train=True), y.detach().numpy(), rtol=0, atol=1e-12)
    net.backward(dy.copy())
    for name, p in theirs.named_parameters():
        want = p.grad.numpy().T if p.ndim == 2 else p.grad.numpy()
        assert np.abs(want).max() > 1e-3, name
        np.testing.assert_allclose(grads[ours_name(name)], want, rtol=0, atol=1e-11, err_msg=name)
    assert net.linear_names == theirs.linear_names
    assert len(net.linears()) == len(theirs.linears())


VIT = {"data": {"name": "digits", "train_size": 128},
       "model": {"kind": "vit", "patch": 4, "dim": 16, "depth": 1, "heads": 2, "mlp_dim": 16, "dropout": 0.1},
       "train": {"engine": "numpy", "optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 4}}


def vit_trial(**train):
    study, _, _ = read_study({"study": {"name": "vit-np"}, **VIT, "train": {**VIT["train"], **train},
                              "trials": {"seeds": [0]}})
    return expand(study)[0], load(study.data)


def test_vit_trains_on_the_numpy_engine():
    assert "numpy" in kinds.get("vit").engines
    trial, data = vit_trial()
    result = train_trial(trial, data, lambda epoch, metrics: None)
    assert result.status == "done"
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 4 and all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.8 * losses[0]
    assert result.final["train_accuracy"] > 0.3  # ten classes: chance is 0.1
    assert {f"grad_norm/{n}" for n in ("embed", "block1.qkv", "block1.mlp2", "output")} <= set(result.history[-1])


def test_vit_gradient_check_passes_with_dropout():
    trial, data = vit_trial()
    results = check_trial(trial, data, batch=4, entries=16)
    assert [c.name for c in results][:4] == ["embed.weight", "embed.bias", "cls", "pos"]
    assert len(results) == 4 + 12 + 4 and all(c.checked > 0 for c in results)
    assert max(c.error for c in results) < TOLERANCE, {c.name: c.error for c in results}


def test_summary_shows_the_torch_vits_attention_shapes(tmp_path):
    path = tmp_path / "vit.toml"
    path.write_text('[study]\nname = "vit-np"\n[data]\nname = "digits"\n[model]\nkind = "vit"\npatch = 4\n'
                    'dim = 16\ndepth = 2\nheads = 2\nmlp_dim = 32\n[train]\nengine = "numpy"\n')
    mine = summarize_study(str(path), [])
    theirs = summarize_study(str(path), [], {"train.engine": "torch"})

    def attention_rows(s):
        return [(r.name.split(".attn")[1], r.output_shape) for r in s.layers if ".attn:" in r.name]

    assert attention_rows(mine) == attention_rows(theirs) == [
        (": q, k, v", (2, 5, 8)), (": weights", (2, 5, 5)), (": q, k, v", (2, 5, 8)), (": weights", (2, 5, 5))]
    assert mine.total == theirs.total == 5018
    blocks = [r for r in mine.layers if r.kind == "EncoderBlock"]
    assert [r.mult_adds for r in blocks] == [5 * (16 * 48 + 16 * 16 + 2 * 16 * 32) + 2 * 2 * 5 * 5 * 8] * 2
    assert mine.mult_adds == theirs.mult_adds == sum(r.mult_adds for r in theirs.layers)  # one count, both engines


def test_weights_and_augmentation_are_refused_on_the_numpy_engine(tmp_path, capsys):
    (tmp_path / "w.safetensors").write_bytes(b"")
    path = tmp_path / "vit.toml"
    path.write_text('[study]\nname = "vit-np"\n[data]\nname = "digits"\n[model]\nkind = "vit"\n'
                    'weights = "w.safetensors"\n[train]\nengine = "numpy"\n')
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    assert "model.weights: the numpy engine trains a ViT from its own initial weights" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    path.write_text('[study]\nname = "vit-np"\n[data]\nname = "digits"\naugment = ["flip"]\n[model]\nkind = "vit"\n'
                    '[train]\nengine = "numpy"\n')
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    assert "data.augment: the numpy engine does not augment images" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
