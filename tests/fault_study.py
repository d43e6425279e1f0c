"""The study the cluster fault tests break, an undisturbed run of it, and what they check afterwards:
no finished trial lost, none trained twice, every trial done/failed/diverged, the same report."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from nnstudy.cli import main
from nnstudy.store import resolve_url

NAME = "cluster-faults"
STUDY = f"""
[study]
name = "{NAME}"
[data]
name = "moons"
n_samples = 1200
[model]
hidden = [16]
[train]
epochs = 30
batch_size = 16
[sweep]
"train.lr" = [0.1, 0.03]
[trials]
seeds = 3
[report]
metrics = ["test_accuracy", "val_loss"]
"""
TRIALS = 6
FINAL = {"done", "failed", "diverged"}


def write_study(folder: Path, text: str = STUDY) -> Path:
    path = folder / f"{NAME}.toml"
    path.write_text(text)
    return path


def trial_rows(store: str) -> dict[str, tuple]:
    """trial id -> (status, attempts, finished_at, final metrics); {} before the tables exist."""
    engine = create_engine(resolve_url(store))
    try:
        with engine.connect() as c:
            rows = c.execute(text("SELECT trial_id, status, attempts, finished_at, final_json FROM trials")).all()
    except DBAPIError:
        return {}
    finally:
        engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}


def finished(store: str) -> dict[str, tuple]:
    return {k: v for k, v in trial_rows(store).items() if v[0] == "done"}


def tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """results.csv and trials.csv without the time columns and the conditions each trial ran under (executor,
    threads, ...)."""
    from nnstudy.report._conditions import COLUMNS

    out = []
    for name in ("results.csv", "trials.csv"):
        table = pd.read_csv(folder / name)
        out.append(table.drop(columns=[c for c in table.columns if c.startswith("train_time_s") or c in COLUMNS]))
    return out[0], out[1]


@functools.lru_cache(maxsize=None)
def reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The undisturbed run: local executor, two worker processes, SQLite."""
    folder = Path(tempfile.mkdtemp(prefix="nnstudy-reference-"))
    assert main(["run", str(write_study(folder)), "--store", str(folder / "runs"), "--workers", "2"]) == 0
    return tables(folder / "runs" / NAME)


def check_intact(store: str, before: dict[str, tuple], out: Path, broke: str) -> None:
    """After a fault and a re-run: prints what was broken and what was found, then asserts it."""
    after = trial_rows(store)
    kept = [t for t in before if after.get(t) == before[t]]
    statuses = sorted(v[0] for v in after.values())
    attempts = {t: v[1] for t, v in after.items()}
    assert main(["report", NAME, "--store", store, "--out", str(out)]) == 0
    same = all(a.equals(b) for a, b in zip(tables(out), reference()))
    print(f"\nbroke: {broke}\nfound: {len(before)} trial(s) finished before it, {len(kept)} of them untouched; "
          f"{len(after)} trials, statuses {statuses}; starts per trial {sorted(attempts.values())}; "
          f"report {'equals' if same else 'DIFFERS FROM'} an undisturbed run's")
    assert len(kept) == len(before), "a trial finished before the fault was lost or trained again"
    assert len(after) == TRIALS and set(statuses) <= FINAL
    assert all(attempts[t] == 1 for t in before)
    for got, want in zip(tables(out), reference()):
        pd.testing.assert_frame_equal(got, want)


def outputs_trained(output: str) -> list[str]:
    """The trial ids a driver's output says it trained ("done <id> ...")."""
    return [line.split()[1] for line in output.splitlines() if line.startswith(("done ", "diverged "))]
