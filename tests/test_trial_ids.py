"""Pinned trial ids: reorganising the code must not change a single id (a stored study would retrain).

tests/data/trial_ids.json was written by this file (``python tests/test_trial_ids.py``) before the model
kinds moved into one module each; regenerate it only when an id is meant to change.
"""

import json
from pathlib import Path

import pytest

from nnstudy.spec import expand, read_study

ROOT = Path(__file__).resolve().parent.parent
PINNED = Path(__file__).parent / "data" / "trial_ids.json"

# every kind with its defaults (a kind's defaults are part of its trials' ids), where no study file has it
_DEFAULTS = [
    ("mlp", "torch", {"name": "iris"}), ("logistic", "torch", {"name": "iris"}),
    ("perceptron", "numpy", {"name": "iris"}), ("cnn", "torch", {"name": "digits"}),
    ("resnet18", "torch", {"name": "cifar10"}), ("vit", "torch", {"name": "digits"}),
    ("ae", "torch", {"name": "digits", "normalize": "minmax"}),
    ("stacked_ae", "torch", {"name": "digits", "normalize": "minmax"}),
    ("vae", "torch", {"name": "digits", "normalize": "minmax"}),
    ("gan", "torch", {"name": "digits", "normalize": "minmax"}),
    ("pca", "classical", {"name": "iris"}), ("som", "classical", {"name": "iris"}),
    ("rbm", "classical", {"name": "digits"}), ("dbm", "classical", {"name": "digits"}),
    ("ard", "classical", {"name": "sine"}), ("svr", "classical", {"name": "sine"}),
    ("random_forest", "classical", {"name": "iris"}), ("xgboost", "classical", {"name": "iris"}),
    ("sklearn_mlp", "classical", {"name": "iris"}),
    ("linear_probe", "classical", {"name": "iris"}, {"source": "other-study"}),
]


def _default_studies() -> dict[str, dict]:
    out = {}
    for kind, engine, data, *model in _DEFAULTS:
        out[f"defaults:{kind}"] = {"study": {"name": f"pin-{kind.replace('_', '-')}"}, "data": data,
                                   "model": {"kind": kind, **(model[0] if model else {})},
                                   "train": {"engine": engine}, "trials": {"seeds": 2}}
    return out


def _sources() -> dict[str, object]:
    files = sorted((ROOT / "studies").glob("*.toml")) + sorted((ROOT / "examples").rglob("*.toml"))
    return {**{str(p.relative_to(ROOT)): p for p in files}, **_default_studies()}


def current_ids(source) -> list[str]:
    study, _, label = read_study(source)
    return sorted(t.trial_id for t in expand(study, label))


PINNED_IDS = json.loads(PINNED.read_text())


@pytest.mark.parametrize("name", sorted(PINNED_IDS))
def test_trial_ids_unchanged(name):
    source = _sources().get(name)
    assert source is not None, f"{name} was pinned but is gone"
    assert current_ids(source) == PINNED_IDS[name]


def test_pinned_set_covers_studies_and_kinds():
    assert len(PINNED_IDS) >= 49 + len(_DEFAULTS)
    assert sum(map(len, PINNED_IDS.values())) > 800


if __name__ == "__main__":
    PINNED.write_text(json.dumps({name: current_ids(src) for name, src in _sources().items()},
                                 indent=1, sort_keys=True) + "\n")
