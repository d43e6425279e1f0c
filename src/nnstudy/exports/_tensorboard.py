"""A study as TensorBoard runs: DIR/<study>/<trial id>/, written through torch.utils.tensorboard."""

from __future__ import annotations

import json
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package (the export's extra)

from ..errors import StudyError
from ..store import StudySnapshot
from ._trials import ExportTrial, as_text, condition_items, flat

EVENT_FILES = "events.out.tfevents.*"


def write(snap: StudySnapshot, trials: list[ExportTrial], folder: Path) -> None:
    """Each trial's per-epoch metrics as scalars (step = epoch), its config, seed, status and conditions as
    hparams, its final metrics as ``final/<metric>`` and its conditions as the text ``conditions`` too. Event
    files an earlier export left in a trial's folder are removed first, so that a second export replaces the
    first instead of doubling its points."""
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
            hparams.update(seed=t.seed, status=t.status, **{k: as_text(v) for k, v in condition_items(t).items()})
            finals = {f"final/{k}": v for k, v in t.final.items() if math.isfinite(v)}
            writer.add_hparams(hparams, finals, run_name=".")
            if t.conditions:  # JSON as a Markdown code block (indented): shown as it is, whatever it holds
                text = json.dumps(t.conditions, indent=2, sort_keys=True)
                writer.add_text("conditions", "\n".join("    " + line for line in text.splitlines()))
        finally:
            writer.close()
