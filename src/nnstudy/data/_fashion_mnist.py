"""Fashion-MNIST (Zalando): four IDX files, found in the cache or the Debian package, else fetched.

Search order: ``<cache>/fashion-mnist/`` (the cache is ``$NNSTUDY_DATA`` if set, else
``~/.cache/nnstudy``), then the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``, or wherever ``dpkg -L`` says). Files may be gzipped or
not; each is checked by the sha256 of its decompressed content, which is the same for the
upstream and the Debian (recompressed) files.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from ..errors import DataError
from . import _debian, _fetch
from ._idx import IdxError, parse_idx
from ._paths import cache_dir, cache_root
from ._prepare import Raw
from ._verify import read_verified, record, refetch_hint, sha256_file, verify

if TYPE_CHECKING:
    from ..spec._schema import DataConfig

NAME = "fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
URL_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# sha256 of each file's decompressed content (tests replace this mapping)
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


# ---------------------------------------------------------------- finding files

def debian_dirs() -> list[Path]:
    """Where the Debian package puts the files: the usual place, or what ``dpkg -L`` lists."""
    first = next(iter(SHA256))
    return _debian.installed_dirs(DEBIAN_PACKAGE, DEBIAN_DIR, (first, f"{first}.gz"),
                                  present=lambda d: _files_in(d) is not None)


def search_dirs() -> Iterator[Path]:
    """The cache first; the Debian folders (which may ask dpkg) only when the cache falls short."""
    yield cache_dir(NAME)
    yield from debian_dirs()


def _files_in(folder: Path) -> dict[str, Path] | None:
    """Each file's path in ``folder`` (gzipped preferred), or None if any is missing."""
    files: dict[str, Path] = {}
    for base in SHA256:
        path = next((p for p in (folder / f"{base}.gz", folder / base) if p.is_file()), None)
        if path is None:
            return None
        files[base] = path
    return files


def _find() -> tuple[Path, dict[str, Path]]:
    """The first folder holding all four valid files; DataError (one line) if there is none.

    A folder with a corrupt file is passed over; if no folder is valid, the first corruption found
    is the error.
    """
    corrupt: DataError | None = None
    for folder in search_dirs():
        files = _files_in(folder)
        if files is None:
            continue
        try:
            for base, path in files.items():
                verify(path, SHA256[base], NAME)
            return folder, files
        except DataError as err:
            corrupt = corrupt or err
    if corrupt is not None:
        raise corrupt
    raise DataError(f"{NAME}: files not found in {_where()}; run `nnstudy data fetch {NAME}`")


def _where() -> str:
    dirs = [str(d) for d in search_dirs()]
    return f"{', '.join(dirs[:-1])} or {dirs[-1]} (Debian package {DEBIAN_PACKAGE})"


def locate(name: str = NAME) -> str | None:
    try:
        return str(_find()[0])
    except DataError:
        return None


# ---------------------------------------------------------------- loading

def raw(name: str, cfg: DataConfig) -> Raw:
    _, files = _find()
    keys = tuple((str(p), *_stat(p)) for p in files.values())
    x_tr, y_tr, x_te, y_te = _read_all(keys)
    return Raw(x_tr, y_tr, x_te, y_te, x_scale=255.0)


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


@functools.lru_cache(maxsize=1)
def _read_all(keys: tuple[tuple[str, int, int, int], ...]) -> tuple[np.ndarray, ...]:
    """Parsed (x_train, y_train, x_test, y_test) of verified files; kept for the next load."""
    arrays = {base: _read(Path(key[0]), SHA256[base]) for base, key in zip(SHA256, keys)}
    out = []
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{NAME}: {split} images {images.shape} and labels {labels.shape} do "
                            f"not match; {refetch_hint(NAME)}")
        out += [images.reshape(len(images), -1), labels]
    for a in out:
        a.setflags(write=False)
    return tuple(out)


def _read(path: Path, sha256: str) -> np.ndarray:
    try:
        return parse_idx(read_verified(path, sha256, NAME))
    except IdxError as err:
        raise DataError(f"{NAME}: {path} is corrupt ({err}); {refetch_hint(NAME)}") from None


# ---------------------------------------------------------------- fetching

def fetch(name: str = NAME, progress: Callable[[str], None] | None = None) -> str:
    say = progress or (lambda _msg: None)
    found = locate()
    if found is not None:
        say(f"{NAME}: valid files already in {found}")
        return found
    dest = cache_dir(NAME)
    tried = []
    with _fetch.scratch_dir(cache_root()) as tmp:
        try:
            say(f"{NAME}: apt-get download {DEBIAN_PACKAGE}")
            root = _fetch.unpack_deb(DEBIAN_PACKAGE, tmp)
            _install_from(root / DEBIAN_DIR.relative_to("/"), dest)
            say(f"{NAME}: installed from the Debian package into {dest}")
            return str(dest)
        except (RuntimeError, OSError, DataError) as err:
            tried.append(f"Debian package ({_one_line(err)})")
    try:
        for base in SHA256:
            say(f"{NAME}: downloading {base}.gz")
            _fetch.download(URL_BASE + f"{base}.gz", dest / f"{base}.gz",
                            check=_checker(base), progress=say)
            record(dest / f"{base}.gz", SHA256[base])
    except (OSError, DataError) as err:
        tried.append(f"download from {URL_BASE} ({_one_line(err)})")
        raise DataError(f"{NAME}: fetch failed: tried {'; '.join(tried)}") from None
    say(f"{NAME}: downloaded into {dest}")
    return str(dest)


def _install_from(src: Path, dest: Path) -> None:
    """Copy the four files of ``src`` into ``dest``, each checked before it takes its final name."""
    files = _files_in(src)
    if files is None:
        raise RuntimeError(f"the package holds no complete set of files under {src.name}/")
    for base, path in files.items():
        _fetch.install_copy(path, dest / path.name, check=_checker(base))
        record(dest / path.name, SHA256[base])


def _checker(base: str) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        if sha256_file(path, NAME) != SHA256[base]:
            raise DataError(f"{NAME}: {base} from the source does not match its sha256")

    return check


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__

