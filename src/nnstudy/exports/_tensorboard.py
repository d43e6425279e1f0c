"""A study as TensorBoard runs: DIR/<study>/<trial id>/, written through torch.utils.tensorboard."""

from __future__ import annotations

import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package (the export's extra)

from ..errors import StudyError
from ..store import StudySnapshot
from ._trials import ExportTrial, as_text, flat

EVENT_FILES = "events.out.tfevents.*"


def write(snap: StudySnapshot, trials: list[ExportTrial], folder: Path) -> None:
    """Each trial's per-epoch metrics as scalars (step = epoch), its config, seed and status as hparams and its
    final metrics as ``final/<metric>``. Event files an earlier export left in a trial's folder are removed
    first, so that a second export replaces the first instead of doubling its points."""
    for t in trials:
        run = folder / snap.name / t.trial_id
        try:
            run.mkdir(parents=True, exist_ok=True)
            for old in run.glob(EVENT_FILES):
                old.unlink()
        except OSError as e:
            raise StudyError(f"--to tensorboard {folder}: cannot write {run} ({e.strerror})") from None
        writer = SummaryWriter(log_dir=str(run))
        try:
            for epoch, metric, value in t.history.itertuples(index=False):
                writer.add_scalar(metric, float(value), global_step=int(epoch))
            hparams = {k: as_text(v) for k, v in flat(t.config).items()}
            hparams.update(seed=t.seed, status=t.status)
            finals = {f"final/{k}": v for k, v in t.final.items() if math.isfinite(v)}
            writer.add_hparams(hparams, finals, run_name=".")
        finally:
            writer.close()
