"""The store: studies, trials, per-epoch metrics and artifacts. Only the executor writes while a study runs."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..errors import StudyError
from ..kinds import stored_planned_epochs
from . import _schema as s
from ._engine import make_engine, resolve_url, shown, store_dir  # noqa: F401  (store_dir: imported from here too)
from ._migrate import Migration, open_schema
from ._retry import RETRY_FOR_S, one_line, resilient, retrying, store_error
from ._rows import decoded, final_metrics, names, orphan, require_trials
from ._snapshot import StudySnapshot, snapshot_of

FINAL_STATES = ("done", "diverged")
OPEN_RETRY_S = 3.0  # a store that cannot be opened is most likely a wrong URL: say so soon
RELEASE_SOON_S = 5.0  # handing trials back after the store failed: the run ends soon either way
HAND_BACK_S = 1.0  # handing trials back after Ctrl-C: the user waits for the prompt


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def owner_tag() -> str:
    """Who holds a running trial: host, pid and the process's start time (a pid reused by another process
    after a kill does not keep the dead run's trials). Read once per process (a forked child has its own)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        start = _start_time(pid)
        _owner = (pid, f"{socket.gethostname()}:{pid}" + (f":{start}" if start else ""))
    return _owner[1]


_owner: tuple[int, str] | None = None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return fields[19] if len(fields) > 19 else None


class Store:
    def __init__(self, store: str | Path | None = None, create: bool = True):
        self.url = resolve_url(store)
        self.readonly = False  # a store this process may read but not write (ls, show, report)
        if self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///"))
            for above in (path.parent, *path.parent.parents):  # the nearest existing folder on the way
                if above.exists():
                    if not above.is_dir():
                        raise StudyError(f"--store {path.parent}: {above} is a file, not a folder (nnstudy keeps "
                                         f"nnstudy.sqlite and artifacts/ in a folder; or give a database URL)")
                    break
            if path.is_dir():
                raise StudyError(f"store {path}: is a folder, not an nnstudy.sqlite file")
            if not path.exists() and not create:
                raise StudyError(f"no store at {path} (run a study first, or pass --store)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StudyError(f"--store {path.parent}: cannot create the folder ({e.strerror})") from None
            self.readonly = not create and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        self.engine: Engine = make_engine(self.url, readonly=self.readonly)
        try:
            self.migrated: list[Migration] = retrying(lambda: self._open(create), self.url, "open", OPEN_RETRY_S,
                                                       quiet=True, busy_for_s=RETRY_FOR_S)  # another driver writing
        except DBAPIError as e:
            raise (store_error(e, self.url) or StudyError(f"store {shown(self.url)}: {one_line(e)}")) from None

    def _open(self, create: bool) -> list[Migration]:
        with self.engine.begin() as c:
            return open_schema(c, self.url, create)

    # --- writing, by the executor -------------------------------------------------------------

    @resilient
    def register(self, name: str, description: str, spec: dict, source: str, task: str, metrics: list[str],
                 swept: list[str], trials: list, environment: dict[str, str]) -> None:
        """Upsert the study and add its trials that the store does not hold yet, in one transaction. A trial
        the store holds keeps its results; its swept values follow the study's current sweep."""
        stamp = now()
        values = dict(description=description, spec_json=json.dumps(spec), source=source, task=task,
                      metrics_json=json.dumps(metrics), swept_keys_json=json.dumps(swept),
                      trial_ids_json=json.dumps([t.trial_id for t in trials]),
                      environment_json=json.dumps(environment), updated_at=stamp)
        with self.engine.begin() as c:
            row = c.execute(select(s.studies).where(s.studies.c.name == name)).mappings().first()
            if row is None:
                sid = c.execute(insert(s.studies).values(name=name, created_at=stamp, **values)).inserted_primary_key[0]
                known = {}
            else:
                sid = row["id"]
                known = dict(c.execute(select(s.trials.c.trial_id, s.trials.c.point_json)
                                       .where(s.trials.c.study_id == sid)).all())
            rows = [dict(study_id=sid, trial_id=t.trial_id, seed=t.seed, config_json=json.dumps(t.config),
                         point_json=_point_json(t), status="pending") for t in trials
                    if t.trial_id not in known]
            if rows:
                c.execute(insert(s.trials), rows)
            moved = [dict(tid=t.trial_id, point=_point_json(t)) for t in trials
                     if t.trial_id in known and known[t.trial_id] != _point_json(t)]
            if moved:  # the same trial under another sweep (a key newly swept at the value it had)
                c.execute(update(s.trials).where(s.trials.c.study_id == sid, s.trials.c.trial_id == bindparam("tid"))
                          .values(point_json=bindparam("point")), moved)
            if row is not None and (rows or moved or any(row[k] != v for k, v in values.items() if k != "updated_at")):
                c.execute(update(s.studies).where(s.studies.c.id == sid).values(**values))  # a re-run that changes
                # nothing leaves updated_at: it is when the study or one of its trials last changed

    @resilient
    def todo(self, name: str) -> tuple[list[str], list[str]]:
        """(trial ids to run, trial ids running in another live process) among the study's current trials."""
        sid, ids = self._study_ids(name)
        with self.engine.begin() as c:
            rows = c.execute(select(s.trials.c.trial_id, s.trials.c.status, s.trials.c.owner)
                             .where(s.trials.c.study_id == sid)).all()
        state = {r.trial_id: (r.status, r.owner) for r in rows}
        todo, busy = [], []
        for tid in ids:
            status, owner = state[tid]
            if status in FINAL_STATES:
                continue
            if status == "running" and _alive(owner) and owner != owner_tag():
                busy.append(tid)
            else:
                todo.append(tid)
        return todo, busy

    @resilient
    def claim(self, name: str, trial_id: str) -> bool:
        """Mark a trial running for this process, unless it is final or another live process holds it."""
        t = s.trials.c
        with self.engine.begin() as c:  # the row stays locked (PostgreSQL) until the update commits
            sid = self._study_id(c, name)
            row = c.execute(select(t.status, t.owner).where(t.study_id == sid, t.trial_id == trial_id)
                            .with_for_update()).one()
            mine = row.status == "running" and row.owner == owner_tag()  # a retried claim: not a new attempt
            if row.status in FINAL_STATES or (row.status == "running" and _alive(row.owner) and not mine):
                return False
            cond = and_(t.study_id == sid, t.trial_id == trial_id, t.status == row.status,
                        t.owner.is_(None) if row.owner is None else t.owner == row.owner)
            done = c.execute(update(s.trials).where(cond).values(status="running", owner=owner_tag(),
                                                                  started_at=now(), error=None,
                                                                  attempts=t.attempts + (0 if mine else 1)))
            return done.rowcount == 1

    @resilient
    def finish(self, name: str, trial_id: str, status: str, final: dict[str, float],
               history: list[dict[str, float]] | None, artifacts: dict[str, bytes], error: str | None,
               conditions: dict[str, Any] | None = None) -> None:
        """A trial's outcome, its history and artifacts, written atomically. ``history=None`` (a trial that raised:
        the engine returned none) keeps the epochs stored as they ended, its history up to the failure.
        ``conditions``: what its timing depends on (device, threads, host, versions: executor/_threads.py)."""
        t = s.trials.c
        with self.engine.begin() as c:
            sid = self._study_id(c, name)
            pk = c.execute(select(t.id).where(t.study_id == sid, t.trial_id == trial_id)).scalar_one()
            c.execute(delete(s.artifacts).where(s.artifacts.c.trial_pk == pk))
            if history is not None:
                c.execute(delete(s.epochs).where(s.epochs.c.trial_pk == pk))
                rows = [dict(trial_pk=pk, epoch=int(h["epoch"]), metric=k, value=_finite(v))
                        for h in history for k, v in h.items() if k != "epoch"]
                if rows:
                    c.execute(insert(s.epochs), rows)
            if artifacts:
                c.execute(insert(s.artifacts), [dict(trial_pk=pk, name=k, data=v) for k, v in artifacts.items()])
            stamp = now()
            c.execute(update(s.trials).where(t.id == pk).values(
                status=status, error=error, final_json=json.dumps({k: _finite(v) for k, v in final.items()}),
                finished_at=stamp, owner=None, conditions_json=json.dumps(conditions) if conditions else None))
            c.execute(update(s.studies).where(s.studies.c.id == sid).values(updated_at=stamp))

    @resilient
    def add_epochs(self, name: str, records: list[tuple[str, int, dict[str, float]]]) -> int:
        """Epochs as they end, (trial id, epoch, metrics) each, in one short transaction; returns the rows
        written. Only trials this process runs take rows (not one another process took over). A metric sent
        again for an epoch replaces its value; rows of later epochs (an earlier attempt's) go. ``finish`` later
        replaces the whole history, atomically with the trial's outcome."""
        if not records:
            return 0
        owned, later, same, add = _epoch_statements(self.engine.dialect.name)
        ids = sorted({r[0] for r in records})
        with self.engine.begin() as c:
            pks = dict(c.execute(owned, dict(name=name, ids=ids, owner=owner_tag())).all())
            first: dict[int, int] = {}
            rows = {}
            for tid, epoch, metrics in records:
                if tid not in pks:
                    continue
                pk, epoch = pks[tid], int(epoch)
                first[pk] = min(first.get(pk, epoch), epoch)
                for k, v in metrics.items():
                    if k != "epoch":
                        rows[(pk, epoch, k)] = dict(pk=pk, ep=epoch, m=k, value=_number(v))
            if first:
                c.execute(later, [dict(pk=pk, ep=epoch) for pk, epoch in first.items()])
            if rows:
                if same is not None:
                    c.execute(same, list(rows.values()))
                c.execute(add, list(rows.values()))
        return len(rows)

    @resilient
    def save_checkpoint(self, name: str, trial_id: str, blobs: dict[str, bytes]) -> bool:
        """A running trial's (or stack's) checkpoint, the artifacts named in ``blobs`` (engines/_checkpoint.py),
        replacing the previous pair in one transaction; only for a trial this process runs. ``finish``
        removes it with the trial's other artifacts. Returns whether it was written."""
        t, a = s.trials.c, s.artifacts.c
        with self.engine.begin() as c:
            sid = self._study_id(c, name)
            pk = c.execute(select(t.id).where(t.study_id == sid, t.trial_id == trial_id, t.status == "running",
                                              t.owner == owner_tag())).scalar()
            if pk is None:
                return False
            c.execute(delete(s.artifacts).where(a.trial_pk == pk, a.name.in_(list(blobs))))
            c.execute(insert(s.artifacts), [dict(trial_pk=pk, name=k, data=v) for k, v in blobs.items()])
        return True

    @resilient
    def artifacts_of(self, name: str, trial_id: str, names: Iterable[str]) -> dict[str, bytes]:
        """The trial's artifacts of these names that the store holds (a checkpoint: engines/_checkpoint.py)."""
        t, a = s.trials.c, s.artifacts.c
        with self.engine.begin() as c:
            sid = self._study_id(c, name)
            rows = c.execute(select(a.name, a.data).join(s.trials, t.id == a.trial_pk)
                             .where(t.study_id == sid, t.trial_id == trial_id, a.name.in_(list(names)))).all()
        return {r.name: bytes(r.data) for r in rows}

    @resilient
    def running(self, name: str | None = None) -> list[dict[str, Any]]:
        """The trials marked running (of one study, or of all): study, trial id, seed, owner, whether that process
        still lives (alive: False for a run that was killed; the trial runs again next time), started_at, the
        last epoch stored (0 before the first ends) and the epochs planned (None: none, its kind fits once)."""
        t, e = s.trials.c, s.epochs.c
        last = (select(e.trial_pk, func.max(e.epoch).label("epoch"))
                .where(e.trial_pk.in_(select(t.id).where(t.status == "running"))).group_by(e.trial_pk).subquery())
        query = (select(s.studies.c.name.label("study"), t.trial_id, t.seed, t.owner, t.started_at, t.config_json,
                        t.point_json, last.c.epoch)
                 .join(s.studies, s.studies.c.id == t.study_id).outerjoin(last, last.c.trial_pk == t.id)
                 .where(t.status == "running").order_by(s.studies.c.name, t.started_at, t.trial_id))
        if name is not None:
            query = query.where(s.studies.c.name == name)
        with self.engine.begin() as c:
            rows = c.execute(query).mappings().all()
        out = []
        for r in rows:
            config = decoded(r["config_json"], dict, f"trials.config_json of trial {r['trial_id']}")
            point = decoded(r["point_json"], dict, f"trials.point_json of trial {r['trial_id']}")
            out.append(dict(study=r["study"], trial_id=r["trial_id"], seed=r["seed"], owner=r["owner"],
                            alive=_alive(r["owner"]), started_at=r["started_at"], point=point,
                            epoch=int(r["epoch"] or 0),
                            epochs=stored_planned_epochs(config)))
        return out

    @resilient
    def release(self, name: str, trial_ids: Iterable[str]) -> None:
        """Hand unfinished trials back (Ctrl-C): they run again next time."""
        self._release(name, trial_ids)

    def release_soon(self, name: str, trial_ids: Iterable[str], for_s: float = RELEASE_SOON_S) -> bool:
        """``release`` after a failure that ends the run (the store lost, say) or Ctrl-C: tried for ``for_s``
        seconds only, and silent where it cannot be written (returns False): the trials stay running under a dead
        owner then, and a re-run takes them."""
        ids = list(trial_ids)
        try:
            retrying(lambda: self._release(name, ids), self.url, "release", for_s, quiet=True)
            return True
        except Exception:  # the failure that ends the run is the one to say
            return False

    def _release(self, name: str, trial_ids: Iterable[str]) -> None:
        t = s.trials.c
        with self.engine.begin() as c:
            sid = self._study_id(c, name)
            c.execute(update(s.trials).where(t.study_id == sid, t.trial_id.in_(list(trial_ids)),
                                             t.status == "running", t.owner == owner_tag())
                      .values(status="pending", owner=None))

    # --- reading ------------------------------------------------------------------------------

    @resilient
    def require_study(self, name: str) -> None:
        """One line (StudyError) unless the store holds a study of this name, or when its row is damaged."""
        self._study_ids(name)

    def _study_ids(self, name: str) -> tuple[int, list[str]]:
        with self.engine.begin() as c:
            row = c.execute(select(s.studies.c.id, s.studies.c.trial_ids_json)
                            .where(s.studies.c.name == name)).first()
        if row is None:
            raise self._no_study(name)
        return row.id, names(row.trial_ids_json, f"studies.trial_ids_json of {name!r}")

    def _study_id(self, c, name: str) -> int:
        """The study's id, read in the caller's transaction (one transaction per trial's claim, write, ...)."""
        sid = c.execute(select(s.studies.c.id).where(s.studies.c.name == name)).scalar()
        if sid is None:
            raise self._no_study(name)
        return sid

    def _no_study(self, name: str) -> StudyError:
        return StudyError(f"no study named {name!r} in {shown(self.url)} (see `nnstudy ls`)")

    # --- where a study comes from (its file, the study it is a variant of), kept in the meta table ---

    @staticmethod
    def _origin_key(name: str) -> str:
        return "origin:" + hashlib.sha256(name.encode()).hexdigest()[:40]

    @resilient
    def origin(self, name: str) -> dict[str, Any] | None:
        """None for a study the store does not hold; else its source text, the file it was last run from
        (None when unknown: a dict, or a store from before nnstudy recorded it) and its parent study."""
        with self.engine.begin() as c:
            source = c.execute(select(s.studies.c.source).where(s.studies.c.name == name)).first()
            if source is None:
                return None
            value = c.execute(select(s.meta.c.value).where(s.meta.c.key == self._origin_key(name))).scalar()
        stored = decoded(value, dict, f"meta origin of {name!r}") if value else {}
        return {"source": source[0], "file": None, "parent": None} | stored

    @resilient
    def set_origin(self, name: str, file: str | None, parent: str | None) -> None:
        key, value = self._origin_key(name), json.dumps({"name": name, "file": file, "parent": parent})
        with self.engine.begin() as c:
            if c.execute(update(s.meta).where(s.meta.c.key == key).values(value=value)).rowcount == 0:
                c.execute(insert(s.meta).values(key=key, value=value))

    @resilient
    def parents(self) -> dict[str, str]:
        """Each variant's name -> the name of the study it varies."""
        with self.engine.begin() as c:
            rows = c.execute(select(s.meta.c.value).where(s.meta.c.key.like("origin:%"))).scalars().all()
        origins = [decoded(value, dict, "meta origin of a study") for value in rows]
        return {o["name"]: o["parent"] for o in origins if o.get("parent")}

    @resilient
    def require_whole(self) -> None:
        """Nothing unless a trial's study row is gone: then the damaged-store line (a run would train it again)."""
        with self.engine.begin() as c:
            _require_no_orphan(c)

    @resilient
    def studies(self) -> list[dict[str, Any]]:
        out = []
        with self.engine.begin() as c:
            _require_no_orphan(c)  # its trials would be missing from the counts
            for row in c.execute(select(s.studies).order_by(s.studies.c.updated_at.desc())).mappings():
                ids = names(row["trial_ids_json"], f"studies.trial_ids_json of {row['name']!r}")
                counts = dict(c.execute(select(s.trials.c.status, func.count())
                                        .where(s.trials.c.study_id == row["id"], s.trials.c.trial_id.in_(ids))
                                        .group_by(s.trials.c.status)).all())
                spec = decoded(row["spec_json"], dict, f"studies.spec_json of {row['name']!r}")
                unproposed = max(0, _search_size(spec) - len(ids))
                counts["pending"] = counts.get("pending", 0) + unproposed
                out.append(dict(name=row["name"], description=row["description"], total=len(ids) + unproposed,
                                updated_at=row["updated_at"], **{k: counts.get(k, 0) for k in
                                ("done", "failed", "diverged", "running", "pending")}))
        return out

    @resilient
    def find_trials(self, prefix: str) -> list[dict[str, Any]]:
        """Trials whose id starts with `prefix` (taken literally: % and _ are characters, not wildcards); alive:
        a running trial's process still runs (False for one that was killed: it runs again next time)."""
        import pandas as pd  # here, not on import: `nnstudy ls` builds no table

        t = s.trials.c
        with self.engine.begin() as c:
            rows = c.execute(select(s.trials, s.studies.c.name.label("study"))
                             .outerjoin(s.studies, s.studies.c.id == t.study_id)  # an orphan trial: damage
                             .where(t.trial_id.startswith(prefix, autoescape=True))).mappings().all()
            out = []
            for r in rows:
                _check_trial(r)
                hist = c.execute(select(s.epochs.c.epoch, s.epochs.c.metric, s.epochs.c.value)
                                 .where(s.epochs.c.trial_pk == r["id"])
                                 .order_by(s.epochs.c.epoch)).all()
                out.append(dict(r) | {"history": pd.DataFrame(hist, columns=["epoch", "metric", "value"]),
                                      "alive": r["status"] == "running" and _alive(r["owner"])})
        return out

    @resilient
    def snapshot(self, name: str, artifacts: bool = True) -> StudySnapshot:
        """The study as the report reads it; ``artifacts=False`` leaves the blobs (weights, figures) unread.
        Checkpoints (``checkpoint.*``, engines/_checkpoint.py) are never read here."""
        sid, ids = self._study_ids(name)
        t = s.trials.c
        with self.engine.begin() as c:
            st = c.execute(select(s.studies).where(s.studies.c.id == sid)).mappings().one()
            rows = {r["trial_id"]: r for r in c.execute(select(s.trials).where(t.study_id == sid,
                                                                                t.trial_id.in_(ids))).mappings()}
            _require_no_orphan(c)  # damage anywhere in the store is refused, as show, ls, run and export refuse it
            require_trials(rows, ids, name)
            pks = {rows[i]["id"]: i for i in ids}
            hist = c.execute(select(s.epochs.c.trial_pk, s.epochs.c.epoch, s.epochs.c.metric, s.epochs.c.value)
                             .where(s.epochs.c.trial_pk.in_(list(pks)))).all()
            arts = c.execute(select(s.artifacts.c.trial_pk, s.artifacts.c.name, s.artifacts.c.data)
                             .where(s.artifacts.c.trial_pk.in_(list(pks)),
                                    s.artifacts.c.name.not_like("checkpoint.%"))).all() if artifacts else []
        return snapshot_of(st, ids, rows, hist, arts)


@functools.cache
def _epoch_statements(dialect: str):
    """add_epochs' statements, built once: (the trials of a study this process runs, by id; delete an earlier
    attempt's later epochs; delete the metrics about to be written, or None where the insert replaces them
    (SQLite, PostgreSQL: an upsert); insert them)."""
    t, e = s.trials.c, s.epochs.c
    owned = (select(t.trial_id, t.id).join(s.studies, s.studies.c.id == t.study_id)
             .where(s.studies.c.name == bindparam("name"), t.trial_id.in_(bindparam("ids", expanding=True)),
                    t.status == "running", t.owner == bindparam("owner")))
    later = delete(s.epochs).where(e.trial_pk == bindparam("pk"), e.epoch > bindparam("ep"))
    same = delete(s.epochs).where(e.trial_pk == bindparam("pk"), e.epoch == bindparam("ep"), e.metric == bindparam("m"))
    values = dict(trial_pk=bindparam("pk"), epoch=bindparam("ep"), metric=bindparam("m"), value=bindparam("value"))
    if dialect in ("sqlite", "postgresql"):  # the one dialect used (importing postgresql's: 0.28 s on a GPU host)
        from importlib import import_module

        upsert = import_module(f"sqlalchemy.dialects.{dialect}").insert(s.epochs).values(**values)
        return owned, later, None, upsert.on_conflict_do_update(index_elements=[e.trial_pk, e.epoch, e.metric],
                                                                set_={"value": upsert.excluded.value})
    return owned, later, same, insert(s.epochs).values(**values)


def _check_trial(r) -> None:
    """A trial's JSON columns as `nnstudy show` prints them: damaged ones are the store's one line."""
    where = f"of trial {r['trial_id']}"
    if r["study"] is None:
        raise orphan(r["trial_id"], r["study_id"])
    decoded(r["config_json"], dict, f"trials.config_json {where}")
    if r["final_json"]:
        final_metrics(r["final_json"], f"trials.final_json {where}")
    if r["conditions_json"]:
        decoded(r["conditions_json"], dict, f"trials.conditions_json {where}")


def _require_no_orphan(c) -> None:
    """One query, on the index of trials.study_id: a trial whose study row is gone is damage."""
    t = s.trials.c
    row = c.execute(select(t.trial_id, t.study_id).where(t.study_id.not_in(select(s.studies.c.id))).limit(1)).first()
    if row is not None:
        raise orphan(row.trial_id, row.study_id)


def _alive(owner: str | None) -> bool:
    """Whether the process that claimed a trial still runs (other hosts are assumed alive)."""
    if not owner:
        return False
    parts = owner.split(":")
    start = parts.pop() if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit() else None
    pid, host = parts[-1], ":".join(parts[:-1])
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        pass
    now_start = _start_time(int(pid))
    return start is None or now_start is None or now_start == start  # another process under a reused pid


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _number(v: Any) -> float | None:
    """A metric as the store keeps it: a finite float, else None (NaN, inf, or not a number)."""
    try:
        return _finite(float(v))
    except (TypeError, ValueError):
        return None


def _search_size(spec: dict[str, Any]) -> int:
    """The trials a [search] will have when done (configurations x seeds); 0 for a grid study."""
    search = spec.get("search") or {}
    if not search.get("space"):
        return 0
    seeds = (spec.get("trials") or {}).get("seeds", 1)
    return int(search.get("trials", 0)) * (len(seeds) if isinstance(seeds, list) else int(seeds))


def _point_json(trial) -> str:
    """A trial's swept values as stored, with its [[sweep]] table's ``label`` when it has one (a dotted key can
    never be "label"); a label is no part of the trial's config or id, so renaming one relabels stored trials."""
    label = getattr(trial, "label", None)
    return json.dumps({**trial.point, "label": label} if label else trial.point)
