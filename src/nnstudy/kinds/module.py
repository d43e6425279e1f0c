"""``kind = "module"``: a network of the user's own, an ``nn.Module`` class or a function returning one.

    [model]
    kind = "module"
    module = "net.py:Net"           # FILE.py:NAME, the file relative to the study file
    args = { width = 64 }           # keyword arguments of Net(...); each sweepable: "model.args.width" = [32, 64]

The constructor also receives the data's shape for each of these parameters that its signature names
and ``args`` does not give:

    n_inputs      the number of inputs of one sample, prod(input_shape)
    input_shape   the shape of one sample as the module sees it (a tuple): tabular (d,), signals (C, L),
                  images (C, H, W); a one-channel image stored as (H, W) (digits) arrives as (1, H, W)
    n_outputs     the width of the output: the classes of a classifier, the targets of a regression
    n_classes     the same number, by the name a classifier's constructor usually gives it

``forward`` receives a batch shaped ``(B, *input_shape)`` and returns ``(B, n_outputs)``: logits for a
classifier (cross-entropy over all classes, two included), values for a regression. The torch engine
trains it like the built-in MLP: every optimizer and schedule, L1/L2 on its weight tensors (parameters
named ``weight`` with two or more dimensions; in a module without any, every parameter with two or more
dimensions), gradient noise, early stopping, divergence, and gradient
norms per weight tensor, named by the module's own parameter names (``grad_norm/fc1.weight``). K trials
train as one program (``torch.func.functional_call`` + ``vmap``) unless the module draws from torch's
global random generator (``nn.Dropout``) or vmap refuses it: then one at a time (``stack_note``).

Everything that can be wrong with the code (a missing file or name, an object that is no nn.Module class
or factory, arguments it does not take, a constructor that raises, an output that does not fit the data, a
forward that computes in another dtype than train.dtype) is found on the loaded data before anything is
stored (``check_data``). The file's sha256 is part of every
trial's config (``module_sha256``, filled in by nnstudy): an edited file means new trials, unchanged code
is skipped, and the code runs from a copy in the cache (a file edited during a run changes nothing).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from .. import _userfiles
from ..spec._schema import ModelBase
from . import Kind, _deep

ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ModuleConfig(ModelBase):
    kind: Literal["module"] = "module"
    module: str = Field(description=(
        'the network: "FILE.py:NAME", an nn.Module subclass or a function returning an nn.Module, '
        "the file relative to the study file"))
    args: dict[str, Any] = Field({}, description=(
        "keyword arguments of the constructor, each sweepable (\"model.args.width\" = [32, 64]); "
        "n_inputs, input_shape, n_outputs and n_classes come from the data when the constructor names them"))
    module_sha256: str | None = Field(None, validate_default=True, description=(
        "the sha256 of the module's file: filled in by nnstudy (part of the trial id); one written in the "
        "study must match the file"))

    @field_validator("module")
    @classmethod
    def _reference(cls, v: str, info: ValidationInfo) -> str:
        _userfiles.split_ref(v)
        base = (info.context or {}).get("base_dir")
        if base is not None:
            _userfiles.resolve_ref(v, Path(base))  # the file exists and is readable
        return v

    @field_validator("args")
    @classmethod
    def _keyword_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if not ARG_NAME.match(k)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Python argument name")
        return v

    @field_validator("module_sha256")
    @classmethod
    def _file_sha(cls, v: str | None, info: ValidationInfo) -> str | None:
        ref = info.data.get("module")
        if ref is None:
            return v  # the reference itself is wrong (reported under model.module)
        if v is not None and not _userfiles.SHA_RE.match(v):
            raise ValueError(f"{v!r} is not a sha256 (64 lowercase hex digits); leave it out, nnstudy fills it in")
        base = (info.context or {}).get("base_dir")
        if base is None:  # a resolved config (a worker): the bytes are found in the cache by their sha256
            return v if v is not None else _userfiles.resolve_ref(ref, Path.cwd())
        sha = _userfiles.resolve_ref(ref, Path(base))
        return _userfiles.check_given(v, sha, _userfiles.split_ref(ref)[0], "module_sha256")


def build_torch(mc: dict, n_in: int, n_out: int, input_shape: tuple[int, ...] = ()):
    from ..engines._torch._user_module import build

    return build(mc, n_in, n_out, input_shape)


def check_data(mc: dict, data, label: str, train: dict) -> None:
    """The module is built for the loaded data and one batch of two samples goes through it (eval mode) as the
    torch engine trains it (train.dtype, train.precision); another engine (a training function) runs the
    module itself, in the dtype of its parameters as built."""
    from ..engines._torch._user_module import check_model
    from ..errors import StudyError

    if train["engine"] != "torch":
        train = {**train, "dtype": None, "precision": "float32"}
    try:
        check_model(mc, data, train)
    except ValueError as e:
        raise StudyError(f"{label}: {getattr(e, 'key', 'model.module')}: {e}") from None


def stack_key(trial) -> Any:
    """The vmap family's key, or None when this module cannot stack (``stack_note`` says why)."""
    from ..engines._torch._stack import vmap_stack_key
    from ..engines._torch._user_module import stack_problem

    key = vmap_stack_key(trial)
    if key is None or stack_problem(trial.config["model"], trial.config["data"]) is not None:
        return None
    return key


def stack_note(trials) -> str | None:
    """One line for the start of a run: which modules train one trial at a time, and why, and which stack with
    ops that vmap runs one trial at a time (None: all stack as they should)."""
    from ..engines._torch._user_module import slow_stack_ops, stack_problem

    notes: dict[str, str] = {}
    for t in trials:
        mc = t.config["model"]
        if mc.get("kind") != "module" or t.config["train"]["engine"] != "torch" or mc["module"] in notes:
            continue
        problem = stack_problem(mc, t.config["data"])
        slow = slow_stack_ops(mc, t.config["data"])
        if problem is not None:
            notes[mc["module"]] = f"{mc['module']} trains one trial at a time: {problem}"
        elif slow:
            notes[mc["module"]] = (f"{mc['module']} stacks, but torch.func.vmap has no batching rule for "
                                   f"{', '.join(slow)}, which runs one trial at a time inside the stack (slower)")
    return "; ".join(notes.values()) or None


def summary_model(trial, data):
    """The user's own module (its children are the rows), taking the flat inputs `nnstudy summary` passes."""
    from ..engines._common import head_of
    from ..engines._torch._user_module import summary_module

    return summary_module(trial.config["model"], data, head_of(trial.config["model"], data).n_out)


def _batch_norm(mc: dict) -> bool:
    from ..engines._torch._user_module import has_batch_norm

    return has_batch_norm(mc)


EXAMPLE_NET = Path(__file__).resolve().parent.parent / "engines" / "_torch" / "_user_module_example.py"

KIND = Kind("module", ModuleConfig, build={"torch": build_torch}, stacking="vmap", stack_key=stack_key,
            batch_norm=_batch_norm, check_data=check_data, summary=summary_model,
            example={"data": {"name": "digits", "train_size": 64},
                     "model": {"kind": "module", "module": f"{EXAMPLE_NET}:Net", "args": {"width": 4}},
                     "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 1}},
            figures=(*_deep.FIGURES, "first_layer_weights.png"), figure_module=_deep.FIGURE_MODULE,
            code_files=lambda mc: [mc["module"]], stack_note=stack_note)
