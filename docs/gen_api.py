"""The Python API reference page, generated from the docstrings and signatures of `nnstudy`."""

from __future__ import annotations

import inspect

import nnstudy

FUNCTIONS = ("run", "load", "compare", "export")
STUDY_MEMBERS = ("results", "trials", "history", "report", "report_dir", "plot", "snapshot")


def _doc(obj) -> str:
    return (inspect.getdoc(obj) or "(no docstring)").replace("<", "&lt;")


def _signature(name: str, obj) -> str:
    try:
        sig = inspect.signature(obj, eval_str=True)
    except (NameError, TypeError):
        sig = inspect.signature(obj)
    return f"```python\n{name}{sig}\n```"


def api_page() -> str:
    out = ["# Python API reference", "",
           "Generated from the docstrings of the `nnstudy` package. Everything the command line does, "
           "for notebooks and scripts; see the [Python and notebooks](../python-api.md) for a walk-through.", ""]
    for name in FUNCTIONS:
        obj = getattr(nnstudy, name)
        out += [f"## `nnstudy.{name}`", "", _signature(f"nnstudy.{name}", obj), "", _doc(obj), ""]
    out += ["## `nnstudy.Study`", "", _doc(nnstudy.Study), "",
            "In Jupyter a `Study` shows itself as its results table (mean ± SE, the best bold, ≈ marking "
            "configurations not significantly different from the best) followed by its key figures.", ""]
    for member in STUDY_MEMBERS:
        obj = getattr(nnstudy.Study, member)
        if isinstance(obj, property):
            out += [f"### `Study.{member}` (property)", "", _doc(obj.fget), ""]
        else:
            out += [f"### `Study.{member}`", "", _signature(f"Study.{member}", obj), "", _doc(obj), ""]
    out += ["## `nnstudy.StudyError`", "", _doc(nnstudy.StudyError), ""]
    return "\n".join(out) + "\n"
