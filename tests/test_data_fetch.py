"""Fetching into the cache, with no network: atomic writes, the Debian path, the download path."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import subprocess
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from nnstudy import data
from nnstudy.data import _fashion_mnist as fm
from nnstudy.data import _fetch, _verify
from nnstudy.errors import DataError
from nnstudy.spec._schema import DataConfig



def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 array in the IDX format: 0, 0, 0x08, ndim, big-endian dims, data."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def make_arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"train-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": rng.integers(0, 10, 30, dtype=np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, 10, dtype=np.uint8)}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty cache, no Debian copy, checksums of make_arrays(); returns the gz bytes per file."""
    arrays = make_arrays(seed=1)
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "debian_dirs", lambda: [tmp_path / "no-debian"])
    monkeypatch.setattr(fm, "SHA256", {b: hashlib.sha256(idx_bytes(a)).hexdigest()
                                       for b, a in arrays.items()})
    fm._read_all.cache_clear()
    yield {b: gzip.compress(idx_bytes(a)) for b, a in arrays.items()}
    fm._read_all.cache_clear()


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders of a fetch that should be gone."""
    return sorted(p.name for p in folder.rglob("*")
                  if p.name.endswith(".part") or p.name.startswith(".fetch-"))


class FakeResponse(io.BytesIO):
    def __init__(self, blob: bytes, fail_after: int | None = None):
        super().__init__(blob)
        self.fail_after = fail_after

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset")
        return super().read(n)


def fake_apt(gz: dict[str, bytes], fail: str = ""):
    """A subprocess.run stand-in for `apt-get download` and `dpkg-deb -x`."""
    calls: list[list[str]] = []

    def run(cmd, cwd=None, **kw):
        calls.append(list(cmd))
        if cmd[0] == fail:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package\n")
        if cmd[:2] == ["apt-get", "download"]:
            (Path(cwd) / f"{cmd[2]}_0.0.1-2_all.deb").write_bytes(b"!<arch>\n")
        elif cmd[:2] == ["dpkg-deb", "-x"]:
            share = Path(cmd[3]) / "usr/share/datasets/fashion-mnist"
            share.mkdir(parents=True)
            for base, blob in gz.items():
                (share / f"{base}.gz").write_bytes(blob)
        return subprocess.CompletedProcess(cmd, 0, "", "W: harmless warning\n")

    return run, calls


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_failure_leaves_nothing(tmp_path):
    dest = tmp_path / "f.bin"

    def write(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        _fetch.atomic_write(dest, write)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_atomic_write_keeps_the_old_file_when_the_check_fails(tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old")

    def reject(part: Path) -> None:
        assert part.read_bytes() == b"new" and part.parent == dest.parent
        raise DataError("bad checksum")

    with pytest.raises(DataError):
        _fetch.atomic_write(dest, lambda f: f.write(b"new"), reject)
    assert dest.read_bytes() == b"old" and leftovers(tmp_path) == []
    _fetch.atomic_write(dest, lambda f: f.write(b"new"))
    assert dest.read_bytes() == b"new" and leftovers(tmp_path) == []


class RangeServer:
    """Serves `blob`, honouring `Range: bytes=N-` (206) unless `ranges` is False; each connection
    breaks after `per_connection` bytes."""

    def __init__(self, blob: bytes, per_connection: int | None, ranges: bool = True):
        self.blob, self.per_connection, self.ranges = blob, per_connection, ranges
        self.starts: list[int] = []

    def __call__(self, url, timeout, start=0):
        start = start if self.ranges else 0
        self.starts.append(start)
        if start >= len(self.blob):
            raise urllib.error.HTTPError(url, 416, "Range Not Satisfiable",
                                         {"Content-Range": f"bytes */{len(self.blob)}"}, None)
        r = FakeResponse(self.blob[start:], self.per_connection)
        r.status = 206 if start else 200
        r.headers = {"Content-Length": str(len(self.blob) - start)}
        return r


BLOB = bytes(range(256)) * 4000  # 1 MB, read in chunks of 64 kiB


def test_a_broken_transfer_resumes_where_it_stopped(tmp_path, monkeypatch):
    server = RangeServer(BLOB, 300_000)  # each connection breaks after 5 chunks
    monkeypatch.setattr(_fetch, "open_url", server)
    lines: list[str] = []
    _fetch.download("http://example.invalid/f.gz", tmp_path / "f.gz", progress=lines.append)
    assert (tmp_path / "f.gz").read_bytes() == BLOB
    assert server.starts == [0, 327_680, 655_360, 983_040]  # each resumes at the bytes already on disk
    assert not _fetch.partial_path(tmp_path / "f.gz").exists() and leftovers(tmp_path) == []


def test_an_interrupted_download_is_resumed_by_the_next_fetch(tmp_path, monkeypatch):
    dest = tmp_path / "sub" / "f.gz"
    monkeypatch.setattr(_fetch, "open_url", RangeServer(BLOB, 30_000))
    with pytest.raises(ConnectionResetError):  # 4 connections of one chunk each, then it gives up
        _fetch.download("http://example.invalid/f.gz", dest)
    part = _fetch.partial_path(dest)
    assert not dest.exists() and part.read_bytes() == BLOB[:4 * 65_536]
    server = RangeServer(BLOB, None)
    monkeypatch.setattr(_fetch, "open_url", server)
    lines: list[str] = []
    _fetch.download("http://example.invalid/f.gz", dest, progress=lines.append)
    assert dest.read_bytes() == BLOB and server.starts == [4 * 65_536] and not part.exists()
    assert lines == ["downloaded f.gz (1.0 MB, resumed at 0.3 MB)"]


def test_a_complete_partial_file_is_not_fetched_again(tmp_path, monkeypatch):
    dest = tmp_path / "f.gz"
    _fetch.partial_path(dest).write_bytes(BLOB)  # killed between the last byte and the check
    server = RangeServer(BLOB, None)
    monkeypatch.setattr(_fetch, "open_url", server)
    _fetch.download("http://example.invalid/f.gz", dest)
    assert dest.read_bytes() == BLOB and server.starts == [len(BLOB)]  # answered 416: all there


def test_a_server_without_ranges_starts_over(tmp_path, monkeypatch):
    dest = tmp_path / "f.gz"
    _fetch.partial_path(dest).write_bytes(b"junk that is not the start of the file")
    monkeypatch.setattr(_fetch, "open_url", RangeServer(BLOB, None, ranges=False))
    _fetch.download("http://example.invalid/f.gz", dest)
    assert dest.read_bytes() == BLOB
    _fetch.partial_path(dest).write_bytes(BLOB + b"more than the file has")
    server = RangeServer(BLOB, None)
    monkeypatch.setattr(_fetch, "open_url", server)
    _fetch.download("http://example.invalid/f.gz", dest)  # 416 for another length: start over
    assert dest.read_bytes() == BLOB and server.starts == [len(BLOB) + 22, 0]


def test_a_download_that_fails_its_check_is_deleted(tmp_path, monkeypatch):
    dest = tmp_path / "f.gz"
    monkeypatch.setattr(_fetch, "open_url", RangeServer(BLOB, None))

    def reject(part: Path) -> None:
        assert part.read_bytes() == BLOB
        raise DataError("sha256 mismatch")

    with pytest.raises(DataError):
        _fetch.download("http://example.invalid/f.gz", dest, check=reject)
    assert not dest.exists() and not _fetch.partial_path(dest).exists()


def test_a_refused_connection_is_not_retried(tmp_path, monkeypatch):
    asked = []

    def refuse(url, timeout, start=0):
        asked.append(start)
        raise OSError("connection refused")

    monkeypatch.setattr(_fetch, "open_url", refuse)
    with pytest.raises(OSError):
        _fetch.download("http://example.invalid/f.gz", tmp_path / "f.gz")
    assert asked == [0]  # the caller moves on to its next mirror


def test_download_writes_the_file(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(_fetch, "open_url",
                        lambda url, timeout: seen.append((url, timeout)) or FakeResponse(b"abc" * 50_000))
    lines: list[str] = []
    _fetch.download("http://example.invalid/f", tmp_path / "f", timeout=5, progress=lines.append)
    assert (tmp_path / "f").read_bytes() == b"abc" * 50_000
    assert seen == [("http://example.invalid/f", 5)] and lines and leftovers(tmp_path) == []


def test_run_reports_the_last_line(tmp_path, monkeypatch):
    run, _ = fake_apt({}, fail="apt-get")
    monkeypatch.setattr(_fetch.subprocess, "run", run)
    with pytest.raises(RuntimeError, match="Unable to locate package"):
        _fetch.run(["apt-get", "download", "x"], cwd=tmp_path, timeout=5)


# ---------------------------------------------------------------- fetch("fashion-mnist")

def test_fetch_from_the_debian_package(env, monkeypatch, tmp_path):
    run, calls = fake_apt(env)
    monkeypatch.setattr(_fetch, "tool_available", lambda name: True)
    monkeypatch.setattr(_fetch.subprocess, "run", run)
    monkeypatch.setattr(_fetch, "open_url", lambda *a: pytest.fail("no download expected"))
    lines: list[str] = []
    where = data.fetch("fashion-mnist", progress=lines.append)
    cache = tmp_path / "cache" / "fashion-mnist"
    assert where == str(cache) == data.locate("fashion-mnist")
    assert [c[:2] for c in calls] == [["apt-get", "download"], ["dpkg-deb", "-x"]]
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{b}.gz" for b in env)
    assert leftovers(tmp_path) == [] and any("Debian" in line for line in lines)
    ds = data.load(DataConfig(name="fashion-mnist", validation=0.0, normalize="none"))
    np.testing.assert_array_equal(ds.y_train, make_arrays(seed=1)["train-labels-idx1-ubyte"])
    assert data.fetch("fashion-mnist") == str(cache) and len(calls) == 2  # already there


def test_fetched_files_are_stamped(env, monkeypatch):
    run, _ = fake_apt(env)
    monkeypatch.setattr(_fetch, "tool_available", lambda name: True)
    monkeypatch.setattr(_fetch.subprocess, "run", run)
    where = data.fetch("fashion-mnist")
    monkeypatch.setattr(_verify, "sha256_file", lambda *a: pytest.fail("hashed again"))
    assert data.locate("fashion-mnist") == where


def test_fetch_falls_back_to_download(env, monkeypatch, tmp_path):
    monkeypatch.setattr(_fetch, "tool_available", lambda name: name != "apt-get")
    urls = []

    def open_url(url, timeout):
        urls.append(url)
        return FakeResponse(env[url.rsplit("/", 1)[1].removesuffix(".gz")])

    monkeypatch.setattr(_fetch, "open_url", open_url)
    where = data.fetch("fashion-mnist")
    assert where == str(tmp_path / "cache" / "fashion-mnist") == data.locate("fashion-mnist")
    assert [u.removeprefix(fm.URL_BASE) for u in urls] == [f"{b}.gz" for b in fm.SHA256]
    assert leftovers(tmp_path) == []


def test_corrupt_package_falls_back_to_download(env, monkeypatch, tmp_path):
    broken = {**env, "t10k-labels-idx1-ubyte": gzip.compress(b"not idx")}
    run, _ = fake_apt(broken)
    monkeypatch.setattr(_fetch, "tool_available", lambda name: True)
    monkeypatch.setattr(_fetch.subprocess, "run", run)
    monkeypatch.setattr(_fetch, "open_url", lambda url, timeout:
                        FakeResponse(env[url.rsplit("/", 1)[1].removesuffix(".gz")]))
    assert data.fetch("fashion-mnist") == data.locate("fashion-mnist")


def test_fetch_fails_with_one_line(env, monkeypatch, tmp_path):
    run, _ = fake_apt(env, fail="apt-get")
    monkeypatch.setattr(_fetch, "tool_available", lambda name: True)
    monkeypatch.setattr(_fetch.subprocess, "run", run)

    def offline(url, timeout):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(_fetch, "open_url", offline)
    with pytest.raises(DataError) as exc:
        data.fetch("fashion-mnist")
    msg = str(exc.value)
    assert "\n" not in msg and "Unable to locate package" in msg and "name resolution" in msg
    assert data.locate("fashion-mnist") is None and leftovers(tmp_path) == []
    assert not any((tmp_path / "cache" / "fashion-mnist").glob("*.gz"))


def test_download_with_wrong_checksum_is_not_kept(env, monkeypatch, tmp_path):
    monkeypatch.setattr(_fetch, "tool_available", lambda name: False)
    monkeypatch.setattr(_fetch, "open_url",
                        lambda url, timeout: FakeResponse(gzip.compress(b"\0\0\x08\x01")))
    with pytest.raises(DataError, match="sha256"):
        data.fetch("fashion-mnist")
    assert not any((tmp_path / "cache" / "fashion-mnist").glob("*.gz")) and leftovers(tmp_path) == []


def test_no_tools_no_apt(tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "tool_available", lambda name: name == "apt-get")
    with pytest.raises(RuntimeError, match="dpkg-deb not available"):
        _fetch.unpack_deb("dataset-fashion-mnist", tmp_path)
