"""Checks every user source shares (file, image folder, loader): shapes, missing values, the task, and
labels -> class indices with names."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ._own_read import Found

TEXT_KINDS = "USO"


def check_labels(found: Found, task: str | None, shown: str) -> tuple[str, tuple[str, ...], str]:
    """Fixes found.y / found.y_test in place (class indices, or float targets); returns (task, classes,
    how the task was decided)."""
    text = bool(found.categorical)
    found.x, found.y = _pair(found.x, found.y, shown, "", text)
    if found.x_test is not None:
        found.x_test, found.y_test = _pair(found.x_test, found.y_test, shown, "test ", text)
        if found.x_test.shape[1:] != found.x.shape[1:]:
            raise DataError(f"{shown}: test inputs have shape {found.x_test.shape[1:]}, training inputs "
                            f"{found.x.shape[1:]}")
    ys = [found.y] if found.y_test is None else [found.y, found.y_test]
    kind = np.result_type(*[y.dtype for y in ys]).kind if all(y.dtype.kind not in TEXT_KINDS for y in ys) else "U"
    why = "given"
    if task is None:
        task = "regression" if kind == "f" else "classification"
        why = {"f": "inferred: float targets", "U": "inferred: text labels",
               "b": "inferred: true/false labels"}.get(kind, "inferred: integer labels")
    if task == "regression":
        if kind in TEXT_KINDS:
            raise DataError(f"{shown}: a regression task needs numeric targets; the labels are text")
        found.y, found.y_test = (None if y is None else np.asarray(y, np.float32).reshape(len(y), -1)
                                 for y in (found.y, found.y_test))
        return task, (), why
    if any(y.ndim != 1 for y in ys):
        raise DataError(f"{shown}: class labels must be one per sample (got shape {found.y.shape})")
    if kind == "f":
        bad = next((v for y in ys for v in y if not float(v).is_integer()), None)
        if bad is not None:
            raise DataError(f"{shown}: float labels (e.g. {bad:g}) in a classification task; set "
                            "task = \"regression\", or give integer or text labels")
    if kind in "biuf" and found.classes is not None:  # labels index the names the source gives
        labels = [y.astype(np.int64) for y in ys]
        if any(len(y) and (y.min() < 0 or y.max() >= len(found.classes)) for y in labels):
            raise DataError(_labels_beyond_classes(labels, found.classes, shown))
        classes = found.classes
    else:
        values = np.unique(np.concatenate([y.astype(str) if kind in TEXT_KINDS else y for y in ys]))
        labels = [np.searchsorted(values, y.astype(str) if kind in TEXT_KINDS else y) for y in ys]
        classes = tuple(str(v) if kind in TEXT_KINDS + "b" else f"{v:g}" for v in values)
    if len(classes) < 2:
        raise DataError(f"{shown}: a classification task needs at least 2 classes (found {len(classes)}: "
                        f"{', '.join(classes)})")
    found.y = labels[0].astype(np.int64)
    found.y_test = labels[1].astype(np.int64) if len(labels) > 1 else None
    return task, classes, why


def _pair(x, y, shown: str, which: str, text: bool) -> tuple[np.ndarray, np.ndarray]:
    """x and y checked; ``text``: x is an object array whose text columns are one-hot encoded later."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim < 2 or y.ndim not in (1, 2) or len(x) != len(y):
        raise DataError(f"{shown}: {which}inputs of shape {x.shape} and labels of shape {y.shape} do not pair up "
                        "(one label or target row per sample)")
    if len(x) == 0:
        raise DataError(f"{shown}: no {which}samples")
    if x.size == 0:
        raise DataError(f"{shown}: {which}inputs of shape {x.shape} have no features (0 values per sample)")
    if not text:
        if x.dtype.kind not in "biuf":
            raise DataError(f"{shown}: {which}inputs must be numbers (got {x.dtype})")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DataError(f"{shown}: {which}inputs hold {int((~np.isfinite(x)).sum())} missing or infinite values")
        _check_float32_range(x, shown, which)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{shown}: {which}labels hold {int((~np.isfinite(y)).sum())} missing or infinite values")
    if y.dtype.kind not in "biuf" + TEXT_KINDS:
        raise DataError(f"{shown}: {which}labels must be numbers or text (got {y.dtype})")
    return x, y


def _check_float32_range(x: np.ndarray, shown: str, which: str) -> None:
    """Inputs are kept as float32: a wider float beyond its range would become infinite (integers never are)."""
    if x.dtype.kind == "f" and x.dtype.itemsize > 4 and x.size:
        largest = max(float(x.max()), -float(x.min()))
        if largest > float(np.finfo(np.float32).max):
            raise DataError(f"{shown}: {which}inputs have values beyond float32's range (max |x| = {largest:.3g}); "
                            "nnstudy keeps inputs as float32: scale them")


def _labels_beyond_classes(labels: list[np.ndarray], classes: tuple[str, ...], shown: str) -> str:
    """Which of the two values the source gave disagree: its labels' range, and the names in its classes."""
    lo = min(int(y.min()) for y in labels if len(y))
    hi = max(int(y.max()) for y in labels if len(y))
    names = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
    return (f"{shown}: the labels run from {lo} to {hi}, but classes names {len(classes)} ({names}) for labels 0.."
            f"{len(classes) - 1}: give one name per label, or labels 0..{len(classes) - 1}")
