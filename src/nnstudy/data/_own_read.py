"""Reading a user's data file into arrays: CSV/TSV (pandas), Parquet (pyarrow), NumPy .npz, an image folder.

Each reader returns a ``Found``: inputs and labels as the file holds them (labels not yet classes); the
checks every source shares (labels, task, shapes) are ``_own_labels``'s.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._userfiles import message
from ..errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SUFFIXES = (*TABLE_SUFFIXES, *PARQUET_SUFFIXES, ".npz")
MAX_CATEGORIES = 50  # a text column with more distinct values is not one-hot encoded


@dataclass
class Found:
    x: np.ndarray  # (n, ...) numbers, or (n, d) objects when text columns are one-hot encoded later
    y: np.ndarray  # (n,) labels or targets, (n, k) targets
    x_test: np.ndarray | None = None  # a test split the source gives, used as is
    y_test: np.ndarray | None = None
    classes: tuple[str, ...] | None = None  # class names the source gives (labels index them)
    input_names: tuple[str, ...] = ()
    categorical: tuple[int, ...] = ()  # columns of x holding text, one-hot encoded on the training rows
    x_scale: float = 1.0
    what: str = ""  # for the one-line description: "303 rows, 13 columns"
    notes: list[str] = field(default_factory=list)


def read_file(path: Path, shown: str, target: str | None, inputs: list | None) -> Found:
    """A table or an .npz at ``path`` (a cached copy: the format comes from ``shown``, the name the study wrote)."""
    suffix = Path(shown).suffix.lower()
    if suffix == ".npz":
        if target is not None or inputs is not None:
            raise DataError(f"{shown}: target and inputs name table columns; an .npz holds arrays x and y")
        return read_npz(path, shown)
    if suffix in TABLE_SUFFIXES or suffix in PARQUET_SUFFIXES:
        from ._own_table import from_frame

        return from_frame(read_frame(path, shown, suffix), shown, target, inputs)
    raise DataError(f"{shown}: unknown file type {suffix or '(none)'!r} (known: {', '.join(SUFFIXES)}, "
                    "or a folder of images with one sub-folder per class)")


def read_series(path: Path, shown: str, column: str | None) -> Found:
    """One numeric column of a table (default: the last) as a time series, its rows in time order; the other
    columns (dates, say) are not read. For data.lags / data.horizon, which cut it into windows."""
    import pandas as pd

    suffix = Path(shown).suffix.lower()
    if suffix not in TABLE_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        raise DataError(f"{shown}: lags and horizon cut a column of a table (CSV, TSV or Parquet) into windows; "
                        f"{suffix or 'this file'} is not one")
    df = read_frame(path, shown, suffix)
    columns = [str(c) for c in df.columns]
    column = columns[-1] if column is None else column
    if column not in columns:
        raise DataError(f"{shown}: target {column!r} is not a column (columns: {', '.join(columns)})")
    values = df.iloc[:, columns.index(column)]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"{shown}: column {column!r} is not a series of numbers (lags cut it into windows); "
                        "name the series with target = \"...\"")
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise DataError(f"{shown}: column {column!r} has {len(missing)} missing values (first in data row "
                        f"{missing[0] + 1}); fill or drop them")
    y = values.to_numpy(np.float64)
    return Found(y[:, None], y, input_names=(column,), what=f"a series of {len(y)} values (column {column!r}, "
                                                           "in row order)")


def read_frame(path: Path, shown: str, suffix: str):
    import pandas as pd

    try:
        if suffix in PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        df = pd.read_csv(path, sep=TABLE_SUFFIXES[suffix], skipinitialspace=True)
    except ImportError as e:
        raise DataError(f"{shown}: reading Parquet needs pyarrow (pip install pyarrow): {e}") from None
    except Exception as e:  # pandas and pyarrow raise many kinds for a malformed file
        raise DataError(f"{shown}: cannot read it as {suffix[1:]} ({one_line(e)})") from None
    other = [sep for sep in (";", "\t", ",", "|") if sep != TABLE_SUFFIXES[suffix] and sep in str(df.columns[0])]
    if len(df.columns) == 1 and other:  # a European CSV (;) read as commas, say: one column named 'a;b;label'
        raise DataError(f"{shown}: its header is one column {str(df.columns[0])!r}: the file seems separated by "
                        f"{other[0]!r}, but {suffix} is read as {'tab' if suffix != '.csv' else 'comma'}-separated "
                        "(save it with commas as .csv, or with tabs as .tsv)")
    return df


def read_npz(path: Path, shown: str) -> Found:
    """Arrays x, y (the test split carved later) or x_train, y_train, x_test, y_test; optional classes."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # a corrupt archive, a pickled array
        raise DataError(f"{shown}: cannot read it as .npz ({one_line(e)})") from None
    names = set(arrays) - {"classes"}
    classes = _class_names(arrays.get("classes"), shown)
    flipped = channels_last(arrays, ("x", "x_train", "x_test"))
    if names == {"x", "y"}:
        return Found(arrays["x"], arrays["y"], classes=classes, what=f"{len(arrays['x'])} samples{flipped}")
    if names in ({"x_train", "y_train", "x_test", "y_test"}, {"x_train", "y_train"}):
        found = Found(arrays["x_train"], arrays["y_train"], arrays.get("x_test"), arrays.get("y_test"),
                      classes=classes)
        found.what = f"{len(found.x)} training samples" + (
            f" + {len(found.x_test)} test samples (given)" if found.x_test is not None else "") + flipped
        return found
    if MEDMNIST <= names <= MEDMNIST | {"val_images", "val_labels"}:
        return _medmnist(arrays, names, classes)
    raise DataError(f"{shown}: an .npz holds x and y, or x_train, y_train, x_test and y_test "
                    f"(and optionally classes), or MedMNIST's train_images, train_labels, test_images and "
                    f"test_labels; found {', '.join(sorted(arrays)) or 'no arrays'}")


MEDMNIST = {"train_images", "train_labels", "test_images", "test_labels"}
COLOURS = (1, 3, 4)  # channels of an image: gray, RGB, RGBA


def channels_last(arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> str:
    """Images saved channels last, (n, H, W, C) as Keras and PIL lay them out, put channels first in place (the
    layout nnstudy reads): those whose last axis is a colour count and whose second is not. ' (images saved
    channels last, ...)' for the data line when it did, else ''."""
    flipped = [n for n in names if isinstance(arrays.get(n), np.ndarray) and arrays[n].ndim == 4
               and arrays[n].shape[-1] in COLOURS and arrays[n].shape[1] not in COLOURS]
    for n in flipped:
        arrays[n] = np.ascontiguousarray(arrays[n].transpose(0, 3, 1, 2))
    if not flipped:
        return ""
    c, h, w = arrays[flipped[0]].shape[1:]
    return f" (images saved channels last, {h}x{w}x{c}: read as {c}x{h}x{w}, channels first)"


def _medmnist(arrays: dict[str, np.ndarray], names: set[str], classes) -> Found:
    """MedMNIST's layout: images (n, H, W) or (n, H, W, 3), labels (n, 1); its validation images join the
    training ones (data.validation holds out a split of its own)."""
    def labels(a: np.ndarray) -> np.ndarray:
        return a.reshape(len(a)) if a.ndim == 2 and a.shape[1] == 1 else a

    channels_last(arrays, ("train_images", "val_images", "test_images"))  # its layout: no need to say so
    x, y = arrays["train_images"], labels(arrays["train_labels"])
    joined = ""
    if {"val_images", "val_labels"} <= names:
        x = np.concatenate([x, arrays["val_images"]])
        y = np.concatenate([y, labels(arrays["val_labels"])])
        joined = f" (MedMNIST layout: its {len(arrays['val_images'])} validation images joined the training ones)"
    found = Found(x, y, arrays["test_images"], labels(arrays["test_labels"]), classes=classes)
    found.what = f"{len(x)} training samples + {len(found.x_test)} test samples (given){joined}"
    return found


def _class_names(arr: np.ndarray | None, shown: str) -> tuple[str, ...] | None:
    if arr is None:
        return None
    if arr.ndim != 1:
        raise DataError(f"{shown}: classes must be a 1-D array of names")
    return tuple(str(c) for c in arr)


def image_files(folder: Path, shown: str) -> list[tuple[str, Path]]:
    """[(class, file)]: the images of each class sub-folder, sorted; DataError for fewer than 2 classes."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        found = ", ".join(p.name for p in classes) or "none"
        raise DataError(f"{shown}: an image folder needs one sub-folder per class, at least 2 (found {len(classes)}: "
                        f"{found})")
    files = []
    for c in classes:
        images = sorted(p for p in c.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DataError(f"{shown}: class folder {c.name!r} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        files += [(c.name, p) for p in images]
    return files


def image_manifest(folder: Path, shown: str) -> tuple[bytes, list[tuple[str, Path]]]:
    """(manifest, [(class, file)]): the sorted relative paths of the images with each one's sha256."""
    import hashlib

    files = image_files(folder, shown)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(folder).as_posix()}" for _, p in files]
    return ("\n".join(lines) + "\n").encode(), files


def images_npz(files: list[tuple[str, Path]], size: tuple[int, int], color: str, shown: str) -> bytes:
    """The images as one .npz: x uint8 (n, channels, height, width), y class index, classes."""
    from PIL import Image, UnidentifiedImageError

    classes = sorted({c for c, _ in files})
    index = {c: i for i, c in enumerate(classes)}
    x = np.empty((len(files), 3 if color == "rgb" else 1, *size), np.uint8)
    for k, (_, p) in enumerate(files):
        try:
            with Image.open(p) as im:
                im = im.convert("RGB" if color == "rgb" else "L").resize((size[1], size[0]), Image.BILINEAR)
                pixels = np.asarray(im, np.uint8)
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(f"{shown}: cannot read the image {p.relative_to(p.parents[1]).as_posix()} "
                            f"({one_line(e)})") from None
        x[k] = pixels.transpose(2, 0, 1) if pixels.ndim == 3 else pixels[None]
    out = io.BytesIO()
    np.savez(out, x=x, y=np.array([index[c] for c, _ in files], np.int64), classes=np.array(classes))
    return out.getvalue()


def read_images(path: Path, shown: str) -> Found:
    with np.load(path, allow_pickle=False) as z:
        x, y, classes = z["x"], z["y"], tuple(str(c) for c in z["classes"])
    return Found(x, y, classes=classes, x_scale=255.0,
                 what=f"{len(x)} images {x.shape[2]}x{x.shape[3]} ({'RGB' if x.shape[1] == 3 else 'gray'})")


def one_line(e: BaseException) -> str:
    return " ".join(message(e).split())[:300] or type(e).__name__
