"""Study files: parse, validate, expand into trials."""

from ._expand import Trial, expand, swept_keys, trial_id
from ._load import parse_overrides, parse_sweeps, read_study
from ._schema import CLASSIFICATION_METRICS, MODEL_KINDS, REGRESSION_METRICS, StudyFile

__all__ = ["Trial", "expand", "swept_keys", "trial_id", "parse_overrides", "parse_sweeps", "read_study",
           "CLASSIFICATION_METRICS", "REGRESSION_METRICS", "MODEL_KINDS", "StudyFile"]
