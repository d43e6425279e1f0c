"""What the dashboard shows, as plain data (the JSON endpoints) read from the store: never written to it."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..report._stats import analyze, epoch_curve
from ..store import Store
from ..store._store import store_dir

CURVE_METRICS = ("train_loss", "val_loss", "val_accuracy", "val_rmse", "val_mse")  # in this order, where stored
NOT_CURVES = ("lr", "time_s")
FIGURE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.png$")


def plain(v: Any) -> Any:
    """A value JSON can hold: NumPy scalars as Python ones, NaN / inf / missing as None."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    return v


def studies(store: Store) -> list[dict[str, Any]]:
    """Every study with its counts, its progress (finished / total) and its variants' parent."""
    parents = store.parents()
    epochs: dict[str, list[int]] = {}
    for t in store.running():
        epochs.setdefault(t["study"], []).append(t["epoch"])
    out = []
    for r in store.studies():
        finished = r["done"] + r["failed"] + r["diverged"]
        out.append(dict(r, finished=finished, progress=finished / r["total"] if r["total"] else 0.0,
                        parent=parents.get(r["name"]), running_epochs=epochs.get(r["name"], [])))
    return plain(out)


def study(store: Store, name: str, now: datetime | None = None) -> dict[str, Any]:
    """One study: counts, the results table (results.csv's rows: report.summarize), learning curves (mean and SE
    over the done and running trials of each configuration, so far), running trials with epoch and ETA, failed
    and diverged trials with their errors, and the report's figures where written."""
    snap = store.snapshot(name, artifacts=False)
    a = analyze(snap)
    row = next((r for r in studies(store) if r["name"] == name), None)
    counts = {k: row[k] for k in ("done", "failed", "diverged", "running", "pending", "total")} if row else {}
    return plain({
        "name": snap.name, "description": snap.description, "task": snap.task, "metrics": snap.metrics,
        "swept_keys": snap.swept_keys, "created_at": snap.created_at, "updated_at": snap.updated_at,
        "counts": counts, "progress": row["progress"] if row else 0.0,
        "results": a.summary.to_dict(orient="records"), "best": a.best,
        "labels": a.labels, "curves": curves(a),
        "running": running(store, name, a, now or datetime.now(timezone.utc)),
        "problems": problems(a),
        "figures": figures(store, name),
    })


def curves(a) -> dict[str, list[dict[str, Any]]]:
    """metric -> one curve per configuration that has stored epochs: epoch, mean, sem, n (trials at that epoch)."""
    hist = a.snap.history
    if hist is None or hist.empty:
        return {}
    live = a.trials[a.trials["status"].isin(["done", "running"])]
    hist = hist[hist["trial_id"].isin(live["trial_id"])]
    present = set(hist["metric"])
    chosen = [m for m in CURVE_METRICS if m in present][:3] or sorted(
        m for m in present if m not in NOT_CURVES and not m.startswith("grad_norm/"))[:2]
    out: dict[str, list[dict[str, Any]]] = {}
    for metric in chosen:
        lines = []
        for i, label in enumerate(a.labels):
            ids = live.loc[live["config"] == i, "trial_id"]
            c = epoch_curve(hist[hist["trial_id"].isin(ids)], metric)
            if len(c):
                lines.append({"config": i, "label": label, "epoch": c["epoch"].astype(int).tolist(),
                              "mean": c["mean"].tolist(), "sem": c["sem"].tolist(), "n": c["n"].astype(int).tolist()})
        if lines:
            out[metric] = lines
    return out


def running(store: Store, name: str, a, now: datetime) -> list[dict[str, Any]]:
    """The trials running now: configuration, seed, epochs ended of planned, seconds running and left (ETA from
    the time per epoch so far; None before the first epoch ends)."""
    config = dict(zip(a.trials["trial_id"], a.trials["config"]))
    out = []
    for t in store.running(name):
        elapsed = _seconds_since(t["started_at"], now)
        eta = (elapsed / t["epoch"] * max(0, t["epochs"] - t["epoch"])
               if elapsed is not None and t["epoch"] and t["epochs"] and t["alive"] else None)
        i = config.get(t["trial_id"])
        out.append({"trial_id": t["trial_id"], "seed": t["seed"], "config": i,
                    "label": a.labels[i] if i is not None and i < len(a.labels) else "",
                    "epoch": t["epoch"], "epochs": t["epochs"], "started_at": t["started_at"],
                    "elapsed_s": elapsed, "eta_s": eta, "owner": t["owner"], "alive": t["alive"]})
    return out


def problems(a) -> list[dict[str, Any]]:
    """Failed and diverged trials: id, seed, status, configuration and the first line of the error."""
    p = a.problems()
    return [{"trial_id": r["trial_id"], "seed": r["seed"], "status": r["status"], "config": int(r["config"]),
             "label": a.labels[int(r["config"])], "error": r["error"] or ""} for _, r in p.iterrows()]


def figure_dir(store: Store, name: str) -> Path:
    return store_dir(store.url) / name / "figures"


def figures(store: Store, name: str) -> list[str]:
    """The report's figures (PNG files) where `nnstudy run` or `nnstudy report` wrote them."""
    folder = figure_dir(store, name)
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file() and FIGURE_NAME.match(p.name))
    except OSError:
        return []


def _seconds_since(stamp: str | None, now: datetime) -> float | None:
    try:
        then = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None
    if then is None:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return max(0.0, (now - then).total_seconds())
