"""``train_test_split`` without importing scikit-learn (about a second of start-up: sklearn.utils pulls in
scipy.stats): the same indices, draw for draw, and the same ValueError messages as scikit-learn 1.x's
``train_test_split`` (``ShuffleSplit``; ``StratifiedShuffleSplit`` with ``_approximate_mode``; shuffle=False).
Every stored study was trained on scikit-learn's splits, so these must never drift from them:
tests/test_split.py compares the two on many random cases.
"""

from __future__ import annotations

import numbers
from math import ceil, floor

import numpy as np

DEFAULT_TEST_SIZE = 0.25  # train_test_split's, when neither size is given


def split_indices(n_samples: int, test_size: float | int | None = None, train_size: float | int | None = None,
                  seed: int | None = None, stratify: np.ndarray | None = None,
                  shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions in ``range(n_samples)``, as ``train_test_split(np.arange(n_samples), ...)``."""
    n_train, n_test = sizes(n_samples, test_size, train_size, DEFAULT_TEST_SIZE)
    if not shuffle:
        if stratify is not None:
            raise ValueError("Stratified train/test split is not implemented for shuffle=False")
        return np.arange(n_train), np.arange(n_train, n_train + n_test)
    n_train, n_test = sizes(n_samples, n_test, n_train)  # the ShuffleSplit that train_test_split makes
    rng = np.random.RandomState(seed)
    if stratify is None:
        permutation = rng.permutation(n_samples)
        return permutation[n_test:n_test + n_train], permutation[:n_test]
    return _stratified(np.asarray(stratify), n_train, n_test, rng)


def train_test_split(*arrays: np.ndarray, test_size=None, train_size=None, random_state=None,
                     shuffle: bool = True, stratify=None) -> list[np.ndarray]:
    """scikit-learn's ``train_test_split`` for NumPy arrays: [a_train, a_test, b_train, b_test, ...]."""
    for name, size in (("test_size", test_size), ("train_size", train_size)):
        _check_size(name, size)
    if not arrays:
        raise ValueError("At least one array required as input")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths!r}")
    train, test = split_indices(lengths[0], test_size, train_size, random_state, stratify, shuffle)
    return [part for a in arrays for part in (np.asarray(a)[train], np.asarray(a)[test])]


def _check_size(name: str, size) -> None:
    """scikit-learn's parameter check of train_test_split: a float in (0, 1), an int >= 1 or None."""
    if size is None:
        return
    if isinstance(size, float) and 0 < size < 1 or isinstance(size, numbers.Integral) and size >= 1:
        return
    raise ValueError(f"The {name!r} parameter of train_test_split must be a float in the range (0.0, 1.0), "
                     f"an int in the range [1, inf) or None. Got {size!r} instead.")


def sizes(n_samples: int, test_size, train_size, default_test_size=None) -> tuple[int, int]:
    """(n_train, n_test): scikit-learn's ``_validate_shuffle_split``, messages included."""
    if test_size is None and train_size is None:
        test_size = default_test_size
    test_kind = np.asarray(test_size).dtype.kind
    train_kind = np.asarray(train_size).dtype.kind
    for name, size, kind in (("test_size", test_size, test_kind), ("train_size", train_size, train_kind)):
        if (kind == "i" and (size >= n_samples or size <= 0)) or (kind == "f" and (size <= 0 or size >= 1)):
            raise ValueError(f"{name}={size} should be either positive and smaller than the number of samples "
                             f"{n_samples} or a float in the (0, 1) range")
    if train_size is not None and train_kind not in ("i", "f"):
        raise ValueError(f"Invalid value for train_size: {train_size}")
    if test_size is not None and test_kind not in ("i", "f"):
        raise ValueError(f"Invalid value for test_size: {test_size}")
    if train_kind == "f" and test_kind == "f" and train_size + test_size > 1:
        raise ValueError(f"The sum of test_size and train_size = {train_size + test_size}, should be in the (0, 1) "
                         "range. Reduce test_size and/or train_size.")
    n_test = ceil(test_size * n_samples) if test_kind == "f" else float(test_size) if test_kind == "i" else None
    n_train = floor(train_size * n_samples) if train_kind == "f" else float(train_size) if train_kind == "i" else None
    if train_size is None:
        n_train = n_samples - n_test
    elif test_size is None:
        n_test = n_samples - n_train
    if n_train + n_test > n_samples:
        raise ValueError("The sum of train_size and test_size = %d, should be smaller than the number of samples %d. "
                         "Reduce test_size and/or train_size." % (n_train + n_test, n_samples))
    n_train, n_test = int(n_train), int(n_test)
    if n_train == 0:
        raise ValueError(f"With n_samples={n_samples}, test_size={test_size} and train_size={train_size}, the "
                         "resulting train set will be empty. Adjust any of the aforementioned parameters.")
    return n_train, n_test


class TooFewPerClass(ValueError):
    """A stratified split with a part smaller than its classes, or a class of one sample: scikit-learn's message,
    and what it is about (``part``: "train" or "test", or None for a class of one; ``size``; ``classes``: how
    many, or the names of the classes of one) for callers that say it in their own words."""

    def __init__(self, message: str, part: str | None, size: int, classes):
        super().__init__(message)
        self.part, self.size, self.classes = part, size, classes


def _stratified(y: np.ndarray, n_train: int, n_test: int, rng: np.random.RandomState
                ) -> tuple[np.ndarray, np.ndarray]:
    """``StratifiedShuffleSplit``'s first split: each class's rows shuffled, its share of train and test taken."""
    if y.ndim == 2:  # multi-label: each distinct row is a class
        y = np.array([" ".join(row.astype("str")) for row in y])
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    if np.min(class_counts) < 2:
        ones = classes[class_counts < 2].tolist()
        raise TooFewPerClass("The least populated classes in y have only 1 member, which is too few. The minimum "
                             "number of groups for any class cannot be less than 2. Classes with too few members "
                             f"are: {ones}", None, 1, ones)
    for part, count in (("train", n_train), ("test", n_test)):
        if count < len(classes):
            raise TooFewPerClass("The %s_size = %d should be greater or equal to the number of classes = %d"
                                 % (part, count, len(classes)), part, count, len(classes))
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(classes)):
        rows = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(rows[:n_i[i]])
        test.extend(rows[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Draws per class summing to ``n_draws``, about in proportion; ties in the remainders broken by ``rng``."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
