"""Files a study names live in the cache by sha256: any machine with the bytes finds them from a config."""

import hashlib

import pytest

from nnstudy import _userfiles as uf


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_keep_and_load_object_by_sha(tmp_path):
    code = tmp_path / "net.py"
    code.write_text("WIDTH = 3\n\ndef make(k):\n    return k * WIDTH\n")
    sha = uf.resolve_ref("net.py:make", tmp_path)
    assert sha == hashlib.sha256(code.read_bytes()).hexdigest()
    code.write_text("WIDTH = 5\n")  # the cached copy is what runs, not the file edited afterwards
    assert uf.load_object("net.py:make", sha)(2) == 6
    assert uf.load_object("net.py:WIDTH", sha) == 3
    with pytest.raises(ValueError, match="has no 'nope'"):
        uf.load_object("net.py:nope", sha)


def test_two_versions_of_one_file_live_side_by_side(tmp_path):
    (tmp_path / "f.py").write_text("X = 1\n")
    a = uf.resolve_ref("f.py:X", tmp_path)
    (tmp_path / "f.py").write_text("X = 2\n")
    b = uf.resolve_ref("f.py:X", tmp_path)
    assert a != b
    assert (uf.load_object("f.py:X", a), uf.load_object("f.py:X", b)) == (1, 2)


@pytest.mark.parametrize("ref", ["net.py", "net:Net", "net.py:", "net.py:1x", ":Net", 3])
def test_bad_reference_is_one_line(ref):
    with pytest.raises(ValueError, match="is not FILE.py:NAME"):
        uf.split_ref(ref)


def test_missing_file_and_missing_cache_entry(tmp_path):
    with pytest.raises(ValueError, match="no such file 'gone.py'"):
        uf.resolve_ref("gone.py:f", tmp_path)
    with pytest.raises(ValueError, match="not in this machine's cache"):
        uf.load_object("gone.py:f", "0" * 64)


def test_files_travel_by_sha_and_are_checked(tmp_path, cache, monkeypatch):
    (tmp_path / "train.py").write_text("def train(config, seed, data, report):\n    return {}\n")
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    sha_code = uf.resolve_ref("train.py:train", tmp_path)
    sha_data = uf.keep(tmp_path / "d.csv")
    config = {"data": {"name": "file", "path": "d.csv", "sha256": sha_data},
              "train": {"function": "train.py:train", "function_sha256": sha_code, "lr": 0.1}}
    assert sorted(uf.named_shas(config)) == sorted([sha_code, sha_data])
    assert uf.code_refs(config) == [("train.py:train", sha_code)]
    assert uf.code_line([config, config]) == f"runs code from the study's files: train.py:train (sha256 {sha_code[:12]})"
    assert uf.code_line([{"train": {"lr": 0.1}}]) is None
    sent = uf.trial_files([config])
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "other-machine"))
    assert not uf.cached(sha_code).exists()
    uf.install(sent)
    assert uf.cached(sha_data).read_text() == "a,b\n1,2\n"
    with pytest.raises(ValueError, match="other contents"):
        uf.install({sha_code: b"tampered"})
