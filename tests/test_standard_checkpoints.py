"""Issue 19 item 9: ResNet-18 built as torchvision builds it (a torchvision state dict loads, the head is
replaced for the study's classes), and linear probes on the features of trained CNNs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnstudy
from nnstudy.engines._classical._probe import features
from nnstudy.engines._torch._mlp import build_model
from nnstudy.engines._torch._resnet import TorchvisionResNet18
from nnstudy.engines._torch._transfer import trainable
from nnstudy.spec import MODEL_KINDS

# torchvision.models.resnet18(): its state dict's first names and size (11,689,512 parameters, 122 tensors)
TORCHVISION_FIRST = ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                     "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight"]


def cfg(**model) -> dict:
    return MODEL_KINDS["resnet18"].model_validate(model).model_dump(mode="json")


def test_torchvision_layout_has_torchvisions_names_and_parameter_count():
    model = TorchvisionResNet18((3, 224, 224), 1000, 64, "imagenet")
    state = model.state_dict()
    assert len(state) == 122 and list(state)[:8] == TORCHVISION_FIRST
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert state["conv1.weight"].shape == (64, 3, 7, 7) and state["fc.weight"].shape == (1000, 512)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    cifar = TorchvisionResNet18((3, 32, 32), 10, 64, "cifar").state_dict()
    assert cifar["conv1.weight"].shape == (64, 3, 3, 3) and list(cifar) == list(state)  # same names, no max-pool
    assert "stem" not in cfg(kind="resnet18")  # unset: nnstudy's own ResNet-18, trial ids unchanged


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_a_torchvision_state_dict_loads_and_the_head_is_replaced(tmp_path, suffix):
    torch.manual_seed(0)
    source = TorchvisionResNet18((3, 16, 16), 1000, 16, "imagenet")  # width 16: torchvision's names, 1/16 the size
    with torch.no_grad():  # running statistics that are not the defaults, to see them copied
        for m in source.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pt":
        torch.save(source.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, path)
    x = torch.randn(3, 3 * 16 * 16)
    source.eval()
    same = build_model(cfg(kind="resnet18", stem="imagenet", width=16, weights=str(path)), 768, 1000,
                       (3, 16, 16)).eval()
    torch.testing.assert_close(same(x), source(x), rtol=0, atol=0)  # every tensor, the output layer too
    probe = build_model(cfg(kind="resnet18", stem="imagenet", width=16, weights=str(path), finetune="head"), 768,
                        10, (3, 16, 16)).eval()
    assert probe.fc.weight.shape == (10, 128)
    torch.testing.assert_close(probe.features(x), source.features(x), rtol=0, atol=0)
    assert trainable(probe, "head") == [probe.fc.weight, probe.fc.bias]
    assert not any(p.requires_grad for n, p in probe.named_parameters() if not n.startswith("fc."))


def test_cifar_stem_refuses_an_imagenet_checkpoint_in_one_line(tmp_path):
    torch.save(TorchvisionResNet18((3, 32, 32), 1000, 8, "imagenet").state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match=r"conv1.weight is \(8, 3, 7, 7\), the model's is \(8, 3, 3, 3\)"):
        build_model(cfg(kind="resnet18", stem="cifar", width=8, weights=str(tmp_path / "w.pt")), 3072, 10,
                    (3, 32, 32))


def test_linear_probe_reads_the_features_of_a_trained_cnn(tmp_path):
    data = {"name": "digits", "train_size": 300}
    cnn = {"study": {"name": "cnn-source"}, "data": data,
           "model": {"kind": "cnn", "blocks": [{"channels": 4, "pool": "max"}], "hidden": [16]},
           "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 3, "save_weights": True}}
    nnstudy.run(cnn, store=tmp_path / "runs", workers=1)
    probe = {"study": {"name": "cnn-probe"}, "data": data,
             "model": {"kind": "linear_probe", "source": "cnn-source"}, "train": {"engine": "classical"}}
    s = nnstudy.run(probe, store=tmp_path / "runs", workers=1)
    row = s.trials().iloc[0]
    assert row["status"] == "done" and row["test_accuracy"] > 0.7  # 16 features of a 3-epoch CNN
    import json

    from nnstudy.engines._classical._probe import load_source
    from nnstudy.store import Store

    config = json.loads(Store(tmp_path / "runs").find_trials(row["trial_id"])[0]["config_json"])
    assert config["model"]["source_model"]["kind"] == "cnn"
    model = load_source(config["model"], 64, (8, 8))  # the probe's features: what the CNN's output layer reads
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    with torch.no_grad():
        expected = torch.nn.Sequential(*list(model)[:-1])(torch.as_tensor(x)).double().numpy()
    assert expected.shape == (5, 16)
    np.testing.assert_allclose(features(model, x, -1), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="layer = -1"):
        features(model, x, 1)
