"""A user's own data: ``[data] name = "file"`` with ``path`` (a table, an .npz or an image folder), or
``loader = "my_data.py:load"``.

Validating a study resolves what it names into content hashes (``resolve``: sha256 of the file, of the
image folder's manifest and of the arrays made from it, of the loader's source); from then on the data are
found by those hashes in the cache (``_userfiles``), on any machine. ``describe`` reads the data once per
process; ``raw`` gives ``prepare`` its arrays (the test split given, or carved from the seed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._paths import unusable
from .._text import cap
from .._userfiles import Exited, cached, check_given, files_dir, keep, keep_bytes, resolve_ref
from ..errors import DataError
from ._own_labels import check_labels
from ._own_read import Found, image_files, image_manifest, images_npz, one_line, read_file, read_images
from ._own_table import OneHot
from ._prepare import Raw, carve_test
from ._registry import OWN, DatasetInfo

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

DEFAULT_IMAGE_SIZE = 32
_SHOWN_CLASSES = 8


@dataclass
class OwnData:
    found: Found  # labels already class indices (or float targets)
    info: DatasetInfo


def resolve_key(key: str, given: str | None, data: dict[str, Any], base_dir: Path | None) -> str | None:
    """The value of ``key`` (sha256, images_sha256, loader_sha256) for the data section ``data`` (its keys
    validated so far), the files found relative to ``base_dir``. Without a base_dir, a value given is trusted
    (a worker's resolved config). ValueError (one line): a missing file, a bad loader, a sha256 the study wrote
    that the file lacks."""
    owner = {"sha256": "file", "images_sha256": "file", "loader_sha256": "loader"}[key]
    if data.get("name") != owner:
        if given is not None:
            raise ValueError("applies to " + ('name = "file"' if owner == "file" else "a loader"))
        return given
    if base_dir is None and given is not None:
        return given
    base = Path(base_dir or ".")
    try:
        if key == "loader_sha256":
            return _loader_sha(data, given, base) if "loader" in data else given
        if "path" not in data or data["path"] is None:
            return given  # reported under data.path
        where = base / data["path"]
        if key == "sha256":
            return _file_sha(where, data["path"], given)
        if not where.is_dir():
            if given is not None or data.get("image_size") is not None or data.get("color") is not None:
                raise ValueError(f"images_sha256, image_size and color apply to an image folder; {data['path']} "
                                 "is a file")
            return None
        if data.get("sha256") is None or str(where) not in _manifests:
            return given  # the folder's own error is reported under data.sha256
        manifest_sha, files = _manifests[str(where)]
        size = data.get("image_size") or DEFAULT_IMAGE_SIZE
        size = (size, size) if isinstance(size, int) else tuple(size)
        return _images(manifest_sha, files, size, data.get("color") or "rgb", data["path"])
    except DataError as e:
        raise ValueError(str(e)) from None


def _file_sha(where: Path, shown: str, given: str | None) -> str:
    if where.is_dir():
        manifest, files = image_manifest(where, shown)
        sha = keep_bytes(manifest)
        _manifests[str(where)] = (sha, files)
    elif not where.is_file():
        raise ValueError(f"no such file {shown!r} (paths are relative to the study file: {where})")
    else:
        try:
            sha = keep(where)
        except OSError as e:
            raise ValueError(f"cannot read {shown!r} ({e.strerror or e})") from None
    check_given(given, sha, shown, "sha256")
    return sha


def _loader_sha(data: dict[str, Any], given: str | None, base: Path) -> str:
    sha = resolve_ref(data["loader"], base)
    check_given(given, sha, data["loader"], "loader_sha256")
    return sha


def check_path(path: str, base_dir: Path) -> None:
    """ValueError (one line) when ``path`` is neither a file nor an image folder with 2 or more classes."""
    where = Path(base_dir) / path
    why = unusable(where)
    if why:
        raise ValueError(f"{cap(repr(path), 80)}: {why}")
    if where.is_dir():
        try:
            image_files(where, path)
        except DataError as e:
            raise ValueError(str(e)) from None
    elif not where.exists():
        raise ValueError(f"no such file {path!r} (paths are relative to the study file: {where})")


def check_loader(ref: str, kwargs: dict[str, Any], base_dir: Path) -> None:
    """ValueError (one line) for a loader file or name that does not exist, or one that cannot take ``kwargs``."""
    from ._own_loader import check_signature

    check_signature(ref, resolve_ref(ref, base_dir), kwargs)  # ValueError: also when the file fails to import


_manifests: dict[str, tuple[str, list]] = {}
_images_made: dict[tuple, str] = {}


def _images(manifest_sha: str, files: list, size: tuple[int, int], color: str, shown: str) -> str:
    key = (manifest_sha, size, color)
    if key not in _images_made or not cached(_images_made[key]).is_file():
        _images_made[key] = keep_bytes(images_npz(files, size, color, shown))
    return _images_made[key]


def check_readable(cfg: DataConfig) -> None:
    """ValueError (one line) when the data ``cfg`` names cannot be read or fail a check; a loader that raises
    is named with its exception."""
    try:
        own = describe(cfg)
    except (DataError, Exited) as e:
        raise ValueError(str(e)) from None
    except Exception as e:  # the user's loader raised
        raise ValueError(f"{cfg.loader} raised {type(e).__name__}: {one_line(e)}") from None
    if cfg.augment and len(own.info.input_shape) < 2:
        raise ValueError(f"augment applies to images and signals; {own.info.name} has flat inputs")


_described: dict[str, OwnData] = {}


def describe(cfg: DataConfig) -> OwnData:
    """The data ``cfg`` names, read and checked once per process (DataError, one line, when they are bad)."""
    key = json.dumps([cfg.name, cfg.sha256, cfg.images_sha256, cfg.target, cfg.inputs, cfg.task, cfg.path,
                      cfg.loader, cfg.loader_sha256, cfg.loader_args, cfg.lags, cfg.horizon], sort_keys=True,
                     default=str)
    if key not in _described:
        if len(_described) >= 4:  # keep memory bounded: a sweep over loader keywords makes one per point
            _described.pop(next(iter(_described)))
        _described[key] = _read(cfg)
    return _described[key]


def _read(cfg: DataConfig) -> OwnData:
    if cfg.lags is not None or cfg.horizon is not None:
        return _read_series(cfg)
    if cfg.name == "loader":
        from ._own_loader import call

        shown, sha = cfg.loader, cfg.loader_sha256
        found = call(cfg.loader, sha, cfg.loader_args)
    elif cfg.images_sha256 is not None:
        shown, sha = cfg.path, cfg.sha256
        found = read_images(_in_cache(cfg.images_sha256, shown), shown)
    else:
        shown, sha = cfg.path, cfg.sha256
        found = read_file(_in_cache(sha, shown), shown, cfg.target, cfg.inputs)
    task, classes, why = check_labels(found, cfg.task, shown)
    if found.categorical:
        shape = (len(OneHot.fit(found.x, found.input_names, found.categorical).names),)  # every row's categories
    else:
        shape = tuple(found.x.shape[1:])
    named = f"{len(classes)} classes ({', '.join(classes[:_SHOWN_CLASSES])}{', ...' if len(classes) > _SHOWN_CLASSES else ''})"
    line = (f"{shown} (sha256 {sha[:12]}): {found.what}; {task} ({why})"
            + (f", {named}" if classes else ""))
    name = Path(shown).name if cfg.name == "file" else shown
    return OwnData(found, DatasetInfo(name, task, line, shape, len(classes), classes=classes))


def _read_series(cfg: DataConfig) -> OwnData:
    """A table's column as one time series, cut into windows by lags and horizon (raw; as the elnino series)."""
    from ._own_read import read_series
    from ._registry import SERIES_HORIZON, SERIES_LAGS

    shown = cfg.path if cfg.name == "file" else cfg.loader
    if cfg.name != "file" or cfg.images_sha256 is not None:
        raise DataError(f"{shown}: lags and horizon cut a column of a table into windows; a loader or an image "
                        "folder gives its own inputs")
    if cfg.inputs is not None or cfg.task == "classification":
        raise DataError(f"{shown}: with lags the inputs are the series' own past values (a regression): leave "
                        "inputs and task out")
    found = read_series(_in_cache(cfg.sha256, shown), shown, cfg.target)
    lags, horizon = cfg.lags or SERIES_LAGS, cfg.horizon or SERIES_HORIZON
    line = (f"{shown} (sha256 {cfg.sha256[:12]}): {found.what}; regression: the value {horizon} step"
            f"{'s' if horizon > 1 else ''} after each window of {lags}")
    return OwnData(found, DatasetInfo(Path(shown).name, "regression", line, (lags,), 0))


def _in_cache(sha: str | None, shown: str) -> Path:
    if sha is None or not cached(sha).is_file():
        raise DataError(f"{shown}: sha256 {str(sha)[:12]} is not in this machine's cache {files_dir()}")
    return cached(sha)


def raw(cfg: DataConfig) -> Raw:
    """The arrays ``prepare`` takes: a given test split as is, else a seeded (stratified) TEST_FRACTION."""
    own = describe(cfg)
    if cfg.lags is not None or cfg.horizon is not None:
        from ._series import windows_raw

        return windows_raw(own.found.y, cfg)  # time order kept: the latest windows are the test split
    f, classify = own.found, own.info.task == "classification"
    if f.x_test is not None:
        out = Raw(f.x, f.y, f.x_test, f.y_test)
    else:
        try:
            out = carve_test(f.x, f.y, cfg.split_seed, stratify=classify)
        except ValueError as e:
            raise DataError(f"{own.info.name}: cannot hold out a test split ({' '.join(str(e).split())})") from None
    out.x_scale, out.input_shape = f.x_scale, tuple(f.x.shape[1:])
    out.classes = own.info.classes if classify else None
    out.input_names = f.input_names
    if f.categorical:
        out.encoder = partial(OneHot.fit, input_names=f.input_names, categorical=f.categorical)
    return out
