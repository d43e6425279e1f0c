"""nnstudy._environment: --device auto on a CPU build of torch resolves without importing torch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types

import pytest

from nnstudy import _environment

CPU = "cuda: Optional[str] = None\ngit_version = 'x'\nhip: Optional[str] = None\n"


@pytest.mark.parametrize("text, cpu", [
    (CPU, True),
    (CPU.replace("cuda: Optional[str] = None", "cuda: Optional[str] = '12.8'"), False),
    (CPU.replace("hip: Optional[str] = None", "hip: Optional[str] = '6.2.41133'"), False),
    ("cuda = None\nhip = None\n", True),  # older torch: no annotations
    ("__version__ = '9.0'\n", False),  # a layout this does not know: ask torch
    (None, False),  # no version.py
])
def test_a_cpu_build_is_told_from_its_version_file(tmp_path, monkeypatch, text, cpu):
    (tmp_path / "__init__.py").write_text("")
    if text is not None:
        (tmp_path / "version.py").write_text(text)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: types.SimpleNamespace(origin=str(tmp_path / "__init__.py")))
    assert _environment._cpu_build_of_torch() is cpu


def test_auto_resolves_without_importing_torch_where_torch_is_a_cpu_build():
    import torch

    code = ("import sys; from nnstudy._environment import resolve_device; "
            "print(resolve_device('auto'), resolve_device('cpu'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if torch.version.cuda is None and torch.version.hip is None:
        assert out == ["cpu", "cpu", "False"]
    else:  # a GPU build asks torch
        assert out[0] == ("cuda" if torch.cuda.is_available() else "cpu") and out[2] == "True"


def test_a_driver_whose_workers_train_never_imports_torch(tmp_path):
    """Its trials' conditions still name torch's version (from the package's metadata)."""
    import torch

    if torch.version.cuda is not None or torch.version.hip is not None:
        pytest.skip("a GPU build of torch: --device auto asks torch")
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "no-torch"\n[data]\nname = "moons"\nn_samples = 200\n[model]\nhidden = [8]\n'
                     '[train]\nepochs = 1\n[trials]\nseeds = 2\n')
    code = ("import sys; from nnstudy.cli import main; "
            f"code = main(['run', {str(study)!r}, '--store', {str(tmp_path / 'store')!r}, '--workers', '2', '--quiet']); "
            "print(code, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-2:] == ["0", "False"]
    from nnstudy.api import load

    snap = load("no-torch", store=tmp_path / "store").snapshot()
    assert set(snap.trials["status"]) == {"done"} and len(snap.conditions) == 2
    assert {c["torch"] for c in snap.conditions.values()} == {torch.__version__}
