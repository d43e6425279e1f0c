"""`nnstudy export`: a study's trials to where people already look, read from the store (never written).

- ``tensorboard DIR``: one run per trial, ``DIR/<study>/<trial id>/`` (torch.utils.tensorboard): every per-epoch
  metric as a scalar at step = epoch; the resolved config (flattened), the seed, the status and the conditions
  (``conditions.device``, ``conditions.threads``, ...) as hparams, with the final metrics as ``final/<metric>``;
  the conditions also as the text ``conditions`` (JSON). A second export replaces the study's event files.
- ``mlflow URI``: in the experiment ``nnstudy``, one parent run per study and one run per trial under it
  (MLflow's own client): params = the resolved config flattened (dotted keys), metrics per epoch with
  step = epoch, final metrics as ``final/<metric>``, tags ``nnstudy.study`` / ``nnstudy.trial_id`` /
  ``nnstudy.status`` and one ``nnstudy.conditions.<key>`` per condition the trial ran under (device, threads,
  host, nnstudy, torch, python, executor, ...). A second export deletes the study's earlier runs first.
- ``parquet FILE``: the long history, one row per (trial, epoch, metric): study, trial_id, seed, status, one
  column per config key (dotted), one per condition (``conditions.device``, ...), epoch, metric, value;
  written to a temporary file, then moved into place.

Pending trials (not started) have nothing to export and are left out. Bad input (an unknown study, a target
that cannot be written, a missing extra): StudyError, one line, before anything is written.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from .._paths import unusable
from .._text import cap
from ..errors import StudyError
from ..store import Store
from ._trials import read_trials

TARGETS = ("tensorboard", "mlflow", "parquet")
WHERE = {"tensorboard": "a folder", "mlflow": "a tracking URI", "parquet": "a file"}
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow-skinny (or mlflow)", "parquet": "pyarrow"}


@dataclass
class Exported:
    study: str
    to: str  # tensorboard | mlflow | parquet
    where: str  # the folder, tracking URI or file written
    trials: int  # trials exported (those that started)
    values: int  # per-epoch metric values exported


def export(name: str, to: str, where: str | Path, store: str | Path | None = None) -> Exported:
    """Export the study `name` of the store to `to` (tensorboard, mlflow or parquet) at `where` (a folder, a
    tracking URI, a file)."""
    if to not in TARGETS:
        raise StudyError(f"--to {to}: choose one of {', '.join(TARGETS)}")
    where = str(where)
    if not where.strip():
        raise StudyError(f"--to {to}: empty: name {WHERE[to]}")
    target = Path(where).expanduser()
    why = None if to == "mlflow" else unusable(target)
    if why:
        raise StudyError(f"--to {to} {cap(where, 80)}: {why}")
    if to == "parquet" and (kind := not_a_file(target)):  # /dev/null: the file is replaced, never written in
        raise StudyError(f"--to parquet {where}: {kind}; name a file to write")
    writer = _writer(to)
    db = Store(store, create=False)
    snap, trials = read_trials(db, name)
    if to == "mlflow":
        writer(snap, trials, where)
    else:
        target = Path(where).expanduser()
        folder_ready(target if to == "tensorboard" else target.parent, f"--to {to} {where}")
        writer(snap, trials, target)
    return Exported(snap.name, to, where, len(trials), sum(len(t.history) for t in trials))


def _writer(to: str):
    """The target's writer; its missing package: one line naming the extra."""
    try:
        if to == "tensorboard":
            from ._tensorboard import write
        elif to == "mlflow":
            from ._mlflow import write
        else:
            from ._parquet import write
    except ImportError as e:
        missing = f" ({e.name} is missing)" if e.name else ""
        raise StudyError(f"--to {to} needs the {PACKAGES[to]} package{missing}: pip install 'nnstudy[export]'"
                         ) from None
    return write


def folder_ready(folder: Path, label: str) -> None:
    """Create the folder (and those above it) or say in one line why it cannot be written."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise StudyError(f"{label}: {p} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StudyError(f"{label}: cannot create {folder} ({e.strerror})") from None
    probe = folder / ".nnstudy-export-probe"
    try:
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise StudyError(f"{label}: cannot write in {folder} ({e.strerror})") from None


__all__ = ["export", "Exported", "TARGETS"]


def not_a_file(path: Path) -> str | None:
    """Why `path`, which exists, is no file to replace by a new one (a folder, a device, a FIFO), or None."""
    try:
        mode = path.stat().st_mode
    except OSError:  # nothing there yet (or a dangling link): written anew
        return None
    if stat.S_ISREG(mode):
        return None
    return "a folder, not a file" if stat.S_ISDIR(mode) else "a device or pipe, not a regular file"
