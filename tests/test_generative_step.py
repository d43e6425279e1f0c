"""The autoencoders', VAEs' and GANs' loops step with _optim_step.minimize (each optimizer's own parameters'
gradients only, its update written out on the CPU): every recorded number equals the loop they had, which
called zero_grad, backward (a GAN's generator step through the discriminator's weights too) and opt.step."""

import pytest
import torch

from nnstudy.data import load
from nnstudy.engines import get_engine
from nnstudy.engines._torch import _autoencoders, _gan
from nnstudy.spec import expand, read_study

MODELS = {
    "ae-mlp": {"kind": "ae", "hidden": [32], "encoding_dim": 8},
    "ae-conv": {"kind": "ae", "architecture": "conv", "channels": [4, 8], "encoding_dim": 8},
    "vae-mlp": {"kind": "vae", "hidden": [32], "latent_dim": 4},
    "stacked-ae": {"kind": "stacked_ae", "hidden": [24, 8], "pretrain_epochs": 1},
    "gan-mlp": {"kind": "gan", "hidden": [32], "latent_dim": 4, "d_steps": 2},
    "dcgan": {"kind": "gan", "architecture": "conv", "channels": [4, 8], "latent_dim": 4},
}


def old_minimize(opt, value):
    """The loops' step before: gradients into p.grad by backward, then torch.optim's step."""
    params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
    opt.zero_grad(set_to_none=True)
    value.backward()
    opt.step()
    return params, [p.grad for p in params]


def history(model: dict, optimizer: str, monkeypatch, old: bool) -> list[dict]:
    if old:
        monkeypatch.setattr(_autoencoders, "minimize", old_minimize)
        monkeypatch.setattr(_gan, "minimize", old_minimize)
    study = read_study({"study": {"name": "g"}, "data": {"name": "digits", "normalize": "minmax", "train_size": 200},
                        "model": model, "train": {"optimizer": optimizer, "lr": 0.01, "batch_size": 32,
                                                  "epochs": 2, "weight_decay": 0.001}})[0]
    trial = expand(study)[0]
    result = get_engine("torch").train(trial, load(study.data), lambda e, m: None, "cpu")
    monkeypatch.undo()
    assert result.status == "done"
    return [{k: v for k, v in row.items() if k != "time_s"} for row in result.history]


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
@pytest.mark.parametrize("name", list(MODELS))
def test_the_generative_loops_record_what_their_old_step_recorded(name, optimizer, monkeypatch):
    new = history(MODELS[name], optimizer, monkeypatch, old=False)
    old = history(MODELS[name], optimizer, monkeypatch, old=True)
    assert new == old  # every loss term, gradient norm, Fréchet distance and learning rate, bit for bit
    assert any(k.startswith("grad_norm/") for k in new[-1]) and len(new) >= 2
