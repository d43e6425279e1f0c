"""``[data] loader = "my_data.py:load"``: the user's function, called with the data section's other keys."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .._userfiles import exits_as_errors, load_object
from ..errors import DataError
from ._own_read import Found, channels_last

SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test", "classes")


def check_signature(ref: str, sha256: str, kwargs: dict[str, Any]) -> None:
    """ValueError (one line) when ``ref`` is not a function that takes ``kwargs``."""
    fn = load_object(ref, sha256)
    if not callable(fn):
        raise ValueError(f"{ref} is a {type(fn).__name__}, not a function")
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError as e:
        keys = ", ".join(kwargs) or "no keys"
        raise ValueError(f"{ref} cannot be called with the data section's other keys ({keys}): {e}") from None
    except ValueError:
        pass  # a builtin without a signature: calling it will tell


def call(ref: str, sha256: str, kwargs: dict[str, Any]) -> Found:
    fn = load_object(ref, sha256)
    shown = f"{ref}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    with exits_as_errors(ref):
        out = fn(**kwargs)
    if isinstance(out, (tuple, list)) and len(out) == 2:
        arrays = {"x": out[0]}
        flipped = channels_last(arrays, ("x",))
        return Found(arrays["x"], out[1], what=f"{_len(out[0])} samples{flipped}")
    if isinstance(out, dict):
        unknown = sorted(set(out) - set(SPLIT_KEYS))
        if unknown or not {"x_train", "y_train"} <= set(out) or (("x_test" in out) != ("y_test" in out)):
            raise DataError(f"{shown} returned a dict with {', '.join(sorted(map(str, out)))}; give x_train, y_train "
                            "and optionally x_test and y_test (both or neither), classes")
        out = dict(out)
        flipped = channels_last(out, ("x_train", "x_test"))
        found = Found(out["x_train"], out["y_train"], out.get("x_test"), out.get("y_test"),
                      classes=_class_names(out.get("classes"), shown))
        found.what = f"{_len(found.x)} training samples" + (
            f" + {_len(found.x_test)} test samples (given)" if found.x_test is not None else "") + flipped
        return found
    raise DataError(f"{shown} returned {type(out).__name__}; return (x, y) or a dict with x_train, y_train "
                    "[, x_test, y_test, classes]")


def _class_names(classes: Any, shown: str) -> tuple[str, ...] | None:
    """The names a loader gave its labels 0, 1, ...: a list, a tuple or a 1-D array; else DataError (one line)."""
    if classes is None:
        return None
    if not isinstance(classes, (list, tuple, np.ndarray)) or np.ndim(classes) != 1:
        raise DataError(f"{shown} returned {_value(classes)}, not a list of names: give one name per label "
                        "0, 1, ... (e.g. classes=[\"cat\", \"dog\"]), or leave classes out to name the labels by "
                        "their values")
    return tuple(str(c) for c in classes)


def _value(value: Any) -> str:
    """``classes=<repr>`` in a few words: its start, or its type where repr fails (a huge integer)."""
    try:
        text = repr(value)
    except Exception:
        return f"classes of type {type(value).__name__}"
    return f"classes={text}" if len(text) <= 40 else f"classes={text[:40]}... (of type {type(value).__name__})"


def _len(x: Any) -> str:
    try:
        return str(len(x))
    except TypeError:
        return "?"
