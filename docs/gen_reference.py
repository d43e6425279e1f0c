"""The study-file reference page, generated from the pydantic models the validator uses.

`study_file_page()` returns the Markdown; `rows()` yields (dotted key, type, default) for every
key the validator accepts (the docs test compares them with a walk of the models).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import textwrap
import types
import typing
from typing import Any, Iterator

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from nnstudy.data import names as dataset_names
from nnstudy.spec._schema import CLASSIFICATION_METRICS, MODEL_KINDS, REGRESSION_METRICS, StudyFile

INTRO = {
    "study": "The study's name (its folder under the store, and what `nnstudy report` and `load` take).",
    "data": "The dataset and how it is split and scaled. Splits depend on `split_seed`, not on the trial seed.",
    "model": "The network. `kind` picks the table's class; each kind accepts its own keys.",
    "train": "The optimizer, the batches, the epochs, regularization, early stopping and the schedule.",
    "sweep": "The grid: each dotted key (such as `\"train.lr\"`) maps to a list of values; the "
             "configurations are their Cartesian product. A list of tables is a union of grids. A table may carry "
             "`label = \"Baseline\"`: it names the table's configurations in the report's rows, legends and panels "
             "(not part of any trial's config or id; a table with only a label is the configuration of the file "
             "as it is).",
    "trials": "How many seeds per configuration (an int n means seeds 0 … n-1), or the list of seeds, or a "
              "race, `seeds = { min = 3, max = 20, alpha = 0.05 }`: every configuration runs `min` seeds, then one "
              "more a round while it is not significantly worse than the leader on the first report metric (on "
              "validation), until one stands alone or `max` is reached (`method = \"friedman\"`: F-Race).",
    "report": "The metrics of the results table, first = the ranking metric.",
    "search": "Instead of a `[sweep]` grid: Optuna proposes configurations (random, TPE or the grid in file "
              "order), each trained for every seed of `[trials]`; the search sees the mean (or mean − SE) over "
              "seeds. History in `<store>/<study>.optuna.sqlite3`; a killed search resumes.",
}
NOTES = {
    "data.name": "allowed: " + ", ".join(f"`{n}`" for n in dataset_names()),
    "report.metrics": ("classification: " + ", ".join(f"`{m}`" for m in CLASSIFICATION_METRICS)
                       + "; regression: " + ", ".join(f"`{m}`" for m in REGRESSION_METRICS)),
    "data.validation": "fraction of the training data held out for validation (stratified)",
    "data.train_size": "fraction (≤ 1) or count (> 1) of the remaining training data used",
    "data.normalize": "fitted on the training split only",
    "data.classes": "keep only these classes (empty: all)",
    "data.split_seed": "seed of the train/validation split, the same for every trial",
    "data.n_samples": "generated datasets (moons, circles, sine): number of points",
    "data.noise": "generated datasets: noise level",
    "model.hidden": "widths of the hidden layers, input to output",
    "train.batch_size": '`"full"`: one batch of the whole training set',
    "train.momentum": "for the momentum and nesterov optimizers",
    "train.l1": "adds λ·Σ|w| over the weight matrices (not biases) to the training loss",
    "train.l2": "adds λ·Σw² over the weight matrices (not biases) to the training loss",
    "train.grad_noise": "standard deviation of Gaussian noise added to the gradients",
    "train.early_stopping.patience": "epochs without a better `monitor` loss (default `val_loss`) before stopping; 0: off",
    "train.early_stopping.restore_best": "final metrics are those of the best epoch",
    "train.schedule.step_size": "step schedule: epochs between multiplications by `gamma`",
    "model.weights": "an .npz with w1, b1, w2, b2, …, relative to the study file",
    "data.dim": "interval-sum (≤ 20) and gaussian only",
    "data.countries": "countries only: ISO codes of the classes, in order, e.g. `[\"FR\", \"DE\"]`",
    "data.lags": "time series (elnino) only: inputs are the last `lags` values; split in time order",
    "data.horizon": "time series only: the target is the value `horizon` steps after the last input",
    "data.features": "keep only these input columns (0-based), before normalization",
    "data.pca": "k components, or the fraction of variance to keep (e.g. 0.95); fitted on train",
    "data.encoding": "`fourier`: append sin(2π f x), cos(2π f x) of each input (x kept); after `pca`",
    "data.frequencies": "the f of the fourier encoding (not set: [0.5, 1, 2])",
    "data.interval": "interval-sum only: `[A, B]` with A ≤ B ≤ dim",
    "sweep": "a table or a list of tables of `\"section.key\" = [values]`",
    "search.trials": "configurations to finish (complete or pruned); a grid has at most its number of points",
    "search.metric": "default `val_accuracy` (regression: `val_mse`)",
    "search.direction": "default: max for accuracies, min otherwise",
    "search.objective": "`lcb`: mean − SE when maximizing, mean + SE when minimizing",
    "search.pruner": "`median`: Optuna's MedianPruner on the seed-mean validation curve (seeds in lockstep)",
    "search.batch": "configurations proposed and trained at once (without pruning)",
    "search.sampler_seed": "seed of Optuna's sampler",
    "study.name": "unique in the store: the report's folder and what `nnstudy report`, `ls` and `load` take",
    "study.description": "the study's question: the report's first line and its docs page",
    "model.kind": "this section's kind (see the model-kind reference)",
    "model.activation": "activation of the hidden layers",
    "model.dropout": "dropout rate after each hidden layer (0: none)",
    "model.norm": "normalization after each hidden layer's linear map",
    "model.kernel": "scikit-learn's kernel",
    "model.solver": "scikit-learn's solver (`train.lr`, `batch_size` and `epochs` apply to sgd and adam)",
    "model.max_iter": "scikit-learn's iteration limit",
    "model.max_depth": "depth limit of each tree",
    "model.min_samples_leaf": "fewest training samples in a leaf",
    "model.layers[].w": "the layer's weights, a list of rows: (outputs, inputs)",
    "model.layers[].b": "the layer's biases, one per output",
    "train.engine": "`torch`, `numpy` (from scratch) or `classical` (the scikit-learn, MiniSom and XGBoost kinds)",
    "train.optimizer": "`lbfgs`: torch engine only",
    "train.lr": "learning rate",
    "train.beta1": "Adam and AdamW: decay of the first moment",
    "train.beta2": "Adam and AdamW: decay of the second moment",
    "train.weight_decay": "as torch.optim applies it (decoupled for adamw)",
    "train.epochs": "passes over the training data",
    "train.dtype": "`float64`: exact comparisons (stacked vs alone, gradient checks), slower",
    "train.early_stopping.min_delta": "a smaller improvement of the monitored loss does not count",
    "train.schedule.gamma": "step and plateau schedules: the factor the learning rate is multiplied by",
    "trials.seeds": "n: seeds 0 … n-1; a list: these seeds; a table: a race (see above)",
    "search.method": "`grid`: every point of the space in file order",
    "search.space": ('`"section.key" = { low, high, log, int, step }`, `{ choices = [...] }`, or for '
                     'a list of widths `{ width = {...}, depth = {...} }`'),
}
_BOUNDS = ((at.Ge, "≥", "ge"), (at.Gt, ">", "gt"), (at.Le, "≤", "le"), (at.Lt, "<", "lt"))


def _constraints(meta: list) -> list[str]:
    out = []
    for m in meta:
        if isinstance(m, FieldInfo):  # Annotated[int, Field(ge=1)] nests its bounds
            out += _constraints(m.metadata)
            continue
        for cls, sign, attr in _BOUNDS:
            v = getattr(m, attr, None)
            if isinstance(m, cls) and v is not None:
                out.append(f"{sign} {v:,}" if isinstance(v, int) else f"{sign} {v}")
        for attr, sign in (("min_length", "≥"), ("max_length", "≤")):
            if getattr(m, attr, None) is not None:
                out.append(f"length {sign} {getattr(m, attr)}")
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return list(dict.fromkeys(out))


def type_text(ann: Any, meta: list | None = None) -> str:
    """A TOML reader's name for an annotation: 'int ≥ 1', 'one of "a", "b"', 'list of int'."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    extra = _constraints(meta or [])
    if origin is typing.Annotated:
        return type_text(args[0], list(args[1:]) + (meta or []))
    if origin is typing.Literal:
        text = ("one of " if len(args) > 1 else "") + ", ".join(json.dumps(a) for a in args)
    elif origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        text = " or ".join(parts) + (" (optional)" if type(None) in args else "")
    elif origin is list:
        text = f"list of {type_text(args[0]) if args else 'values'}"
    elif origin is dict:
        text = f"table of {type_text(args[0])} → {type_text(args[1])}"
    elif isinstance(ann, type) and issubclass(ann, BaseModel):
        text = "table"
    elif ann is Any:
        text = "any value"
    else:
        text = getattr(ann, "__name__", str(ann))
    return f"{text} ({', '.join(extra)})" if extra else text


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory else field.default
    if isinstance(value, BaseModel):
        return "(table)"
    return "not set" if value is None else f"`{json.dumps(value)}`"


def _nested(ann: Any) -> tuple[type[BaseModel] | None, str]:
    """The model inside a field's annotation, and the key suffix ('' or '[]' for a list of tables)."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, ""
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]"
    return None, ""


def walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, Any]]:
    """(dotted key, field) for every key of `model` and of the tables nested in it."""
    for name, field in model.model_fields.items():
        if field.exclude:  # internal (filled in by the validator), never written in a study file
            continue
        key = f"{prefix}.{name}"
        inner, suffix = _nested(field.annotation)
        if inner is not None:
            yield from walk(inner, key + suffix)
        else:
            yield key, field


def rows() -> Iterator[tuple[str, str, str, str]]:
    """(section, dotted key, type, default) of every key the validator accepts, in file order."""
    for section, field in StudyFile.model_fields.items():
        if section == "model":
            for kind, cls in MODEL_KINDS.items():
                for key, f in walk(cls, "model"):
                    yield f"model (kind = \"{kind}\")", key, type_text(f.annotation, f.metadata), _default(f)
        elif section == "sweep":
            yield section, "sweep", NOTES["sweep"], "`{}` (no sweep)"
        else:
            for key, f in walk(field.annotation, section):
                yield section, key, type_text(f.annotation, f.metadata), _default(f)


@functools.cache
def _attribute_docs(cls: type[BaseModel]) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body (``loss: str = "bce"`` then a string)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError, SyntaxError, IndexError, AttributeError):
            continue
        for a, b in zip(body, body[1:]):
            if (isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr)
                    and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)):
                out[a.target.id] = b.value.value
    return out


def describe(model: type[BaseModel], prefix: str) -> dict[str, str]:
    """Dotted key -> what it means: the field's ``description=``, else the docstring under the field in its
    class, else this page's NOTES; for every key of `model` and of the tables nested in it."""
    out: dict[str, str] = {}
    docs = _attribute_docs(model)
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}.{name}"
        inner, suffix = _nested(field.annotation)
        if inner is not None:
            out.update(describe(inner, key + suffix))
        else:
            out[key] = " ".join((field.description or docs.get(name) or NOTES.get(key, "")).split())
    return out


@functools.cache
def _descriptions(section: str) -> dict[str, str]:
    base = section.split(" ")[0]
    cls = MODEL_KINDS[section.split('"')[1]] if base == "model" else StudyFile.model_fields[base].annotation
    return describe(cls, base) if isinstance(cls, type) and issubclass(cls, BaseModel) else {}


def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def study_file_page() -> str:
    out = ["# Study file reference", "",
           "Generated from the pydantic models that validate study files (`nnstudy.spec`): every key the "
           "validator accepts, its type, its default and its allowed values. Unknown keys are errors. "
           "Any key can be swept (`[sweep]`) or overridden (`--set key=value`, `set={...}`).", ""]
    current = None
    for section, key, typ, default in rows():
        if section != current:
            base = section.split(" ")[0]
            out += ["", f"## [{base}]{section[len(base):]}", ""]
            if base in INTRO and (current or "").split(" ")[0] != base:
                out += [INTRO[base], ""]
            out += ["| key | type | default | notes |", "|---|---|---|---|"]
            current = section
        note = _descriptions(section).get(key, "") if key != "sweep" else ""
        out.append(f"| `{key}` | {_cell(typ)} | {_cell(default)} | {_cell(note)} |")
    return "\n".join(out) + "\n"
