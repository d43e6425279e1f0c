"""Sweep grids × seeds → trials, each with its fully resolved config and a stable id."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import StudyError
from ._load import overlap, set_dotted, study_dir, validate, validate_model
from ._schema import DataConfig, StudyFile

HASHED_SECTIONS = ("data", "model", "train")
OPTIONAL_SWEEP_KEYS = ("train.steps", "train.log_every_steps", "train.rho", "train.early_stopping.monitor",
                       "train.schedule.patience", "train.schedule.monitor")


@dataclass(frozen=True)
class Trial:
    trial_id: str
    seed: int
    config: dict[str, Any]  # resolved sections data/model/train, JSON-able
    point: dict[str, Any]  # the swept keys' values for this trial
    label: str | None = None  # the [[sweep]] table's label = "..." (names it in the report; not in config or id)

    def get(self, dotted: str) -> Any:
        node: Any = self.config
        for part in dotted.split("."):
            node = node[part]
        return node


NOT_HASHED_TRAIN_KEYS = ("checkpoint_every",)  # how a trial is trained, not what: a change keeps its results


def trial_id(config: dict[str, Any], seed: int) -> str:
    hashed = {k: config[k] for k in HASHED_SECTIONS}
    if any(k in hashed["train"] for k in NOT_HASHED_TRAIN_KEYS):
        hashed["train"] = {k: v for k, v in hashed["train"].items() if k not in NOT_HASHED_TRAIN_KEYS}
    blob = json.dumps({"config": hashed, "seed": seed},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def swept_keys(study: StudyFile) -> list[str]:
    keys: list[str] = []
    for grid in study.grids():
        keys += [k for k in grid if k not in keys]
    return keys


def expand(study: StudyFile, label: str = "<study>") -> list[Trial]:
    """Every configuration of every grid (duplicates dropped, first kept) times every seed."""
    base = study.model_dump(mode="json")
    unswept = {k: v for k, v in base.items() if k != "sweep"}
    # a point changes only data, model and train: the other sections are the study's, validated once
    fixed = {k: getattr(study, k) for k in ("study", "trials", "report", "search")}
    keys = swept_keys(study)
    sections = _Sections(label, unswept)
    seen: set = set()
    points: list[dict[str, Any]] = []
    configs: list[dict[str, Any]] = []
    labels: list[str | None] = []
    for grid, grid_label in zip(study.grids(), study.grid_labels()):
        kinds_swept = [str(k) for k in grid.get("model.kind", [])]
        for key, values in grid.items():
            _check_grid_entry(base, key, values, label, kinds_swept)
        _check_distinct(grid, label)
        for combo in itertools.product(*grid.values()):
            point = dict(zip(grid.keys(), combo))
            touched = {key.split(".")[0] for key in point}  # the sections the point changes: copied first
            raw = {k: _copied(v) if k in touched else v for k, v in unswept.items() if k in HASHED_SECTIONS}
            kind = point.get("model.kind", base["model"]["kind"])
            if kind != base["model"]["kind"]:
                # another kind has other keys: start from the keys the file wrote that this kind has
                raw["model"] = _own_keys(study.model.model_dump(mode="json", exclude_unset=True), kind)
            if kinds_swept:  # a grid that switches kinds: a model key only some of them have is set on those
                point = {k: v for k, v in point.items()
                         if not k.startswith("model.") or k == "model.kind" or _has_key(kind, k)}
            if "data.path" in point or "data.loader" in point:  # another file: its sha256 keys are found anew
                raw["data"] = {k: v for k, v in raw["data"].items() if not k.endswith("sha256")}
            if "train.function" in point:  # another training function: its file's sha256 is found anew
                raw["train"].pop("function_sha256", None)
            for key in point:  # any other swept file reference (model.module): its <key>_sha256 is found anew
                parent, _, last = key.rpartition(".")
                if isinstance(lookup(raw, parent), dict):
                    lookup(raw, parent).pop(f"{last}_sha256", None)
            for key, value in point.items():
                set_dotted(raw, key, value, label, origin="sweep")
            try:
                resolved = sections.resolved(raw, fixed)
            except StudyError as e:
                where = ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())
                raise StudyError(f"{e} (in the sweep point {where})" if where else str(e)) from None
            # a swept value equal to a key's default is left out of the dump (ids stay put): the point keeps it
            full_point = {k: lookup(resolved, k, point.get(k)) for k in keys}
            if (frozen := _frozen(full_point)) not in seen:  # equal as == says (1 == 1.0), as `in points` did
                seen.add(frozen)
                points.append(full_point)
                configs.append({k: resolved[k] for k in HASHED_SECTIONS})
                labels.append(grid_label)
    if not points:
        points, configs, labels = [{}], [{k: base[k] for k in HASHED_SECTIONS}], [None]
    _check_chosen(study.report.configurations, labels, label)
    if study.data.fold is not None:
        raise StudyError(f"{label}: data.fold: nnstudy fills it in from data.folds; leave it out")
    if study.trials.race and any(cfg["data"].get("folds") for cfg in configs):
        raise StudyError(f"{label}: trials.seeds: racing seeds with data.folds is not supported; give [trials] "
                         f"seeds a number or a list, or leave data.folds out")
    return [Trial(trial_id(c, seed), seed, c, point, label)
            for cfg, point, label in zip(configs, points, labels)
            for seed in study.trials.seed_list()
            for c in replicates(cfg, seed)]


KNOWN_SECTIONS = 4096  # validated sections kept (a sweep of n values of a train key: n train sections)


class _Sections:
    """Resolves sweep points with each distinct data, model and train section validated once: a point changes
    one or two of them, and validating the whole file per point cost most of a large sweep's expansion."""

    def __init__(self, label: str, base: dict[str, Any]):
        self.label, self.base, self.base_dir = label, base, study_dir(label)
        self.known: dict[tuple, tuple[Any, dict] | None] = {}  # (section, its exact value) -> (instance, dump)

    def resolved(self, raw: dict, fixed: dict[str, Any]) -> dict[str, Any]:
        """The point's data, model and train sections resolved, as validate(raw).model_dump(mode="json") gives
        them; the file's checks across sections run for every point. StudyError: the point is wrong."""
        got = [self._section(name, raw.get(name)) for name in HASHED_SECTIONS]
        if not all(got):  # a section its class refuses: the whole file's validation names the key, as before
            return validate(raw, self.label, fixed).model_dump(mode="json")
        validate(raw, self.label, {**fixed, **{name: g[0] for name, g in zip(HASHED_SECTIONS, got)}})
        return {name: _copied(g[1]) for name, g in zip(HASHED_SECTIONS, got)}

    def _section(self, name: str, section: Any) -> tuple[Any, dict] | None:
        key = (name, "the file's") if section is self.base.get(name) else (name, _exact(section))
        if key not in self.known:
            if len(self.known) >= KNOWN_SECTIONS:
                self.known.clear()
            self.known[key] = self._validated(name, section)
        return self.known[key]

    def _validated(self, name: str, section: Any) -> tuple[Any, dict] | None:
        if not isinstance(section, dict):
            return None
        try:
            if name == "model":
                obj = validate_model(section, self.label)
            else:
                cls = StudyFile.model_fields[name].annotation
                obj = cls.model_validate(section, context={"base_dir": self.base_dir})
        except (StudyError, ValidationError):
            return None
        return obj, obj.model_dump(mode="json")


def _exact(node: Any) -> Any:
    """JSON data as a hashable value equal to another's only for the same types, values and key order
    (1, 1.0 and true differ: a section's validation may tell them apart)."""
    if isinstance(node, dict):
        return "dict", tuple((k, _exact(v)) for k, v in node.items())
    if isinstance(node, list):
        return "list", tuple(_exact(v) for v in node)
    return type(node), node


def _copied(node: Any) -> Any:
    """A copy of JSON data (dicts and lists copied, scalars shared): copy.deepcopy's result, several times faster."""
    if isinstance(node, dict):
        return {k: _copied(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copied(v) for v in node]
    return node


def _frozen(node: Any) -> Any:
    """JSON data as a hashable value equal (==) to another's exactly when the data are equal."""
    if isinstance(node, dict):
        return frozenset((k, _frozen(v)) for k, v in node.items())
    if isinstance(node, list):
        return tuple(_frozen(v) for v in node)
    return node


def _check_chosen(chosen: list, labels: list[str | None], where: str) -> None:
    """report.configurations names [[sweep]] labels or configuration numbers (1 = the results table's first row)."""
    for c in chosen:
        if isinstance(c, str) and c not in labels:
            given = sorted({x for x in labels if x})
            raise StudyError(f"{where}: report.configurations: {c!r} is no [[sweep]] label "
                             f"({'labels: ' + ', '.join(map(repr, given)) if given else 'the sweep gives no label'}; "
                             f"or give a configuration's number, 1 to {len(labels)})")
        if isinstance(c, int) and c > len(labels):
            raise StudyError(f"{where}: report.configurations: {c}: the study has {len(labels)} configuration(s)")


def replicates(config: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The trial configs of one configuration and seed: ``data.split_seed = "seed"`` becomes the seed, and
    ``data.folds = k`` gives k configs, ``data.fold`` 0 .. k - 1 (the replicates of the tables are folds ×
    seeds). A config with neither is returned as it is, so the ids of existing trials do not change."""
    data = config["data"]
    if data.get("split_seed") != "seed" and not data.get("folds"):
        return [config]
    data = {**data, "split_seed": seed} if data.get("split_seed") == "seed" else data
    folds = [None] if not data.get("folds") else range(data["folds"])
    return [{**config, "data": data if f is None else {**data, "fold": f}} for f in folds]


def _has_key(kind: str, dotted: str) -> bool:
    """Whether model kind ``kind`` has the top-level key of ``model.KEY...`` (an unknown kind: say yes, so its
    own validation names it)."""
    from ._schema import MODEL_KINDS

    cls = MODEL_KINDS.get(kind) if kind in MODEL_KINDS else None
    return cls is None or dotted.split(".")[1] in cls.model_fields


def own_keyword(base: dict, key: str) -> bool:
    """Whether ``key`` is ``train.args.KEY`` (a training function's own) or ``model.args.KEY`` of a kind with
    args (a module constructor's own): swept or searched, it needs no value in the study."""
    parts = key.split(".")
    return len(parts) >= 3 and parts[1] == "args" and (
        parts[0] == "train" or (parts[0] == "model" and _has_key(base["model"]["kind"], "model.args")))


def _own_keys(model: dict, kind: str) -> dict:
    """The [model] keys the file wrote that kind ``kind`` has, with model.kind = ``kind``."""
    return {k: v for k, v in model.items() if k == "kind" or _has_key(kind, f"model.{k}")}


def _check_grid_entry(base: dict, key: str, values: Any, label: str, kinds_swept: list[str] = ()) -> None:
    parts = key.split(".")
    if parts[0] == "model" and len(parts) >= 2 and kinds_swept and key != "model.kind":
        if not any(_has_key(k, key) for k in kinds_swept):
            raise StudyError(f"{label}: sweep.{key}: none of the swept kinds ({', '.join(kinds_swept)}) has "
                             f"model.{parts[1]}")
        if isinstance(values, list) and values:
            return
    if parts[0] not in HASHED_SECTIONS:
        raise StudyError(f"{label}: sweep.{key}: only data, model and train keys can be swept")
    optional = len(parts) == 2 and parts[0] == "data" and parts[1] in DataConfig.model_fields  # unset: not dumped
    optional = optional or own_keyword(base, key)
    optional = optional or key in OPTIONAL_SWEEP_KEYS  # train keys left out of the dump while unset
    optional = optional or (len(parts) == 2 and parts[0] == "model" and _has_key(base["model"]["kind"], key))  # ditto
    optional = optional or (len(parts) == 2 and parts[0] == "data" and base["data"].get("name") == "loader")  # its keywords
    if lookup(base, key, missing=KeyError) is KeyError and not optional:
        raise StudyError(f"{label}: sweep.{key}: no such key in the study (e.g. train.lr, model.hidden)")
    if not isinstance(values, list) or not values:
        raise StudyError(f"{label}: sweep.{key}: must be a non-empty list of values")


def _check_distinct(grid: dict[str, list], label: str) -> None:
    """No key swept inside another swept key (one would overrule the other) and no value listed twice."""
    keys = list(grid)
    for i, key in enumerate(keys):
        inner = next((other for other in keys[i + 1:] if overlap(key, other)), None)
        if inner is not None:
            outer, inner = sorted((key, inner), key=len)
            raise StudyError(f"{label}: sweep: {outer} and {inner} are both swept, and {outer}'s values would set "
                             f"{inner} too; sweep one of them")
        shown = [json.dumps(v, sort_keys=True) for v in grid[key]]
        twice = next((v for j, v in enumerate(shown) if v in shown[:j]), None)
        if twice is not None:
            raise StudyError(f"{label}: sweep.{key}: {twice} is listed twice (each value once)")


def lookup(node: Any, dotted: str, missing: Any = None) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return missing
        node = node[part]
    return node
