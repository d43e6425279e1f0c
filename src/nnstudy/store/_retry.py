"""Bounded retries with backoff, so a study survives a database restart, a dropped connection or a busy file.

Every store operation is one transaction that may run twice (writes are idempotent: a claim by the
same owner, a finish that replaces the trial's rows), so the whole operation is retried.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from ..errors import StudyError
from ._engine import shown
from ._rows import DamagedRow

RETRY_FOR_S = 60.0  # how long a driver waits for its store before it gives up
BUSY_PAUSE_S = 0.05  # between two tries of a busy SQLite file (each waits store/_engine.BUSY_TIMEOUT_MS in SQLite)
RACES = 3  # two drivers creating the same row at once: the loser tries again, this often at most

log = logging.getLogger("nnstudy.store")
T = TypeVar("T")


def one_line(e: BaseException) -> str:
    return " ".join(str(getattr(e, "orig", None) or e).split())[:300]


_DAMAGED = ("malformed", "not a database", "no such table", "no such column", "file is encrypted")


def damaged(url: str, why: str, row: bool = False) -> StudyError:
    """The file named once, in the way out, so that the line stays short enough to keep it. ``row``: the file is
    sound but a row's value is not (edited by hand, half-overwritten), which ".recover" would copy as it is."""
    path = url.removeprefix("sqlite:///")
    why = why if len(why) <= 80 else why[:79] + "…"
    if row:
        return StudyError(f"damaged store ({why}); the way out: correct that row with sqlite3 {path}, or put back "
                          f"a copy of nnstudy.sqlite")
    return StudyError(f"damaged store ({why}); the way out: sqlite3 {path} \".recover\" | sqlite3 recovered.sqlite, "
                      f"then use it as nnstudy.sqlite")


def store_error(e: DBAPIError, url: str) -> StudyError | None:
    """An SQLite file that is damaged, full or read-only, as the one line to show; None for other errors."""
    if not url.startswith("sqlite:///"):
        return None
    path, why = url.removeprefix("sqlite:///"), one_line(e)
    low = why.lower()
    if any(w in low for w in _DAMAGED):
        return damaged(url, why)
    if "full" in low or "i/o error" in low:
        return StudyError(f"store {path}: cannot write ({why}): the disk is full or failing; what was stored "
                          f"is kept: free some space and run again")
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return StudyError(f"store {path}: cannot write ({why}): the store is read-only here; "
                          f"ls, show and report still read it, or pass --store to a writable folder")
    return None


def transient(e: DBAPIError) -> bool:
    """A lost connection or a locked SQLite file; not a wrong query or a missing table."""
    if e.connection_invalidated or isinstance(e, InterfaceError):
        return True
    if not isinstance(e, OperationalError):
        return False
    text = one_line(e).lower()
    return "locked" in text or "busy" in text if "sqlite" in type(e.orig).__module__ else True


def busy(e: DBAPIError) -> bool:
    """SQLite's file locked by another connection: a wait, not a lost store."""
    text = one_line(e).lower()
    sqlite = isinstance(e, OperationalError) and "sqlite" in type(e.orig).__module__
    return sqlite and ("locked" in text or "busy" in text)


def interrupted(e: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions that led to ``e``."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def retrying(action: Callable[[], T], url: str, what: str, for_s: float = RETRY_FOR_S, quiet: bool = False,
             busy_for_s: float | None = None) -> T:
    """``action`` until it succeeds, tried again for up to ``for_s`` seconds while the store is unreachable, and
    ``busy_for_s`` (default ``for_s``) while SQLite's file is locked. A locked file is waited for here, in short
    tries and pauses where Ctrl-C lands at once (SQLite's own wait holds a signal off), and silently: two
    drivers on one store take turns."""
    start, delay, races, warned = time.monotonic(), 0.1, 0, quiet
    while True:
        try:
            result = action()
        except IntegrityError:
            races += 1
            if races >= RACES:
                raise
        except DBAPIError as e:
            if interrupted(e):  # Ctrl-C inside the driver's connection check surfaces as a database error
                raise KeyboardInterrupt from e
            if not transient(e):
                err = store_error(e, url)
                if err is None:
                    raise
                raise err from None
            waiting = busy(e)
            limit = busy_for_s if waiting and busy_for_s is not None else for_s
            pause = BUSY_PAUSE_S if waiting else delay
            if time.monotonic() - start + pause > limit:
                raise StudyError(f"store {shown(url)}: {one_line(e)} (still failing after {limit:.0f} s; {what})"
                                 ) from None
            if waiting:
                time.sleep(pause)
                continue
            if not warned:
                log.warning("nnstudy: store %s unreachable (%s); retrying for up to %.0f s", shown(url),
                            one_line(e), for_s)
                warned = True
        else:
            if warned and not quiet:
                log.warning("nnstudy: store %s reachable again after %.1f s", shown(url), time.monotonic() - start)
            return result
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def resilient(method: Callable[..., T]) -> Callable[..., T]:
    """A Store method, retried as a whole while the store is unreachable or busy."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return retrying(lambda: method(self, *args, **kwargs), self.url, method.__name__)
        except (json.JSONDecodeError, DamagedRow) as e:  # a row edited by hand or half-overwritten: damaged
            why = str(e) if isinstance(e, DamagedRow) else f"a stored value is not valid JSON: {e}"
            if self.url.startswith("sqlite:///"):
                raise damaged(self.url, why, row=True) from None
            raise StudyError(f"store {shown(self.url)} is damaged ({why})") from None

    return wrapper
