"""Versions and device, recorded with each study run."""

from __future__ import annotations

import platform
from importlib import metadata


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
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from .errors import StudyError

        raise StudyError(f"--device {device}: no CUDA device is available here (use --device cpu or auto)")
    return device
