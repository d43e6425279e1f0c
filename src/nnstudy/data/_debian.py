"""Data files shipped in Debian packages: where an installed package put them, and copying them out
of a package fetched without root (``apt-get download`` + ``dpkg-deb -x``) into the cache.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable

from . import _fetch

Check = Callable[[Path], None]


def installed_dirs(package: str, usual: Path, marker: Iterable[str], present: Callable[[Path], bool]
                   ) -> list[Path]:
    """``usual`` first, then every folder ``dpkg -L package`` lists a ``marker`` file name in.

    dpkg is asked only when ``present(usual)`` is false and dpkg exists; any dpkg failure leaves
    just ``usual``.
    """
    if present(usual) or shutil.which("dpkg") is None:
        return [usual]
    try:
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                                timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return [usual]
    names = set(marker)
    found = {Path(line).parent for line in listed.splitlines() if Path(line).name in names}
    return [usual, *sorted(found - {usual})]


def copy_from_package(package: str, usual: Path, files: Iterable[str], dest: Path, scratch: Path,
                      check: Callable[[str], Check]) -> None:
    """Download ``package``, extract it in ``scratch`` and copy ``files`` from its ``usual`` folder.

    Each file is checked by ``check(file name)`` before it takes its final name in ``dest``.
    RuntimeError (one line) when the package cannot be had or lacks a file.
    """
    src = _fetch.unpack_deb(package, scratch) / usual.relative_to("/")
    missing = [f for f in files if not (src / f).is_file()]
    if missing:
        raise RuntimeError(f"the package holds no {', '.join(missing)} under {usual}")
    for f in files:
        _fetch.install_copy(src / f, dest / f, check=check(f))
