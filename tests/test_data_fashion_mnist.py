"""Fashion-MNIST from small files in the real IDX format: search order, checksums, corruption."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from nnstudy import data
from nnstudy.data import _debian
from nnstudy.data import _fashion_mnist as fm
from nnstudy.data import _verify
from nnstudy.data._idx import IdxError, parse_idx
from nnstudy.errors import DataError
from nnstudy.spec._schema import DataConfig

N_TRAIN, N_TEST = 40, 20


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding, written out by hand: 0, 0, type code, ndim, big-endian dims, data."""
    code = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def make_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(N_TRAIN, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(N_TEST, dtype=np.uint8) * 3) % 10,
    }


def write_files(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for base, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{base}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / base).write_bytes(raw)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """An empty cache under NNSTUDY_DATA, an empty fake Debian folder, checksums of make_arrays()."""
    arrays = make_arrays()
    cache, debian = tmp_path / "cache", tmp_path / "debian"
    monkeypatch.setenv("NNSTUDY_DATA", str(cache))
    monkeypatch.setattr(fm, "DEBIAN_DIR", debian)
    monkeypatch.setattr(fm, "debian_dirs", lambda: [debian])
    monkeypatch.setattr(fm, "SHA256", {b: hashlib.sha256(idx_bytes(a)).hexdigest()
                                       for b, a in arrays.items()})
    fm._read_all.cache_clear()
    yield cache / "fashion-mnist", debian, arrays
    fm._read_all.cache_clear()


def load(**kw) -> data.Dataset:
    kw = {"validation": 0.0, "normalize": "none", **kw}
    return data.load(DataConfig(name="fashion-mnist", **kw))


def message(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------- IDX parser

@pytest.mark.parametrize("array", [
    np.arange(7, dtype=np.uint8),
    (np.arange(24).reshape(2, 3, 4) - 5).astype(">i4"),
    np.linspace(-1, 1, 6).astype(">f4").reshape(3, 2),
])
def test_idx_round_trip(array):
    out = parse_idx(idx_bytes(array))
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("blob,match", [
    (b"\x00\x00", "header"),
    (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 2), "header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00\x00", "needs 3 bytes"),
])
def test_idx_rejects_malformed(blob, match):
    with pytest.raises(IdxError, match=match):
        parse_idx(blob)


# ---------------------------------------------------------------- loading

@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_from_cache(fake, gz):
    cache, _, arrays = fake
    write_files(cache, arrays, gz=gz)
    assert data.locate("fashion-mnist") == str(cache)
    ds = load()
    assert ds.input_shape == (1, 28, 28) and ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    assert ds.x_train.shape == (N_TRAIN, 784) and ds.x_test.shape == (N_TEST, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, arrays["train-images-idx3-ubyte"].reshape(N_TRAIN, 784)
                                  .astype(np.float32) / np.float32(255.0))
    np.testing.assert_array_equal(np.rint(ds.x_test * 255),
                                  arrays["t10k-images-idx3-ubyte"].reshape(N_TEST, -1))
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.x_train[0, 1] * 255 == pytest.approx(float(arrays["train-images-idx3-ubyte"][0, 0, 1]))


def test_prepared_like_the_others(fake):
    cache, _, arrays = fake
    write_files(cache, arrays)
    ds = data.load(DataConfig(name="fashion-mnist", validation=0.25, classes=[9, 0]))
    assert ds.classes == ["Ankle boot", "T-shirt/top"]
    assert len(ds.y_train) + len(ds.y_val) == 8 and np.bincount(ds.y_val).tolist() == [1, 1]
    np.testing.assert_allclose(ds.x_train.astype(np.float64).mean(axis=0), 0.0, atol=1e-5)


def test_debian_folder_used_when_cache_is_empty(fake):
    _, debian, arrays = fake
    write_files(debian, arrays)
    assert data.locate("fashion-mnist") == str(debian)
    np.testing.assert_array_equal(load().y_train, arrays["train-labels-idx1-ubyte"])


def test_cache_comes_first(fake):
    cache, debian, arrays = fake
    write_files(cache, arrays)
    write_files(debian, arrays)
    assert data.locate("fashion-mnist") == str(cache)


def test_corrupt_cache_falls_back_to_a_valid_copy(fake):
    cache, debian, arrays = fake
    write_files(cache, arrays, gz=False)
    write_files(debian, arrays)
    path = cache / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1] + b"\x09")
    assert data.locate("fashion-mnist") == str(debian)


def test_missing_files(fake):
    cache, _, arrays = fake
    write_files(cache, {k: v for k, v in arrays.items() if not k.startswith("t10k-labels")})
    assert data.locate("fashion-mnist") is None
    with pytest.raises(DataError) as exc:
        load()
    msg = message(exc)
    assert "not found" in msg and "nnstudy data fetch fashion-mnist" in msg and str(cache) in msg


def test_flipped_byte_is_a_checksum_error(fake):
    cache, _, arrays = fake
    write_files(cache, arrays, gz=False)
    path = cache / "train-images-idx3-ubyte"
    blob = bytearray(path.read_bytes())
    blob[100] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert data.locate("fashion-mnist") is None
    with pytest.raises(DataError) as exc:
        load()
    msg = message(exc)
    assert str(path) in msg and "sha256" in msg and "nnstudy data fetch fashion-mnist" in msg


def test_flipped_byte_in_gzip(fake):
    cache, _, arrays = fake
    write_files(cache, arrays)
    path = cache / "train-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as exc:
        load()
    assert str(path) in message(exc) and "corrupt" in str(exc.value)


def test_truncated_gzip(fake):
    cache, _, arrays = fake
    write_files(cache, arrays)
    path = cache / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError) as exc:
        load()
    msg = message(exc)
    assert str(path) in msg and "truncated" in msg and "fetch" in msg


def test_wrong_magic_with_matching_checksum(fake, monkeypatch):
    cache, _, arrays = fake
    write_files(cache, arrays, gz=False)
    path = cache / "train-labels-idx1-ubyte"
    bad = b"\x00\x00\x99\x01" + path.read_bytes()[4:]
    path.write_bytes(bad)
    monkeypatch.setitem(fm.SHA256, "train-labels-idx1-ubyte", hashlib.sha256(bad).hexdigest())
    with pytest.raises(DataError) as exc:
        load()
    msg = message(exc)
    assert str(path) in msg and "magic" in msg


def test_images_and_labels_must_match(fake, monkeypatch):
    cache, _, arrays = fake
    arrays = {**arrays, "train-labels-idx1-ubyte": arrays["train-labels-idx1-ubyte"][:-1]}
    write_files(cache, arrays)
    monkeypatch.setitem(fm.SHA256, "train-labels-idx1-ubyte",
                        hashlib.sha256(idx_bytes(arrays["train-labels-idx1-ubyte"])).hexdigest())
    with pytest.raises(DataError, match="do not match") as exc:
        load()
    message(exc)


def test_checksums_are_remembered(fake, monkeypatch):
    cache, _, arrays = fake
    write_files(cache, arrays)
    calls = []
    real = _verify.sha256_file
    monkeypatch.setattr(_verify, "sha256_file", lambda p, label: calls.append(p) or real(p, label))
    assert data.locate("fashion-mnist") == str(cache)
    assert len(calls) == 4
    assert data.locate("fashion-mnist") == str(cache)
    load()
    assert len(calls) == 4  # stamps hit: nothing hashed again
    path = cache / "t10k-labels-idx1-ubyte.gz"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert data.locate("fashion-mnist") == str(cache)
    assert calls[4:] == [path]


def test_stamp_does_not_outlive_a_changed_checksum(fake, monkeypatch):
    cache, _, arrays = fake
    write_files(cache, arrays)
    assert data.locate("fashion-mnist") == str(cache)
    monkeypatch.setitem(fm.SHA256, "train-images-idx3-ubyte", "0" * 64)
    assert data.locate("fashion-mnist") is None


def test_parsed_arrays_are_reused(fake):
    cache, _, arrays = fake
    write_files(cache, arrays)
    a, b = load(), load()
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert fm._read_all.cache_info().hits >= 1
    a.x_train[:] = 0  # the caller owns its copy; the cached raw arrays are untouched
    assert load().x_train.max() > 0


def test_debian_dirs_asks_dpkg(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "usual")
    listing = "/usr/share/doc/dataset-fashion-mnist/changelog.Debian.gz\n/opt/fm/train-images-idx3-ubyte.gz\n"
    monkeypatch.setattr(_debian.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(_debian.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, listing, ""))
    assert fm.debian_dirs() == [tmp_path / "usual", Path("/opt/fm")]

    def broken(cmd, **kw):
        raise OSError("no dpkg")

    monkeypatch.setattr(_debian.subprocess, "run", broken)
    assert fm.debian_dirs() == [tmp_path / "usual"]
    monkeypatch.setattr(_debian.shutil, "which", lambda name: None)
    assert fm.debian_dirs() == [tmp_path / "usual"]


# ---------------------------------------------------------------- the real files, when present

def _real_dir() -> Path | None:
    from nnstudy.data._paths import cache_dir

    for folder in (cache_dir("fashion-mnist"), *fm.debian_dirs()):
        if fm._files_in(folder) is not None:
            return folder
    return None


def test_real_files_when_present():
    if _real_dir() is None:
        pytest.skip("Fashion-MNIST not in the cache or the Debian folder")
    fm._read_all.cache_clear()
    ds = data.load(DataConfig(name="fashion-mnist", validation=0.0, normalize="none"))
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0


def test_a_gzipped_file_is_decompressed_once_and_its_copy_checked_like_the_file(fake, monkeypatch):
    cache, _, arrays = fake
    write_files(cache, arrays)
    first = load()
    plain = {p.name: p for p in (cache.parent / ".plain").iterdir()}
    assert set(plain) == set(fm.SHA256.values())
    for base, sha in fm.SHA256.items():
        assert hashlib.sha256(plain[sha].read_bytes()).hexdigest() == sha == hashlib.sha256(
            idx_bytes(arrays[base])).hexdigest()

    fm._read_all.cache_clear()  # a new run: the copies are read, nothing is decompressed
    opened = []
    real = _verify.read_bytes
    monkeypatch.setattr(_verify, "read_bytes", lambda p, label: opened.append(p) or real(p, label))
    np.testing.assert_array_equal(load().x_train, first.x_train)
    assert opened == []

    sha = fm.SHA256["train-images-idx3-ubyte"]  # a copy changed after its stamp is not trusted
    st = plain[sha].stat()
    plain[sha].write_bytes(plain[sha].read_bytes()[:-1] + b"\x00")
    os.utime(plain[sha], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # past the clock's granularity
    fm._read_all.cache_clear()
    np.testing.assert_array_equal(load().x_train, first.x_train)
    assert opened == [cache / "train-images-idx3-ubyte.gz"]
    assert plain[sha].read_bytes() == idx_bytes(arrays["train-images-idx3-ubyte"])  # written again
