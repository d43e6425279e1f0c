"""mnist / kmnist (IDX), cifar10 (python pickle batches in the official archive) from small files in the
real formats, and mnist1d generated offline."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from nnstudy import data
from nnstudy.data import _cifar10, _fetch, _mnist
from nnstudy.errors import DataError
from nnstudy.spec._schema import DataConfig

from test_data_fashion_mnist import idx_bytes, make_arrays


def gz_files(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {f"{base}.gz": gzip.compress(idx_bytes(a), mtime=0) for base, a in arrays.items()}


@pytest.fixture
def idx_sources(tmp_path, monkeypatch):
    """An empty cache, and mnist published (in tests) as make_arrays() with its sha256 sums."""
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    files = gz_files(make_arrays())
    monkeypatch.setitem(_mnist.SOURCES, "mnist", (("https://a.example/", "https://b.example/"),
                                                  {f: hashlib.sha256(b).hexdigest() for f, b in files.items()}))
    return files


def serve(monkeypatch, files: dict[str, bytes], broken: str = "https://a.example/"):
    asked = []

    def open_url(url, timeout):
        asked.append(url)
        if url.startswith(broken):
            raise OSError("connection refused")
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(_fetch, "open_url", open_url)
    return asked


def test_mnist_fetch_tries_the_next_mirror_then_loads(idx_sources, monkeypatch, tmp_path):
    asked = serve(monkeypatch, idx_sources)
    assert data.locate("mnist") is None
    with pytest.raises(DataError, match="nnstudy data fetch mnist"):
        data.load(DataConfig(name="mnist"))
    where = data.fetch("mnist")
    assert where == str(tmp_path / "cache" / "mnist") == data.locate("mnist")
    assert len(asked) == 8 and asked[1] == "https://b.example/train-images-idx3-ubyte.gz"
    ds = data.load(DataConfig(name="mnist", validation=0.0, normalize="none"))
    arrays = make_arrays()
    assert ds.input_shape == (1, 28, 28) and ds.x_train.shape == (40, 784)
    np.testing.assert_allclose(np.sort(ds.x_test.sum(1)),
                               np.sort(arrays["t10k-images-idx3-ubyte"].reshape(20, -1).sum(1) / 255.0), rtol=1e-5)
    assert sorted(ds.y_train.tolist()) == sorted((np.arange(40) % 10).tolist())
    plain = tmp_path / "cache" / ".plain"  # each file kept decompressed, named by its published sha256
    assert {p.name: p.read_bytes() for p in plain.iterdir()} == {
        hashlib.sha256(b).hexdigest(): gzip.decompress(b) for b in idx_sources.values()}
    asked.clear()
    data.fetch("mnist")  # everything valid: nothing downloaded
    assert asked == []


def test_mnist_corrupt_file_is_reported_and_refetched_alone(idx_sources, monkeypatch, tmp_path):
    asked = serve(monkeypatch, idx_sources, broken="none")
    data.fetch("mnist")
    bad = tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"\x1f\x8b broken")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is corrupt .*fetch mnist"):
        data.load(DataConfig(name="mnist"))
    asked.clear()
    data.fetch("mnist")
    assert asked == ["https://a.example/t10k-labels-idx1-ubyte.gz"]
    assert data.load(DataConfig(name="mnist", validation=0.0)).y_test.shape == (20,)


def test_mnist_download_that_fails_its_checksum_leaves_no_file(idx_sources, monkeypatch, tmp_path):
    wrong = {f: gzip.compress(b"not idx") for f in idx_sources}
    serve(monkeypatch, wrong, broken="none")
    with pytest.raises(DataError, match="fetch of train-images-idx3-ubyte.gz failed.*sha256"):
        data.fetch("mnist")
    assert not any((tmp_path / "cache" / "mnist").iterdir())


def cifar_archive(n: int = 6, pickled_extra: object = None) -> tuple[bytes, list]:
    rng = np.random.default_rng(0)
    batches = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in (*_cifar10.TRAIN_BATCHES, _cifar10.TEST_BATCH):
            d = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * n}
            if pickled_extra is not None:
                d[b"extra"] = pickled_extra
            blob = pickle.dumps(d, protocol=2)
            batches.append(d)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue(), batches


def install_cifar(tmp_path, monkeypatch, archive: bytes):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "cifar10"
    folder.mkdir(parents=True)
    (folder / _cifar10.ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(_cifar10, "SHA256", hashlib.sha256(archive).hexdigest())
    _cifar10._read_archive.cache_clear()


def test_cifar10_reads_the_pickled_batches_of_the_archive(tmp_path, monkeypatch):
    archive, batches = cifar_archive()
    install_cifar(tmp_path, monkeypatch, archive)
    assert data.locate("cifar10") == str(tmp_path / "cache" / "cifar10")
    ds = data.load(DataConfig(name="cifar10", validation=0.0, normalize="none"))
    assert ds.input_shape == (3, 32, 32) and ds.x_train.shape == (30, 3072) and ds.x_test.shape == (6, 3072)
    np.testing.assert_allclose(ds.x_test, batches[-1][b"data"] / np.float32(255.0), rtol=1e-6)
    assert ds.y_test.tolist() == batches[-1][b"labels"]
    assert ds.classes[3] == "cat"


class Boom:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def test_cifar10_unpickler_refuses_any_other_global(tmp_path, monkeypatch):
    archive, _ = cifar_archive(pickled_extra=Boom())
    install_cifar(tmp_path, monkeypatch, archive)
    with pytest.raises(DataError, match="not a CIFAR-10 batch .*is not allowed"):
        data.load(DataConfig(name="cifar10"))


def test_cifar10_archive_with_another_checksum_is_corrupt(tmp_path, monkeypatch):
    archive, _ = cifar_archive()
    install_cifar(tmp_path, monkeypatch, archive)
    monkeypatch.setattr(_cifar10, "SHA256", "0" * 64)
    assert data.locate("cifar10") is None
    with pytest.raises(DataError, match="sha256 mismatch"):
        data.load(DataConfig(name="cifar10"))


def test_mnist1d_is_generated_offline_from_the_split_seed(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("mnist1d must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    state = np.random.get_state()[1].copy()
    a = data.load(DataConfig(name="mnist1d", validation=0.0))
    assert np.array_equal(np.random.get_state()[1], state)  # numpy's global generator left as it was
    assert a.input_shape == (1, 40) and a.x_train.shape == (4000, 40) and a.x_test.shape == (1000, 40)
    assert np.bincount(a.y_train, minlength=10).min() > 300
    b = data.load(DataConfig(name="mnist1d", validation=0.0, split_seed=1))
    assert not np.allclose(a.x_test, b.x_test)
