"""cnn, resnet18 and vit: shapes, parameter counts (the Keras example: 34,826), attention vs SDPA,
augmentation on the batch, and the `nnstudy summary` command."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nnstudy.cli import main
from nnstudy.engines._torch._augment import make_augment, random_crop, random_erase, random_flip
from nnstudy.engines._torch._mlp import MLP, build_model
from nnstudy.engines._torch._resnet import ResNet18
from nnstudy.engines._torch._vit import SelfAttention, attention
from nnstudy.errors import StudyError
from nnstudy.spec import MODEL_KINDS, read_study
from nnstudy.summary import summarize_model

KERAS = {"kind": "cnn", "dropout": 0.5}  # conv 32 -> pool -> conv 64 -> pool -> flatten -> dropout -> dense 10


def cfg(**model) -> dict:
    return MODEL_KINDS[model["kind"]].model_validate(model).model_dump(mode="json")


def test_keras_example_has_34826_parameters_and_keras_shapes():
    model = build_model(cfg(**KERAS), 784, 10, (1, 28, 28))
    s = summarize_model(model, (1, 28, 28))
    assert s.total == 34_826 == s.trainable
    convs = [r for r in s.layers if r.kind == "Conv2d"]
    assert [c.output_shape for c in convs] == [(32, 26, 26), (64, 11, 11)]
    assert [c.params for c in convs] == [320, 18_496]
    flatten, dropout, dense = s.layers[-3:]
    assert flatten.kind == "Flatten" and dropout.kind.endswith("Dropout") and dense.kind == "Linear"
    assert s.layers[-1].output_shape == (10,) and s.layers[-1].params == 16_010
    # mult-adds per sample of the products (bias additions not counted), by hand
    conv1, conv2, dense = 32 * 26 * 26 * 1 * 9, 64 * 11 * 11 * 32 * 9, 1600 * 10
    assert [c.mult_adds for c in convs] == [conv1, conv2] and s.layers[-1].mult_adds == dense
    assert s.mult_adds == conv1 + conv2 + dense == 2_440_960


def test_mlp_summary_counts_every_layer():
    s = summarize_model(MLP(64, [32], 10), (64,))
    assert s.total == 64 * 32 + 32 + 32 * 10 + 10
    assert [r.output_shape for r in s.layers] == [(32,), (32,), (10,)]
    assert [r.mult_adds for r in s.layers] == [64 * 32, 0, 32 * 10] and s.mult_adds == 64 * 32 + 32 * 10


def test_a_transformers_mult_adds_count_every_token_and_attention():
    """Per sample, by hand: patches x 16 x dim; per block T tokens through qkv, proj and the MLP, and 2 T² dim for
    q kᵀ and the weights times v; the head on the class token. (torchinfo 1.8 counts each Linear once per sample.)"""
    from nnstudy.engines._torch._vit import ViT

    dim, heads, mlp, depth, t = 32, 4, 64, 2, 50
    s = summarize_model(ViT((1, 28, 28), 10, patch=4, dim=dim, depth=depth, heads=heads, mlp_dim=mlp), (1, 28, 28))
    embed, block = 49 * 16 * dim, t * (dim * 3 * dim + dim * dim + 2 * dim * mlp) + 2 * t * t * dim
    rows = {r.name: r.mult_adds for r in s.layers}
    assert rows["embed"] == embed and rows["blocks.0"] == rows["blocks.1"] == block and rows["head"] == dim * 10
    assert s.mult_adds == embed + depth * block + dim * 10 == sum(rows.values())


def test_resnet18_has_the_cifar_parameter_count():
    model = ResNet18((3, 32, 32), 10)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962  # the CIFAR ResNet-18
    assert model(torch.zeros(2, 3 * 32 * 32)).shape == (2, 10)
    assert len(model.linears()) == len(model.linear_names) == 21  # 17 convs + 3 shortcuts + output


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 40)])
def test_every_kind_maps_flat_inputs_of_images_and_signals_to_logits(shape):
    n_in = math.prod(shape)
    for mc in (cfg(kind="cnn", blocks=[{"channels": 4, "padding": "same", "pool": "max", "batch_norm": True},
                                       {"channels": 6, "dilation": 2, "pool": "global_avg"}], hidden=[8]),
               cfg(kind="resnet18", width=4),
               cfg(kind="vit", patch=4, dim=16, depth=2, heads=2, mlp_dim=32)):
        model = build_model(mc, n_in, 7, shape)
        out = model(torch.randn(3, n_in))
        assert out.shape == (3, 7)
        out.sum().backward()
        assert all(m.weight.grad is not None for m in model.linears())
        assert len(model.linears()) == len(model.linear_names)


def test_cnn_blocks_that_shrink_the_input_to_nothing_are_refused():
    with pytest.raises(ValueError, match="do not fit|nothing"):
        build_model(cfg(kind="cnn", blocks=[{"channels": 4, "kernel": 9}]), 64, 10, (8, 8))


def test_plain_attention_equals_scaled_dot_product_attention():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8, generator=g, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
    layer = SelfAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=torch.float64, generator=g)
    b, t, d = x.shape
    qkv = layer.qkv(x).view(b, t, 3, 3, 4).permute(2, 0, 3, 1, 4)
    ref = layer.proj(F.scaled_dot_product_attention(*qkv).transpose(1, 2).reshape(b, t, d))
    torch.testing.assert_close(layer(x), ref)


def test_vit_summary_shows_queries_keys_values_and_attention_weights_per_block():
    model = build_model(cfg(kind="vit", patch=4, dim=16, depth=2, heads=2, mlp_dim=32), 784, 10, (1, 28, 28))
    s = summarize_model(model, (1, 28, 28))
    names = [r.name for r in s.layers]
    for j in (0, 1):  # 49 patches + the class token, 2 heads of 16 / 2 = 8
        at = names.index(f"blocks.{j}")
        assert s.layers[at].output_shape == (50, 16)
        assert [(r.name, r.output_shape) for r in s.layers[at + 1:at + 3]] == [
            (f"blocks.{j}.attn: q, k, v", (2, 50, 8)), (f"blocks.{j}.attn: weights", (2, 50, 50))]
    assert s.total == sum(p.numel() for p in model.parameters())  # the extra rows add no parameters
    assert not any(m._forward_pre_hooks for m in model.modules())  # the hooks are gone after the pass


def test_vit_patch_must_divide_the_image():
    with pytest.raises(ValueError, match="must divide"):
        build_model(cfg(kind="vit", patch=5, dim=16, heads=2), 784, 10, (1, 28, 28))
    with pytest.raises(StudyError, match="heads = 3 must divide dim = 16"):
        read_study({"study": {"name": "v"}, "data": {"name": "digits"},
                    "model": {"kind": "vit", "dim": 16, "heads": 3}})
    with pytest.raises(StudyError, match="data.augment: applies to images and signals; iris has flat inputs"):
        read_study({"study": {"name": "v"}, "data": {"name": "iris", "augment": ["flip"]}})
    with pytest.raises(StudyError, match="data.augment.0: 'rotate' is not allowed"):
        read_study({"study": {"name": "v"}, "data": {"name": "digits", "augment": ["rotate"]}})


def test_crop_shifts_each_sample_and_flip_mirrors():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    same = random_crop(x, 0, 0, g)
    assert torch.equal(same, x)
    crops = [random_crop(x, 2, 2, g) for _ in range(20)]
    for c in crops:  # every crop is a window of the zero-padded image
        padded = F.pad(x, (2, 2, 2, 2))
        for i in range(2):
            assert any(torch.equal(c[i], padded[i, :, dy:dy + 6, dx:dx + 6]) for dy in range(5) for dx in range(5))
    assert any(not torch.equal(c, x) for c in crops)
    flips = [random_flip(x, g) for _ in range(20)]
    assert all(torch.equal(f[i], x[i]) or torch.equal(f[i], x[i].flip(-1)) for f in flips for i in range(2))
    assert any(torch.equal(f[0], x[0].flip(-1)) for f in flips) and any(torch.equal(f[0], x[0]) for f in flips)
    augment = make_augment(["crop", "flip"], (1, 6, 6), g)
    assert augment(x.view(2, 36)).shape == (2, 36)
    assert make_augment([], (1, 6, 6), g) is None


def test_erase_fills_one_rectangle_in_about_half_the_samples():
    g = torch.Generator().manual_seed(0)
    x = torch.full((4000, 1, 28, 28), 2.0)
    x[:, :, 0, 0] = -1.0  # the batch's range: fills lie in [-1, 2]
    out = random_erase(x, g)
    changed = out != x
    hit = changed.flatten(1).any(1)
    assert 0.45 < hit.float().mean() < 0.55
    assert out.min() >= -1.0 and out.max() <= 2.0
    areas = []
    for m in changed[hit, 0][:200]:  # the changed pixels lie in one rectangle of 2-40 % of the image
        rows, cols = m.any(1).nonzero().flatten(), m.any(0).nonzero().flatten()
        h, w = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
        assert m.sum() <= h * w and h * w <= 0.42 * 28 * 28 and h * w >= 1
        areas.append(h * w / 784)
    assert 0.1 < sum(areas) / len(areas) < 0.3  # mean of U(0.02, 0.4), clipped at the borders
    augment = make_augment(["crop", "flip", "erase"], (1, 28, 28), g)
    assert augment(x[:8].reshape(8, 784)).shape == (8, 784)


def test_summary_command_prints_the_total(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "s"\n[data]\nname = "digits"\n[model]\nkind = "cnn"\n'
                     'blocks = [{channels = 4, pool = "max"}]\n')
    assert main(["summary", str(study)]) == 0
    out = capsys.readouterr().out
    assert "Conv2d" in out and "(None, 4, 6, 6)" in out
    assert f"total parameters: {4 * 9 + 4 + 4 * 3 * 3 * 10 + 10:,}" in out
    assert f"mult-adds per sample: {4 * 6 * 6 * 9 + 4 * 3 * 3 * 10:,}" in out  # conv on 8x8 -> 6x6, dense
    assert main(["summary", str(study), "--point", "model.kind=mlp"]) == 2


def test_summary_of_an_autoencoder_runs_encoder_and_decoder(tmp_path, capsys):
    study = tmp_path / "ae.toml"
    study.write_text('[study]\nname = "ae"\n[data]\nname = "digits"\nnormalize = "minmax"\n'
                     '[model]\nkind = "ae"\nhidden = [32]\nencoding_dim = 8\n')
    assert main(["summary", str(study)]) == 0
    out = capsys.readouterr().out
    encoder, decoder = 64 * 32 + 32 + 32 * 8 + 8, 8 * 32 + 32 + 32 * 64 + 64
    assert f"total parameters: {encoder + decoder:,}" in out
    assert f"mult-adds per sample: {64 * 32 + 32 * 8 + 8 * 32 + 32 * 64:,}" in out
    assert "(None, 8)" in out and "(None, 64)" in out
