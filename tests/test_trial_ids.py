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


def _ids_the_old_way(study, label: str, point: dict) -> str:
    """A sweep point's trial id as expand computed it before it cached sections (spec/_expand.py): the whole
    study file copied, the point set and validated whole."""
    import copy

    from nnstudy.spec import trial_id
    from nnstudy.spec._expand import HASHED_SECTIONS
    from nnstudy.spec._load import set_dotted, validate

    raw = copy.deepcopy(study.model_dump(mode="json"))
    raw.pop("sweep")
    for key, value in point.items():
        set_dotted(raw, key, value, label, origin="sweep")
    resolved = validate(raw, label).model_dump(mode="json")
    return trial_id({k: resolved[k] for k in HASHED_SECTIONS}, 0)


def test_a_large_sweep_keeps_the_ids_and_order_of_the_whole_file_validated_per_point(monkeypatch):
    """4,224 configurations over data, model and train keys, with few validated sections kept (so they are
    dropped and validated again): a sample of them has the id the old way gives, and the trials come in
    the grid's order with lr 1.0 dropped as a duplicate of lr 1 (equal once validated), as before."""
    import itertools
    import random

    from nnstudy.spec import _expand

    monkeypatch.setattr(_expand, "KNOWN_SECTIONS", 16)
    lrs = [1, 1.0] + [round(0.01 * i, 2) for i in range(1, 24)]
    sweep = {"model.hidden": [[4], [8], [8, 8], [16]], "model.activation": ["relu", "tanh"], "train.lr": lrs,
             "train.batch_size": [8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88], "data.noise": [0.1, 0.2]}
    study, _, label = read_study({"study": {"name": "large"}, "data": {"name": "moons"},
                                  "trials": {"seeds": [0]}, "sweep": sweep})
    trials = expand(study, label)
    combos = [dict(zip(sweep, c)) for c in itertools.product(*sweep.values()) if c[2] is not lrs[1]]
    assert len(trials) == len(combos) == 4224
    assert [t.point for t in trials] == combos  # == as the old dedup: 1 == 1.0
    for i in random.Random(0).sample(range(len(combos)), 60):
        assert trials[i].trial_id == _ids_the_old_way(study, label, combos[i]), combos[i]
