"""Datasets by name: metadata, where the files are, fetching them, and loading prepared splits.

    >>> from nnstudy import data
    >>> data.names()
    ['circles', 'digits', 'fashion-mnist', 'iris', 'moons', 'sine']
    >>> ds = data.load(DataConfig(name="iris"))   # Dataset: train / val / test arrays + metadata
    >>> data.info(study.data).source                # a user's file or loader: metadata read from the data

A user's own data (``name = "file"``, or ``loader``) live in ``_own``; installed packages add datasets
through entry points (``_plugins``).

Importing this package is cheap: loaders (numpy, scikit-learn) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import DataError
from ._dataset import Dataset
from ._registry import OWN, REGISTRY, DatasetInfo, Entry, entry, loader

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

__all__ = ["Dataset", "DatasetInfo", "DataError", "Entry", "names", "info", "locate", "fetch", "load"]


def names() -> list[str]:
    """Every registered dataset name, sorted."""
    return sorted(REGISTRY)


def info(data: str | DataConfig) -> DatasetInfo:
    """Metadata of a dataset by name, or of a data config; a user's file or loader is read (once per
    process) to know its task, classes and input shape. DataError if unknown or bad."""
    if isinstance(data, str):
        return entry(data).info
    if data.name in OWN:
        from ._own import describe

        return describe(data).info
    return entry(data.name).info


def locate(name: str) -> str | None:
    """Where ``name`` is found: the folder of its valid files (None if absent), or how it is made."""
    e = entry(name)
    return loader(name).locate(name) if e.has_files else e.where


def fetch(name: str, progress: Callable[[str], None] | None = None) -> str:
    """Make the files of ``name`` present (cache, else fetched) and return their folder.

    Datasets without files need nothing: their ``locate`` description is returned.
    Raises DataError with one line if every source failed.
    """
    e = entry(name)
    return loader(name).fetch(name, progress) if e.has_files else e.where


def load(cfg: DataConfig) -> Dataset:
    """Load ``cfg.name`` and prepare it as ``cfg`` says; DataError if data are missing or corrupt."""
    from ._prepare import prepare

    if cfg.split_seed == "seed":  # a study's data section, not a trial's (spec._expand.replicates): seed 0's split
        cfg = cfg.model_copy(update={"split_seed": 0})
    if cfg.folds and cfg.fold is None:  # likewise: fold 0
        cfg = cfg.model_copy(update={"fold": 0})
    if cfg.name in OWN:
        from ._own import describe, raw

        if cfg.n_samples is not None or cfg.noise is not None:
            raise DataError(f"{cfg.name}: n_samples and noise apply only to generated datasets; use train_size "
                            "to subsample")
        return prepare(raw(cfg), describe(cfg).info, cfg)
    e = entry(cfg.name)
    if not e.generated and (cfg.n_samples is not None or cfg.noise is not None):
        raise DataError(f"{cfg.name}: n_samples and noise apply only to generated datasets "
                        f"({', '.join(n for n, g in REGISTRY.items() if g.generated)}); "
                        "use train_size to subsample")
    return prepare(loader(cfg.name).raw(cfg.name, cfg), e.info, cfg)
