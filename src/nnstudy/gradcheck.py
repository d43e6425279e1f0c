"""`nnstudy gradcheck`: pick one configuration of a study and check the NumPy engine's gradients."""

from __future__ import annotations

import json

from .errors import StudyError
from .spec import Trial, expand, parse_overrides, read_study


def run_gradcheck(path: str, points: list[str], batch: int, entries: int, overrides: dict | None = None):
    """(per-tensor checks, the trial checked); ``overrides``: --set's. StudyError for a bad file, point, --set
    or dataset."""
    from .data import load
    from .engines._numpy._gradcheck import check_trial
    from .kinds import check_weights_fit, of
    from .spec._schema import DataConfig

    study, _, label = read_study(path, overrides)
    trial = pick(expand(study, label), parse_overrides(points, label, "--point"), label)
    kind = of(trial.config["model"])
    if trial.config["train"]["engine"] != "numpy" and "numpy" not in kind.engines:
        raise StudyError(f"{label}: train.engine: gradcheck checks the NumPy engine's networks; "
                         f"{kind.name!r} is a {kind.engines[0]} method")
    if "numpy" not in kind.build or "numpy" in kind.train:
        raise StudyError(f"{label}: model.kind: {kind.name!r} is not trained by the numpy engine's loop "
                         "(a network with given weights is evaluated as it is): nothing to check")
    data = load(DataConfig.model_validate(trial.config["data"]))
    check_weights_fit(trial.config["model"], data, label, {"dtype": "float64"}, trained=True)  # in float64
    return check_trial(trial, data, batch, entries), trial


def pick(trials: list[Trial], wanted: dict, label: str) -> Trial:
    """The first trial whose swept values include ``wanted``."""
    swept = list(trials[0].point)
    for key, value in wanted.items():
        if key not in swept:
            raise StudyError(f"{label}: --point {key}: not a swept key of the study "
                             f"(swept: {', '.join(swept) or 'none'})")
        values = list(dict.fromkeys(json.dumps(t.point[key]) for t in trials))
        if json.dumps(value) not in values:
            raise StudyError(f"{label}: --point {key}={json.dumps(value)}: no configuration has it "
                             f"(values: {', '.join(values)})")
    for t in trials:
        if all(t.point[k] == v for k, v in wanted.items()):
            return t
    raise StudyError(f"{label}: --point: no configuration has all of "
                     + ", ".join(f"{k}={json.dumps(v)}" for k, v in wanted.items()))
