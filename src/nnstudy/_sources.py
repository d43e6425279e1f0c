"""Linear probes read another study's trained model: find it in the store before training.

Engines know nothing of the store, so ``resolve_sources`` (called by ``run`` before the store is
written) picks the source study's best configuration (rank 1 by its first metric), its lowest-seed done
trial that stored ``weights.safetensors``, copies those weights into the cache (named by their sha256)
and writes into each probe trial's model section what the engine needs: the source trial's id, the
weights' sha256 and the source's model section. The probe trials' ids follow from that, so a new best
source gives new probe trials.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from .errors import StudyError
from .spec import Trial, trial_id

WEIGHTS = "weights.safetensors"
PROBED_KINDS = ("mlp", "cnn", "resnet18")  # sources a linear probe reads features from


def weights_path(sha256: str) -> Path:
    from .data._paths import cache_root

    return cache_root() / "probe-sources" / f"{sha256}.safetensors"


def resolve_sources(trials: list[Trial], store, label: str) -> list[Trial]:
    """``trials`` with every linear probe's source filled in; StudyError (one line) when it cannot be."""
    probes = {t.config["model"]["source"] for t in trials if t.config["model"]["kind"] == "linear_probe"}
    if not probes:
        return trials
    from .store import Store

    try:
        db = Store(store, create=False)
    except StudyError as e:
        raise StudyError(f"{label}: model.source: {e}") from None
    found = {name: _best_weights(db, name, label) for name in sorted(probes)}
    out = []
    for t in trials:
        if t.config["model"]["kind"] != "linear_probe":
            out.append(t)
            continue
        config = json.loads(json.dumps(t.config))
        config["model"].update(found[t.config["model"]["source"]])
        out.append(replace(t, trial_id=trial_id(config, t.seed), config=config))
    return out


def _best_weights(db, name: str, label: str) -> dict:
    from .report._stats import analyze

    try:
        snap = db.snapshot(name)
    except StudyError:
        raise StudyError(f"{label}: model.source: no study {name!r} in the store (run it first)") from None
    a = analyze(snap)
    stored = {art.trial_id: art.data for art in snap.artifacts if art.name == WEIGHTS}
    for i in a.ranked():
        done = a.done[(a.done["config"] == i) & a.done["trial_id"].isin(stored)]
        if len(done):
            tid = done.sort_values("seed", kind="stable").iloc[0]["trial_id"]
            break
    else:
        raise StudyError(f"{label}: model.source: study {name!r} stored no trained weights: run it with "
                         "train.save_weights = true")
    row = next(r for r in db.find_trials(tid) if r["study"] == name)
    source = json.loads(row["config_json"])
    if source["model"]["kind"] not in PROBED_KINDS or source["train"]["engine"] != "torch":
        raise StudyError(f"{label}: model.source: study {name!r} trained a {source['model']['kind']!r} on the "
                         f"{source['train']['engine']} engine; a probe reads torch {', '.join(PROBED_KINDS)} models")
    sha = cache_weights(stored[tid])
    return {"source_trial": tid, "source_sha256": sha, "source_model": source["model"]}


def cache_weights(data: bytes) -> str:
    """Writes a source's weights into this machine's cache (never half-written); returns their sha256."""
    from ._userfiles import write_once

    sha = hashlib.sha256(data).hexdigest()
    write_once(weights_path(sha), data)
    return sha


def source_files(trials: list[Trial]) -> dict[str, bytes]:
    """The cached source weights the probes among `trials` read, by sha256: what a Ray worker on another
    machine is sent along with them (the driver alone reads the store)."""
    shas = {t.config["model"].get("source_sha256") for t in trials if t.config["model"]["kind"] == "linear_probe"}
    return {sha: weights_path(sha).read_bytes() for sha in sorted(shas - {None})}
