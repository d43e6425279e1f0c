"""Getting files into the cache without ever leaving a half-written file under its final name.

Two sources: a Debian package unpacked without root (``apt-get download`` + ``dpkg-deb -x``)
and plain HTTP downloads. Every file is written to a temporary name in its destination folder,
checked, then moved into place with ``os.replace``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

Progress = Callable[[str], None]
Check = Callable[[Path], None]

_CHUNK = 1 << 16


def atomic_write(dest: Path, write: Callable[[BinaryIO], None], check: Check | None = None) -> None:
    """Write ``dest`` via a ``.part`` file in the same folder; ``check(part)`` may raise to reject it.

    On any failure the ``.part`` file is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    part = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(part)
        part.chmod(0o644)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def install_copy(src: Path, dest: Path, check: Check | None = None) -> None:
    """Copy ``src`` to ``dest`` atomically."""

    def write(out: BinaryIO) -> None:
        with open(src, "rb") as f:
            shutil.copyfileobj(f, out, _CHUNK)

    atomic_write(dest, write, check)


def open_url(url: str, timeout: float) -> BinaryIO:
    """The response stream of ``url`` (a seam the tests replace)."""
    import urllib.request

    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http(s) URLs we name)


def download(url: str, dest: Path, check: Check | None = None, timeout: float = 60.0,
             progress: Progress | None = None) -> None:
    """Download ``url`` to ``dest`` atomically."""

    def write(out: BinaryIO) -> None:
        with open_url(url, timeout) as response:
            total = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                total += len(chunk)
        if progress is not None:
            progress(f"downloaded {dest.name} ({total / 1e6:.1f} MB)")

    atomic_write(dest, write, check)


def tool_available(name: str) -> bool:
    return shutil.which(name) is not None


def run(cmd: list[str], cwd: Path, timeout: float) -> None:
    """Run a command quietly; raise RuntimeError with a one-line reason if it fails."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {err}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {last}")


def unpack_deb(package: str, workdir: Path, timeout: float = 300.0) -> Path:
    """``apt-get download`` one package into ``workdir`` and extract it; returns the extracted root.

    Needs no root. Raises RuntimeError with a one-line reason on any failure.
    """
    for tool in ("apt-get", "dpkg-deb"):
        if not tool_available(tool):
            raise RuntimeError(f"{tool} not available")
    run(["apt-get", "download", package], cwd=workdir, timeout=timeout)
    debs = sorted(workdir.glob(f"{package}_*.deb")) or sorted(workdir.glob("*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {package} produced no .deb file")
    root = workdir / "x"
    run(["dpkg-deb", "-x", str(debs[0]), str(root)], cwd=workdir, timeout=timeout)
    return root


@contextmanager
def scratch_dir(parent: Path) -> Iterator[Path]:
    """A temporary folder inside ``parent`` (same file system as the cache), removed afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=parent, prefix=".fetch-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
