"""What the search reads back from the store while it runs: final metrics and per-epoch curves of a few
trials (a snapshot would read every trial's history and artifacts each time)."""

from __future__ import annotations

import json
import math

from sqlalchemy import select

from ..store import Store
from ..store import _schema as s
from ..store._retry import retrying


def finals(db: Store, study: str, metric: str) -> dict[str, tuple[str, float]]:
    """trial id -> (status, the metric's final value or NaN), for the study's done and diverged trials."""
    t = s.trials.c

    def read() -> list:
        with db.engine.begin() as c:
            return c.execute(select(t.trial_id, t.status, t.final_json).join(s.studies, s.studies.c.id == t.study_id)
                             .where(s.studies.c.name == study, t.status.in_(("done", "diverged")))).all()

    rows = retrying(read, db.url, "finals")  # another driver's write: waited for, as every store read
    out = {}
    for r in rows:
        value = json.loads(r.final_json or "{}").get(metric)
        out[r.trial_id] = (r.status, math.nan if value is None else float(value))
    return out


def done_values(trial_ids, stored: dict[str, tuple[str, float]]) -> dict[str, float]:
    """trial id -> final metric of the given trials that ended ``done`` with a finite value: the seeds the
    report's results table averages. A failed or diverged seed is left out, never averaged in (a diverged
    seed's last metric is that of a model that blew up)."""
    return {i: stored[i][1] for i in trial_ids if i in stored and stored[i][0] == "done" and math.isfinite(stored[i][1])}


def curves(db: Store, study: str, trial_ids: list[str], metric: str) -> dict[str, dict[int, float]]:
    """trial id -> {epoch: the metric} for the given trials."""
    t, e = s.trials.c, s.epochs.c

    def read() -> list:
        with db.engine.begin() as c:
            return c.execute(select(t.trial_id, e.epoch, e.value).join(s.trials, s.trials.c.id == e.trial_pk)
                             .join(s.studies, s.studies.c.id == t.study_id)
                             .where(s.studies.c.name == study, t.trial_id.in_(trial_ids), e.metric == metric)).all()

    rows = retrying(read, db.url, "curves")
    out: dict[str, dict[int, float]] = {tid: {} for tid in trial_ids}
    for r in rows:
        out[r.trial_id][int(r.epoch)] = math.nan if r.value is None else float(r.value)
    return out
