"""Getting files into the cache without ever leaving a half-written file under its final name.

Two sources: a Debian package unpacked without root (``apt-get download`` + ``dpkg-deb -x``)
and plain HTTP downloads. Every file is written to a temporary name in its destination folder,
checked, then moved into place with ``os.replace``; an interrupted download is resumed from where
it stopped (HTTP range requests).

Why not pooch (read in pooch 1.9.0's source): it checks sha256 as we do, but cannot resume. Each
attempt of ``core.stream_download`` streams into a new ``temporary_file`` that is deleted when the
attempt fails, and ``HTTPDownloader`` opens its output with ``"w+b"`` and sends a plain
``requests.get`` (no Range header; extra headers would not help, the bytes already fetched are gone).
A transfer of a 170 MB archive that breaks at 90 % starts again from zero. pooch also brings
``requests`` and ``platformdirs``; this module needs only the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def open_url(url: str, timeout: float, start: int = 0) -> BinaryIO:
    """The response stream of ``url``, from byte ``start`` on where the server allows (a seam the tests
    replace). A server that ignores the range answers 200 with the whole file."""
    import urllib.request

    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) URLs we name)


ATTEMPTS = 4  # connections per download: one that breaks after some bytes is resumed where it stopped


def partial_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` waits to be resumed (never under the final name)."""
    return dest.parent / f".{dest.name}.partial"


def download(url: str, dest: Path, check: Check | None = None, timeout: float = 60.0,
             progress: Progress | None = None) -> None:
    """Download ``url`` to ``dest``: resumable, checked, then moved into place.

    The bytes go to ``.<name>.partial`` beside ``dest``. A transfer that breaks is resumed with an HTTP
    range request (up to ATTEMPTS connections; a later ``download`` resumes the same file). When the
    transfer is complete, ``check(partial)`` may raise; the partial file is then deleted, so a corrupt
    download starts afresh next time.
    """
    import fcntl

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(dest)
    with open(part, "ab") as out:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{dest.name} is being downloaded by another process") from None
        resumed = out.tell()
        for attempt in range(1, ATTEMPTS + 1):
            before = out.tell()
            try:
                _transfer(url, out, timeout, dest.name)
                break
            except (OSError, EOFError):
                if attempt == ATTEMPTS or out.tell() <= before:  # no byte came: the next mirror, not again
                    raise
        out.flush()
        os.fsync(out.fileno())
        total = out.tell()
        try:
            if check is not None:
                check(part)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.chmod(0o644)
        os.replace(part, dest)
    if progress is not None:
        again = f", resumed at {resumed / 1e6:.1f} MB" if resumed else ""
        progress(f"downloaded {dest.name} ({total / 1e6:.1f} MB{again})")


def _transfer(url: str, out: BinaryIO, timeout: float, name: str) -> None:
    """Append the rest of ``url`` to ``out`` (positioned at its end), with a progress bar on a terminal."""
    import urllib.error

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    start = out.tell()
    try:
        response = open_url(url, timeout, start) if start else open_url(url, timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not start:
            raise
        if (err.headers or {}).get("Content-Range", "") == f"bytes */{start}":  # it was all there
            return
        out.seek(0)  # the range lies past the end: what is on disk is not this file
        out.truncate()
        start, response = 0, open_url(url, timeout)
    with response:
        if start and getattr(response, "status", 200) != 206:  # the server sent the whole file again
            out.seek(0)
            out.truncate()
            start = 0
        length = getattr(response, "headers", {}).get("Content-Length")
        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        with Progress(f"[dim]{name}[/]", *columns, transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task(name, total=start + int(length) if length else None, completed=start)
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
            except OSError:
                if not length or out.tell() < start + int(length):
                    raise  # else every byte came before the connection broke
        if length and out.tell() < start + int(length):
            raise EOFError(f"{name}: the connection closed after {out.tell()} of {start + int(length)} bytes")


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
