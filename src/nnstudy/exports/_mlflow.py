"""A study as MLflow runs: one parent run per study, one run per trial under it (MLflow's own client)."""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager

from mlflow.entities import Metric, Param  # the export's extra (mlflow-skinny is enough)
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .._text import one_error_line
from ..errors import StudyError
from ..store import StudySnapshot
from ._trials import ExportTrial, as_text, condition_items, flat

EXPERIMENT = "nnstudy"
STATUS = {"done": "FINISHED", "failed": "FAILED", "diverged": "FAILED"}  # running trials stay RUNNING
PARAMS_PER_CALL, METRICS_PER_CALL = 100, 1000  # MLflow's limits for one log_batch
PARAM_VALUE_MAX = 6000
NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


def write(snap: StudySnapshot, trials: list[ExportTrial], uri: str) -> None:
    """The study's earlier export (runs tagged with its name) is deleted, then written anew."""
    check_reachable(uri)
    try:
        with file_store_allowed(uri):
            client = MlflowClient(tracking_uri=uri)
            exp = client.get_experiment_by_name(EXPERIMENT)
            exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
            for old in client.search_runs([exp_id], filter_string=f"tags.`nnstudy.study` = '{snap.name}'",
                                          max_results=50000):
                client.delete_run(old.info.run_id)
            parent = client.create_run(exp_id, run_name=snap.name, tags={
                "nnstudy.study": snap.name, "mlflow.note.content": snap.description or ""}).info.run_id
            client.log_batch(parent, params=[Param("swept_keys", ", ".join(snap.swept_keys) or "-"),
                                             Param("metrics", ", ".join(snap.metrics))])
            for t in trials:
                write_trial(client, exp_id, parent, snap.name, t)
            client.set_terminated(parent, "FINISHED")
    except MlflowException as e:
        raise StudyError(f"--to mlflow {uri}: {one_error_line(str(e.message).strip())}") from None
    except OSError as e:  # a file store that cannot be written
        raise StudyError(f"--to mlflow {uri}: cannot write {e.filename or 'it'} ({e.strerror})") from None


def check_reachable(uri: str, timeout_s: float = 10.0) -> None:
    """A tracking server that is down is said at once: MLflow's client retries a refused connection with
    back-off for minutes before it gives up."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=timeout_s).close()
    except ValueError as e:  # a port that is not a number
        raise StudyError(f"--to mlflow {uri}: not a server address ({e})") from None
    except OSError as e:
        why = f"no answer in {timeout_s:g} s" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise StudyError(f"--to mlflow {uri}: cannot reach {parts.hostname}:{port} ({why})") from None


def write_trial(client: MlflowClient, exp_id: str, parent: str, study: str, t: ExportTrial) -> None:
    tags = {"mlflow.parentRunId": parent, "nnstudy.study": study, "nnstudy.trial_id": t.trial_id,
            "nnstudy.status": t.status, **{f"nnstudy.{k}": str(v) for k, v in condition_items(t).items()}}
    if t.error:
        tags["nnstudy.error"] = t.error[:PARAM_VALUE_MAX]
    run = client.create_run(exp_id, run_name=f"{t.trial_id} seed={t.seed}", tags=tags,
                            start_time=t.started_ms or None).info.run_id
    params = [Param(NOT_IN_A_NAME.sub("_", k), str(as_text(v))[:PARAM_VALUE_MAX])
              for k, v in {**flat(t.config), "seed": t.seed}.items()]
    at = t.started_ms
    metrics = [Metric(NOT_IN_A_NAME.sub("_", m), float(v), at, int(e))
               for e, m, v in t.history.itertuples(index=False)]
    metrics += [Metric(NOT_IN_A_NAME.sub("_", f"final/{k}"), v, at, 0) for k, v in t.final.items()]
    for i in range(0, len(params), PARAMS_PER_CALL):
        client.log_batch(run, params=params[i:i + PARAMS_PER_CALL])
    for i in range(0, len(metrics), METRICS_PER_CALL):
        client.log_batch(run, metrics=metrics[i:i + METRICS_PER_CALL])
    if t.status in STATUS:
        client.set_terminated(run, STATUS[t.status])


@contextmanager
def file_store_allowed(uri: str):
    """A file: URI (or a plain folder) names MLflow's file store, which MLflow 3 refuses unless
    MLFLOW_ALLOW_FILE_STORE is set: the user asked for it, so it is allowed for this export only."""
    local = uri.startswith("file:") or "://" not in uri
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    if local and before is None:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if local and before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
