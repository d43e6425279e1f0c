"""Versions and device, recorded with each study run."""

from __future__ import annotations

import importlib.util
import platform
import re
from importlib import metadata
from pathlib import Path


def environment(device: str) -> dict[str, str]:
    env = {"python": platform.python_version(), "platform": platform.platform(terse=True), "device": device}
    for pkg in ("nnstudy", "torch", "numpy", "scikit-learn"):
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "not installed"
    if device.startswith("cuda"):
        import torch

        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def resolve_device(device: str) -> str:
    if device == "cpu" or (device == "auto" and _cpu_build_of_torch()):
        return "cpu"  # without importing torch: a second, which a driver whose workers train need not spend
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from .errors import StudyError

        raise StudyError(f"--device {device}: no CUDA device is available here (use --device cpu or auto)")
    return device


def _cpu_build_of_torch() -> bool:
    """True when the installed torch is built for neither CUDA nor ROCm (its version.py says cuda = None and
    hip = None), so no GPU can be available; read from the file, without importing torch."""
    try:
        spec = importlib.util.find_spec("torch")
        text = (Path(spec.origin).parent / "version.py").read_text() if spec and spec.origin else ""
    except (OSError, ValueError, ImportError):
        return False
    return all(re.search(rf"^{name}\b[^=\n]*=\s*None\s*$", text, re.M) for name in ("cuda", "hip"))
