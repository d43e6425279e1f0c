"""The generative kinds' evaluation on the CPU in slices (engines/_torch/_generative_common.split_means): each
EVAL_CHUNK-row chunk is computed a few rows at a time, so its activations fit glibc's reused memory, while a
VAE's noise is drawn chunk by chunk exactly as before. The per-split means equal the one-slice-per-chunk
evaluation's, the random stream is where it was, and the slices really are smaller than a chunk."""

import pytest
import torch

from nnstudy.data import load
from nnstudy.engines._torch import _generative_common, _tensors
from nnstudy.engines._torch._autoencoders import Setup, build
from nnstudy.spec import expand, read_study

MODELS = {"vae-conv": {"kind": "vae", "architecture": "conv", "channels": [8, 16], "latent_dim": 4, "loss": "mse"},
          "vae-mlp": {"kind": "vae", "hidden": [32], "latent_dim": 4},
          "ae-conv": {"kind": "ae", "architecture": "conv", "channels": [4, 8], "encoding_dim": 8}}


def setup(model: dict):
    study = read_study({"study": {"name": "g"}, "data": {"name": "digits", "normalize": "minmax"},
                        "model": model, "train": {"dtype": "float64"}})[0]
    trial = expand(study)[0]
    s = Setup(trial, load(study.data), "cpu")
    torch.manual_seed(0)
    return build(trial.config["model"], s).eval(), s


def evaluate(net, s, monkeypatch, values: int, chunk: int):
    """split_means with CPU slices of at most `values` activation values, EVAL_CHUNK = chunk; the means, the
    slice sizes it took and the random state after."""
    monkeypatch.setattr(_tensors, "CPU_EVAL_VALUES", values)
    monkeypatch.setattr(_generative_common, "EVAL_CHUNK", chunk)
    _tensors._widest.clear()
    sizes = []
    losses = net.losses

    def counted(x, *noise):
        sizes.append(x.shape[0])
        return losses(x, *noise)

    monkeypatch.setattr(net, "losses", counted)
    torch.manual_seed(123)
    means = _generative_common.split_means(net, s.inputs)
    monkeypatch.setattr(net, "losses", losses)
    return {k: float(v) for k, v in means.items()}, sizes, torch.get_rng_state()


@pytest.mark.parametrize("name", list(MODELS))
def test_slices_give_the_chunks_means_and_leave_the_random_stream_as_it_was(name, monkeypatch):
    net, s = setup(MODELS[name])
    n = s.inputs.x["train"].shape[0]
    whole, whole_sizes, whole_state = evaluate(net, s, monkeypatch, values=1 << 40, chunk=500)
    sliced, sliced_sizes, sliced_state = evaluate(net, s, monkeypatch, values=1 << 12, chunk=500)
    assert max(whole_sizes) == 500 and max(sliced_sizes) < 100  # one slice per chunk, against many
    assert sum(whole_sizes) == sum(sliced_sizes) and n > 500  # several chunks of train, and every row once
    assert whole.keys() == sliced.keys() and ("train_kl" in whole) == name.startswith("vae")
    for key in whole:
        assert sliced[key] == pytest.approx(whole[key], rel=1e-12, abs=0), key
    assert torch.equal(whole_state, sliced_state)  # the draws the evaluation took: the same count


def test_a_vaes_noise_is_drawn_per_chunk_as_before(monkeypatch):
    """Another chunking of the noise (not of the computing) would change a VAE's numbers: the slices keep it."""
    net, s = setup(MODELS["vae-mlp"])
    by_500, _, _ = evaluate(net, s, monkeypatch, values=1 << 40, chunk=500)
    by_250, _, _ = evaluate(net, s, monkeypatch, values=1 << 40, chunk=250)
    sliced, sizes, _ = evaluate(net, s, monkeypatch, values=13 * 64, chunk=500)  # widest: the 64 inputs
    assert max(sizes) == 13  # 13 x 4 draws a slice: drawn slice by slice, torch's normal_ would give others
    assert by_250["train_loss"] != pytest.approx(by_500["train_loss"], rel=1e-9)  # the noise matters
    assert sliced["train_loss"] == pytest.approx(by_500["train_loss"], rel=1e-12)


def test_a_conv_vae_is_sliced_by_its_widest_layer_not_its_input():
    net, s = setup(MODELS["vae-conv"])
    _tensors._widest.clear()
    widest = _tensors.widest_activation(net, s.inputs.x["train"][:1], net.losses)
    convs = []
    hooks = [m.register_forward_hook(lambda m, a, out: convs.append(out[0].numel()))
             for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net.losses(s.inputs.x["train"][:1])
    for h in hooks:
        h.remove()
    assert widest >= max(convs) > 64  # a conv layer's channels x height x width, more than the 8 x 8 input
    assert _tensors.cpu_rows(_tensors.EVAL_CHUNK, widest, torch.device("cpu")) == \
        min(_tensors.EVAL_CHUNK, _tensors.CPU_EVAL_VALUES // widest)
