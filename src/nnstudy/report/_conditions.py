"""The conditions each trial ran under (store v3: device, threads, host, versions), as trials.csv columns, and
the report's warning when a timing metric mixes trials run under different ones."""

from __future__ import annotations

import pandas as pd

from ..store._snapshot import StudySnapshot

# trials.csv column -> key of the stored conditions (executor/_threads.conditions)
COLUMNS = {"device": "device", "threads": "threads", "host": "host", "nnstudy_version": "nnstudy",
           "torch_version": "torch", "executor": "executor", "stacked": "stacked"}
DIFFERING = ("device", "threads", "host")  # what makes timings incomparable (versions matter less)
TIMING_METRICS = ("train_time_s",)  # and every metric named *_time_s


def condition_columns(snap: StudySnapshot, trial_ids: list[str]) -> pd.DataFrame:
    """One row per trial id, the COLUMNS (empty cells for a trial stored without them); no columns at all when
    no trial of the study has them (a store from before v3)."""
    if not any(tid in snap.conditions for tid in trial_ids):
        return pd.DataFrame(index=range(len(trial_ids)))
    rows = [{col: snap.conditions.get(tid, {}).get(key) for col, key in COLUMNS.items()} for tid in trial_ids]
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("threads", "stacked"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    return out


def mixed_timing_line(snap: StudySnapshot, metrics: list[str]) -> str:
    """One sentence when a timing metric of the report compares trials run under different device, threads or
    host; "" otherwise."""
    timed = [m for m in metrics if m in TIMING_METRICS or m.endswith("_time_s")]
    if not timed or snap.trials is None or "status" not in snap.trials:
        return ""
    done = snap.trials.loc[snap.trials["status"] == "done", "trial_id"]
    seen = {k: {str(snap.conditions[t].get(k)) for t in done if t in snap.conditions} for k in DIFFERING}
    mixed = {k: sorted(v) for k, v in seen.items() if len(v) > 1}
    if not mixed:
        return ""
    what = "; ".join(f"{k} {', '.join(v)}" for k, v in mixed.items())
    return (f"Warning: {', '.join(timed)} mixes trials run under different conditions ({what}); compare its times "
            f"with care (trials.csv has each trial's).")
