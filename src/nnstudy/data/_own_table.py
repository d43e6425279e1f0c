"""A table (pandas DataFrame) -> inputs and labels: the target and input columns, missing values, which
columns are text (one-hot encoded, the categories fitted on the training rows only: ``OneHot``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ._own_read import MAX_CATEGORIES, Found


def from_frame(df, shown: str, target: str | None, inputs: list | None) -> Found:
    import pandas as pd

    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    if len(set(columns)) != len(columns):
        raise DataError(f"{shown}: column names repeat ({', '.join(columns)})")
    listed = f"(columns: {', '.join(columns)})"
    if target is None:
        target = columns[-1]
    elif target not in columns:
        raise DataError(f"{shown}: target {target!r} is not a column {listed}")
    index = _saved_index(df, columns) if inputs is None and target != columns[0] else None
    names = [c for c in columns if c not in (target, index)] if inputs is None else \
        [_column(i, columns, shown) for i in inputs]
    if target in names:
        raise DataError(f"{shown}: the target {target!r} is also an input")
    if not names:
        raise DataError(f"{shown}: no input columns besides the target {target!r}")
    for c in [*names, target]:
        missing = np.flatnonzero(df[c].isna().to_numpy())
        if len(missing):
            raise DataError(f"{shown}: column {c!r} has {len(missing)} missing values (first in data row "
                            f"{missing[0] + 1}); fill or drop them")
    categorical = []
    for j, c in enumerate(names):
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s)):
            continue
        why = _not_encodable(s)
        if why:
            raise DataError(f"{shown}: column {c!r} cannot be encoded: {why}; leave it out with inputs = [...] "
                            "or make it numeric")
        categorical.append(j)
    if categorical:
        x = np.empty((len(df), len(names)), object)
        for j, c in enumerate(names):
            x[:, j] = df[c].astype(str).to_numpy() if j in categorical else df[c].to_numpy(np.float64)
    else:
        x = df[names].to_numpy(np.float64)
    y = df[target].to_numpy()
    if y.dtype == object and not all(isinstance(v, str) for v in y):
        y = y.astype(str)
    text = f", {len(categorical)} of them text, one-hot encoded" if categorical else ""
    dropped = f" (its first column, unnamed and 0 to {len(df) - 1}, is a saved row index: left out)" if index else ""
    return Found(x, y, input_names=tuple(names), categorical=tuple(categorical),
                 what=f"{len(df)} rows, {len(names)} input columns{text}, target {target!r}{dropped}")


def _saved_index(df, columns: list[str]) -> str | None:
    """The first column when it is a row index that ``DataFrame.to_csv`` saved: no header (pandas reads it as
    ``Unnamed: 0``) and the values 0, 1, ..., n - 1. A row number is no input: it would only learn the order."""
    first = columns[0]
    if not first.startswith("Unnamed: 0"):
        return None
    values = df[first].to_numpy()
    return first if values.dtype.kind in "iu" and np.array_equal(values, np.arange(len(values))) else None


def _column(item, columns: list[str], shown: str) -> str:
    if isinstance(item, int):
        if not 0 <= item < len(columns):
            raise DataError(f"{shown}: inputs: column {item} does not exist (columns 0..{len(columns) - 1})")
        return columns[item]
    if item not in columns:
        raise DataError(f"{shown}: inputs: {item!r} is not a column (columns: {', '.join(columns)})")
    return item


def _not_encodable(s) -> str | None:
    """Why a non-numeric column cannot be one-hot encoded; None when it can."""
    import pandas as pd

    kinds = {type(v).__name__ for v in s.to_numpy()}
    textual = pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)
    if not textual or not kinds <= {"str"}:
        return f"it holds {' and '.join(sorted(kinds)) if textual else s.dtype} values"
    distinct = s.nunique()
    if distinct > MAX_CATEGORIES:
        return f"{distinct} distinct text values (one-hot takes at most {MAX_CATEGORIES})"
    return None


@dataclass(frozen=True)
class OneHot:
    """Text columns -> one 0/1 column per category seen in the training rows (unseen ones: all zeros),
    in place of the text column; numeric columns pass through."""

    names: tuple[str, ...]  # input names after encoding: "age", "sex=female", "sex=male"
    categories: tuple[tuple[str, ...] | None, ...]  # per input column; None for a numeric one

    @classmethod
    def fit(cls, x_train: np.ndarray, input_names: tuple[str, ...], categorical: tuple[int, ...]) -> "OneHot":
        cats, names = [], []
        for j, name in enumerate(input_names):
            if j in categorical:
                seen = tuple(sorted(set(x_train[:, j])))
                cats.append(seen)
                names += [f"{name}={c}" for c in seen]
            else:
                cats.append(None)
                names.append(name)
        return cls(tuple(names), tuple(cats))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        blocks = []
        for j, cats in enumerate(self.categories):
            if cats is None:
                blocks.append(x[:, j:j + 1].astype(np.float64))
            else:
                blocks.append((x[:, j:j + 1] == np.array(cats, object)[None, :]).astype(np.float64))
        return np.concatenate(blocks, axis=1)
