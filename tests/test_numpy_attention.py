"""The NumPy engine's multi-head self-attention: torch's SelfAttention's output and gradients on the same
weights (float64), and the numerical gradient check."""

import numpy as np
import pytest
import torch

from nnstudy.engines._numpy._attention import SelfAttention
from nnstudy.engines._numpy._gradcheck import TOLERANCE, check_gradients
from nnstudy.engines._numpy._layers import Layer, Linear
from nnstudy.engines._numpy._losses import make_loss
from nnstudy.engines._numpy._network import Network
from nnstudy.engines._numpy._step import Objective
from nnstudy.engines._torch._vit import SelfAttention as TorchSelfAttention

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
    net = Network([attention, Flatten(np.float64), Linear(T * DIM, 3, np.float64, rng)], ["output"])
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
    net = Network([attention, Flatten(np.float64), Linear(T * DIM, 3, np.float64, rng)], ["output"])
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
