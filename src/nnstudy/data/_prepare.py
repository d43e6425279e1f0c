"""From raw arrays to a ``Dataset``: class filter, validation split, train subsample, feature selection,
normalization, input transforms (``_transforms``: pca, fourier).

Splits work on index arrays, so the (possibly large, possibly uint8) raw inputs are copied and
converted to float32 once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import DataError
from ._dataset import Dataset
from ._split import TooFewPerClass, train_test_split  # scikit-learn's splits, index for index, without importing it
from ._transforms import Chain
from ._transforms import fit as fit_transforms

if TYPE_CHECKING:
    from ..spec._schema import DataConfig
    from ._registry import DatasetInfo

TEST_FRACTION = 0.2
_CHUNK = 8192


@dataclass
class Raw:
    """What a loader returns: inputs flattened to (n, d), any numeric dtype."""

    x_train: np.ndarray
    y_train: np.ndarray  # (n,) integer labels | (n, k) float targets
    x_test: np.ndarray
    y_test: np.ndarray
    x_scale: float = 1.0  # inputs are divided by this when made float32 (255 for pixels)
    input_shape: tuple[int, ...] | None = None  # when the config decides it (else the registry's)
    classes: tuple[str, ...] | None = None  # class names when the config decides them (else the registry's)
    ordered: bool = False  # rows in time order: validation and train_size take the latest rows, no shuffle
    series: bool = False  # each input is a window of one time series (data.lags): a one-channel signal
    input_names: tuple[str, ...] = ()  # names of the input columns (a user's table)
    encoder: Callable | None = None  # fit(training rows) -> encode(rows) with .names, e.g. one-hot of text columns
    target: Callable | None = None  # the noise-free target of raw inputs (n, d) -> (n,), when the source knows it


@dataclass(frozen=True)
class KnownTarget:
    """A synthetic source's target function of the points the report draws in (``Dataset.plain_inputs``):
    undoes the transform steps before them (only invertible ones: pca keeping every component, fourier), then
    data.normalize, the pixel scale and data.features' column order, then applies the source's function (a
    module-level function, so the Dataset still pickles)."""

    function: Callable
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    undo: tuple = ()  # transform steps between the normalized inputs and the drawn points, in applied order
    columns: np.ndarray | None = None  # data.features (every column, some order): input j is raw column columns[j]
    x_scale: float = 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        for step in reversed(self.undo):
            x = step.inverse(x)
        if self.scale is not None:
            x = x * self.scale + self.shift
        x = x * self.x_scale
        if self.columns is not None:
            ordered = np.empty_like(x)
            ordered[:, self.columns] = x
            x = ordered
        return np.asarray(self.function(x), np.float64).reshape(len(x))


def carve_test(x: np.ndarray, y: np.ndarray, seed: int, stratify: bool) -> Raw:
    """Hold out ``TEST_FRACTION`` as the test split for datasets that ship without one."""
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y if stratify else None, random_state=seed)
    return Raw(x_tr, y_tr, x_te, y_te)


def prepare(raw: Raw, info: DatasetInfo, cfg: DataConfig) -> Dataset:
    """classes filter -> validation split -> train_size -> features -> float32 -> normalize -> transforms.

    Normalization and transforms are fitted on the training split. Ordered (time-series) rows are
    never shuffled: validation is the latest part of the training rows, train_size keeps the latest.
    """
    classify = info.task == "classification"
    names = list(raw.classes or info.classes)
    if classify:
        y_train, y_test, names = _filter_classes(raw, names, list(cfg.classes), info.name)
        train = np.flatnonzero(y_train >= 0)
        test = np.flatnonzero(y_test >= 0)
    else:
        if cfg.classes:
            raise DataError(f"{info.name} is a regression dataset: `classes` must be empty")
        y_train = np.asarray(raw.y_train, np.float32).reshape(len(raw.y_train), -1)
        y_test = np.asarray(raw.y_test, np.float32).reshape(len(raw.y_test), -1)
        train, test = np.arange(len(y_train)), np.arange(len(y_test))
    strat = y_train if classify else None
    val = np.empty(0, np.int64)
    if cfg.folds:  # k-fold cross-validation: the fold held out is the validation split
        train, val = fold_split(train, strat, cfg.folds, cfg.fold or 0, cfg.split_seed, info.name, raw.ordered)
    elif cfg.validation > 0:
        train, val = _split(train, strat, {"test_size": cfg.validation}, cfg.split_seed,
                            f"{info.name}: cannot hold out validation = {cfg.validation}", raw.ordered)
    train = _subsample(train, strat, cfg.train_size, cfg.split_seed, info.name, raw.ordered)

    shape = tuple(raw.input_shape or info.input_shape)
    parts = [(raw.x_train, train), (raw.x_train, val), (raw.x_test, test)]
    inputs = raw.input_names
    if raw.encoder is not None:  # fitted on the training rows only
        encode = raw.encoder(raw.x_train[train])
        parts = [(encode(x[i]), slice(None)) for x, i in parts]
        shape, inputs = (parts[0][0].shape[1],), encode.names
    n_raw = int(np.prod(shape))
    cols = _feature_columns(cfg.features, n_raw, info.name)
    xs = [_as_float(x[i] if cols is None else x[i][:, cols], raw.x_scale)  # raw x are (n, d)
          for x, i in parts]
    if cols is not None and inputs:
        inputs = tuple(inputs[c] for c in cols)
    moved = _normalize(xs, cfg.normalize)
    steps = fit_transforms(xs[0], cfg, info.name)
    xs, found, before = _through(xs, steps)
    plane, rest = (None, None), ()  # the stage the report draws in when it is not the model's inputs, the steps after
    if found is not None:
        plane, rest = found, tuple(steps[before:])
    if cols is not None or steps:
        shape = (xs[0].shape[1],)
    shift = scale = None
    if getattr(cfg, "normalize_target", None) == "standard" and not classify and len(train):
        shift = y_train[train].mean(0)
        scale = y_train[train].std(0)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    unmoved = moved if moved is not None and not steps else (None, None)  # a transform after it: not undone here
    known = None
    undo = tuple(steps[:before])
    every_column = cols is None or sorted(cols.tolist()) == list(range(n_raw))
    if raw.target is not None and raw.encoder is None and every_column and all(s.invertible for s in undo):
        known = KnownTarget(raw.target, *(moved or (None, None)), undo=undo, columns=cols, x_scale=raw.x_scale)
    return Dataset(
        name=info.name, task=info.task, y_shift=shift, y_scale=scale, target=known,
        x_train=xs[0], y_train=np.ascontiguousarray(y_train[train]),
        x_val=xs[1], y_val=np.ascontiguousarray(y_train[val]),
        x_test=xs[2], y_test=np.ascontiguousarray(y_test[test]),
        input_shape=shape, classes=names, input_names=() if steps else tuple(inputs),
        series=raw.series and cols is None and not steps,
        input_shift=unmoved[0], input_scale=unmoved[1],
        transform=Chain(rest) if rest else None, x_plain_train=plane[0], x_plain_test=plane[1])


def _through(xs: list[np.ndarray], steps: list) -> tuple[list[np.ndarray], tuple | None, int]:
    """(xs after every step, the plane, the number of steps before it). The plane is where decision boundaries and
    regression fits are drawn when it is not the model's inputs: the last stage with 2 columns (after
    normalization, after pca when it keeps 2 components), else, when the model's inputs have more than 2, the
    last stage with 1; as (train, test), None when there is none or the model's inputs are 1 or 2 columns."""
    stages = []  # (steps before, columns, (train, test)) of the stages with 1 or 2 columns
    for k, step in enumerate(steps):
        if xs[0].shape[1] <= 2:
            stages.append((k, xs[0].shape[1], (xs[0], xs[2])))
        xs = [step(x) for x in xs]
    final = xs[0].shape[1]
    chosen = [s for s in stages if s[1] == 2] or ([s for s in stages if s[1] == 1] if final > 2 else [])
    if final == 2 or not chosen:
        return xs, None, len(steps)
    before, _, plane = chosen[-1]
    return xs, plane, before


def _feature_columns(features: list[int] | None, n_inputs: int, label: str) -> np.ndarray | None:
    if features is None:
        return None
    outside = [f for f in features if not 0 <= f < n_inputs]
    if outside:
        raise DataError(f"{label}: features {outside} do not exist (inputs are 0..{n_inputs - 1})")
    return np.asarray(features, np.int64)


def _filter_classes(raw: Raw, names: list[str], wanted: list[int], label: str
                    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """int64 labels with dropped samples marked -1, relabelled 0..k-1 in the order asked for."""
    y_train = np.asarray(raw.y_train).astype(np.int64).ravel()
    y_test = np.asarray(raw.y_test).astype(np.int64).ravel()
    if not wanted:
        return y_train, y_test, names
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{label}: `classes` repeats a label: {wanted}")
    unknown = [c for c in wanted if not 0 <= c < len(names)]
    if unknown:
        raise DataError(f"{label}: classes {unknown} do not exist (labels are 0..{len(names) - 1})")
    absent = [c for c in wanted if not np.any(y_train == c)]
    if absent:
        raise DataError(f"{label}: classes {absent} have no training samples")
    lut = np.full(len(names), -1, np.int64)
    lut[wanted] = np.arange(len(wanted))
    return lut[y_train], lut[y_test], [names[c] for c in wanted]


def _split(idx: np.ndarray, strat: np.ndarray | None, size: dict[str, float | int], seed: int,
           what: str, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held) of ``idx``; ordered: held is the latest test_size rows, keep the latest train_size."""
    if ordered:
        latest_first = "train_size" in size  # without shuffling, the first rows are kept
        try:
            keep, held = train_test_split(idx[::-1] if latest_first else idx, **size, shuffle=False)
        except ValueError as err:
            raise DataError(f"{what}: {' '.join(str(err).split())}") from None
        return (np.sort(keep), np.sort(held)) if latest_first else (keep, held)
    try:
        keep, held = train_test_split(idx, **size, random_state=seed,
                                       stratify=None if strat is None else strat[idx])
    except TooFewPerClass as err:
        raise DataError(f"{what}: {_in_our_words(err, 'test_size' in size)}") from None
    except ValueError as err:
        raise DataError(f"{what}: {' '.join(str(err).split())}") from None
    return np.asarray(keep, np.int64), np.asarray(held, np.int64)


def _in_our_words(err: TooFewPerClass, holding_out: bool) -> str:
    """A stratified split too small for its classes, in the study's words (data/_split.py keeps scikit-learn's,
    as it keeps its splits): which part is too small, and why."""
    if err.part is None:
        return f"a stratified split needs two samples of every class, and these classes have one: {err.classes}"
    samples = f"{err.size} sample{'' if err.size == 1 else 's'}"
    what = {("test", True): f"that is {samples} to validate on", ("train", True): f"that leaves {samples} to train on",
            ("train", False): f"that keeps {samples}", ("test", False): f"that leaves {samples} out"}
    return (f"{what[err.part, holding_out]}, fewer than the {err.classes} classes (a stratified split puts every "
            f"class in both parts)")


def fold_split(idx: np.ndarray, strat: np.ndarray | None, folds: int, fold: int, seed: int, label: str,
               ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(the other folds, fold `fold`) of ``idx``: ``StratifiedKFold`` (classification) or ``KFold``, shuffled
    by `seed`, so the `folds` validation folds partition the training rows. Time-ordered rows are refused:
    a fold in the middle of a series would train on its future."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if ordered:
        raise DataError(f"{label}: data.folds: cross-validation folds need rows in no particular order; "
                        f"{label} is a time series (use validation, the latest rows)")
    kind = KFold if strat is None else StratifiedKFold
    smallest = len(idx) if strat is None or not len(idx) else int(np.unique(strat[idx], return_counts=True)[1].min())
    if folds > smallest:  # scikit-learn says it in its own words (n_splits, members)
        why = (f"there are {len(idx)} training samples" if strat is None else
               f"a stratified fold holds every class, and the smallest class has {smallest} training samples")
        raise DataError(f"{label}: cannot make folds = {folds}: {why} (use folds = {max(smallest, 2)} or fewer)")
    try:
        splits = list(kind(n_splits=folds, shuffle=True, random_state=seed).split(
            idx, None if strat is None else strat[idx]))
    except ValueError as err:
        raise DataError(f"{label}: cannot make folds = {folds}: {' '.join(str(err).split())}") from None
    keep, held = splits[fold]
    return np.asarray(idx[keep], np.int64), np.asarray(idx[held], np.int64)


def _subsample(idx: np.ndarray, strat: np.ndarray | None, size: float, seed: int, label: str,
               ordered: bool = False) -> np.ndarray:
    what = f"{label}: cannot keep train_size = {size:g} of {len(idx)} training samples"
    if size <= 1.0:
        return idx if size == 1.0 else _split(idx, strat, {"train_size": size}, seed, what, ordered)[0]
    count = int(size)
    if count > len(idx):
        raise DataError(f"{what} (use a fraction or a count up to {len(idx)})")
    return idx if count == len(idx) else _split(idx, strat, {"train_size": count}, seed, what, ordered)[0]


def _as_float(x: np.ndarray, scale: float) -> np.ndarray:
    x = x.reshape(len(x), int(np.prod(x.shape[1:], dtype=np.int64)))
    if scale == 1.0:
        return np.ascontiguousarray(x, dtype=np.float32)
    return np.divide(x, np.float32(scale), dtype=np.float32)


def _normalize(xs: list[np.ndarray], how: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Fit on ``xs[0]`` (train) and apply to every array, in place; (shift, scale) as applied, None for none."""
    train = xs[0]
    if how == "none" or len(train) == 0:
        return None
    if how == "standard":
        shift, scale = _mean_std(train)
    elif how == "minmax":
        shift = train.min(axis=0).astype(np.float64)
        scale = train.max(axis=0) - shift
    else:
        raise DataError(f"unknown normalize {how!r} (none | standard | minmax)")
    scale[scale == 0] = 1.0
    shift32, inv32 = shift.astype(np.float32), (1.0 / scale).astype(np.float32)
    for x in xs:
        x -= shift32
        x *= inv32
    return shift32.astype(np.float64), 1.0 / inv32.astype(np.float64)


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and population std, accumulated in float64 over row chunks (low memory)."""
    mean = x.sum(axis=0, dtype=np.float64) / len(x)
    mean32 = mean.astype(np.float32)
    sq = np.zeros_like(mean)
    for start in range(0, len(x), _CHUNK):
        d = x[start:start + _CHUNK] - mean32
        sq += np.einsum("ij,ij->j", d, d, dtype=np.float64)
    return mean, np.sqrt(sq / len(x))
