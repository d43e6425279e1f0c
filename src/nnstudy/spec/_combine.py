"""Rules that span sections: which engine, model kind, optimizer and dataset go together."""

from __future__ import annotations

from ..errors import StudyError
from ._schema import NUMPY_OPTIMIZERS, StudyFile

LINEAR_CLASSIFIERS = ("perceptron", "logistic")
SCALED_TARGET_KINDS = ("svr", "ard", "random_forest", "sklearn_mlp")  # classical regressors that take data.normalize_target


def check_combination(study: StudyFile, label: str) -> None:
    """Raises StudyError (one line, naming the key) for a combination no engine can train."""
    from ..data import info

    model, train, data = study.model, study.train, study.data
    task = info(data).task
    if train.engine == "numpy" and train.optimizer not in NUMPY_OPTIMIZERS:
        raise StudyError(f"{label}: train.optimizer: {train.optimizer!r} is not available on the numpy engine "
                         f"(allowed: {', '.join(NUMPY_OPTIMIZERS)})")
    if model.kind in (*LINEAR_CLASSIFIERS, "given") and task != "classification":
        raise StudyError(f"{label}: model.kind: {model.kind!r} needs a classification dataset; "
                         f"{data.name} is a {task} dataset")
    if data.normalize_target == "standard" and (task != "regression" or (
            train.engine == "classical" and model.kind not in SCALED_TARGET_KINDS)):
        why = f"{data.name} is a {task} dataset" if task != "regression" else f"not to {model.kind!r}"
        raise StudyError(f"{label}: data.normalize_target: applies to regression with the torch and numpy "
                         f"engines and the classical {', '.join(SCALED_TARGET_KINDS)}; {why}")
    if model.kind == "given":
        _check_given(study, label)
    check_study = getattr(model, "check_study", None)  # a kind's own rules on the data and training
    if check_study is not None:
        check_study(study, label)
    from ._models_classical import check_classical

    check_classical(model.kind, train.engine, task, data.name, label)


def _check_given(study: StudyFile, label: str) -> None:
    from ..data import info

    model, data = study.model, study.data
    if study.train.engine != "numpy":
        raise StudyError(f"{label}: train.engine: a network with given weights is evaluated by the numpy "
                         "engine: set engine = \"numpy\"")
    if data.normalize != "none":
        raise StudyError(f"{label}: data.normalize: a network with given weights sees the inputs as they "
                         "are: set normalize = \"none\"")
    n_classes = len(data.classes) or info(data).n_classes  # the input width: api.check_models, on the data
    outputs = (1, n_classes) if n_classes == 2 else (n_classes,)
    if model.output_width() not in outputs:
        raise StudyError(f"{label}: model.layers: the last layer has {model.output_width()} outputs; "
                         f"{n_classes} classes need {' or '.join(map(str, outputs))}")
