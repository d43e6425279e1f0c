"""`nnstudy serve`: a live, read-only dashboard of a store (Starlette, served by uvicorn).

Pages (HTML, every stored string escaped; the live part refreshed every two seconds by the one script the
server ships, /static/dashboard.js):

- ``/``: the studies with their progress; ``/study?name=NAME``: one study's results table, learning curves
  (mean ± SE per configuration, growing while trials run), running trials with epoch and ETA, failed and
  diverged trials with their errors, and the report's figures where written.

JSON (the same data): ``/api/studies``, ``/api/study?name=NAME`` (its ``results`` are results.csv's rows,
from report.summarize). Every route answers GET (and HEAD) only: anything else is 405. The store is read
through its own connections, which cannot write (SQLite: ``query_only``, deferred transactions that never
block ``nnstudy run``; PostgreSQL: read-only transactions).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from .._text import cap
from ..errors import StudyError
from ..store import Store
from ..store import _schema
from ..store._engine import shown
from ._hosts import LOOPBACK_NAMES, HostCheck

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def reader(store: str | Path | None) -> Store:
    """The store opened as `ls` opens it (missing: an error; a newer schema: refused), then read through
    connections that cannot write."""
    db = Store(store, create=False)
    if db.url.startswith("sqlite:///") and not db.readonly:
        from sqlalchemy import create_engine, event

        engine = create_engine(db.url)

        def pragmas(conn, _record) -> None:
            conn.isolation_level = None  # transactions begun below, deferred: readers never lock out the writer
            cur = conn.cursor()
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA query_only=ON")
            cur.close()

        event.listen(engine, "connect", pragmas)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        db.engine = engine
    elif db.url.startswith("postgresql"):
        from sqlalchemy import create_engine

        db.engine = create_engine(db.url, pool_pre_ping=True, pool_size=2, connect_args={
            "connect_timeout": 5, "options": "-c default_transaction_read_only=on"})
    return db


def make_app(store: str | Path | None = None, allowed_hosts: list[str] | None = None):
    """The dashboard as an ASGI app. allowed_hosts: the Host headers answered (a loopback server answers only
    loopback names, so that another site cannot read it through DNS rebinding); None answers any."""
    try:
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, Response
        from starlette.routing import Route
    except ImportError as e:
        raise StudyError(f"nnstudy serve needs Starlette and uvicorn ({e.name} is missing): "
                         f"pip install 'nnstudy[serve]'") from None

    from . import _pages, _views
    from ._assets import CSS, JS, csp

    db = reader(store)
    where = shown(db.url)
    headers = {"Content-Security-Policy": csp(), "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}

    def respond(body: str | bytes, media: str, status: int = 200) -> Response:
        return Response(body, status_code=status, media_type=media, headers=headers)

    def as_json(data: Any, status: int = 200) -> Response:
        return respond(json.dumps(data, allow_nan=False, ensure_ascii=False), "application/json", status)

    def html(title: str, src: str, body: str, status: int = 200) -> Response:
        return respond(_pages.page(title, src, body), "text/html; charset=utf-8", status)

    def named(request: Request) -> str:
        return request.query_params.get("name", "")

    def study_or_none(name: str):
        if name not in {s["name"] for s in db.studies()}:
            return None
        return _views.study(db, name)

    def guarded(handler):
        """A store that cannot be read right now (damaged, unreachable): one line, 503, the server goes on."""
        async def wrapped(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                return await run_in_threadpool(handler, request)
            except StudyError as e:
                message = str(e).splitlines()[0] if str(e) else type(e).__name__
                if request.url.path.startswith("/api/"):
                    return as_json({"error": message}, 503)
                return html("store unreadable", request.url.path, _pages.message_part("Store unreadable", message),
                            503)
        return wrapped

    def index(request: Request) -> Response:
        return html("studies", "/fragment/studies", _pages.studies_part(_views.studies(db), where))

    def fragment_studies(request: Request) -> Response:
        return respond(_pages.studies_part(_views.studies(db), where), "text/html; charset=utf-8")

    def study_page(request: Request) -> Response:
        name = named(request)
        data = study_or_none(name)
        longest = _schema.studies.c.name.type.length  # a name longer than the column holds is no study's: cut there
        src = "/fragment/study?name=" + _pages.quote(name[:longest + 1], safe="")
        if data is None:  # the name as asked, cut: a query string can be as long as the server takes
            return html(cap(name, 80), src, _pages.message_part("No such study", f"no study named {_asked(name)} in "
                                                                                 f"{where}"), 404)
        return html(name, src, _pages.study_part(data))

    def fragment_study(request: Request) -> Response:
        data = study_or_none(named(request))
        if data is None:
            return respond(_pages.message_part("No such study", _asked(named(request))), "text/html; charset=utf-8",
                           404)
        return respond(_pages.study_part(data), "text/html; charset=utf-8")

    def api_studies(request: Request) -> Response:
        return as_json({"store": where, "studies": _views.studies(db)})

    def api_study(request: Request) -> Response:
        data = study_or_none(named(request))
        if data is None:
            return as_json({"error": f"no study named {_asked(named(request))}"}, 404)
        return as_json(data)

    def figure(request: Request) -> Response:
        name, file = request.query_params.get("study", ""), request.query_params.get("file", "")
        if name not in {s["name"] for s in db.studies()} or file not in _views.figures(db, name):
            return respond("no such figure", "text/plain; charset=utf-8", 404)
        try:
            return respond((_views.figure_dir(db, name) / file).read_bytes(), "image/png")
        except OSError:
            return respond("no such figure", "text/plain; charset=utf-8", 404)

    def no_icon(request: Request) -> Response:
        return Response(status_code=204, headers=headers)  # browsers ask for one; the dashboard has none

    def static(body: str, media: str):
        def handler(request: Request) -> Response:
            return respond(body, media)
        return handler

    routes = [Route(path, guarded(handler), methods=["GET"]) for path, handler in (
        ("/", index), ("/fragment/studies", fragment_studies), ("/study", study_page),
        ("/fragment/study", fragment_study), ("/api/studies", api_studies), ("/api/study", api_study),
        ("/figure", figure), ("/favicon.ico", no_icon),
        ("/static/dashboard.js", static(JS, "text/javascript; charset=utf-8")),
        ("/static/dashboard.css", static(CSS, "text/css; charset=utf-8")))]
    middleware = [Middleware(HostCheck, allowed=allowed_hosts)] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware)


def _asked(name: str) -> str:
    """A study name a request asked for, as a 404 shows it: quoted, and cut to a line."""
    return cap(repr(name), 80)


def loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def serve(store: str | Path | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          announce=print) -> None:
    """Serve the dashboard until Ctrl-C. A port in use, a store that does not exist or is newer than this
    nnstudy: StudyError, one line, before anything is served."""
    if not 0 < port < 65536:
        raise StudyError(f"--port {port}: give a port from 1 to 65535")
    try:
        import uvicorn
    except ImportError:
        raise StudyError("nnstudy serve needs Starlette and uvicorn: pip install 'nnstudy[serve]'") from None
    app = make_app(store, allowed_hosts=[*LOOPBACK_NAMES, host] if loopback(host) else None)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if isinstance(e, socket.gaierror) or e.errno == 99:  # no such name; not an address of this machine
            raise StudyError(f"--host {host}: {e.strerror or e} (pass a name or address of this machine)") from None
        why = "in use" if e.errno in (98, 48, 10048) else (e.strerror or str(e))
        raise StudyError(f"--port {port} on {host}: {why} (pass another --port)") from None
    except (socket.gaierror, UnicodeError) as e:
        sock.close()
        raise StudyError(f"--host {host}: {e}") from None
    shown_host = f"[{host}]" if ":" in host else host
    announce(f"nnstudy serve: {shown(reader_url(store))} on http://{shown_host}:{port}/ (read-only; Ctrl-C "
             f"stops)" + ("" if loopback(host) else "; reachable from other machines: no login, read-only"))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def reader_url(store: str | Path | None) -> str:
    from ..store._engine import resolve_url

    return resolve_url(store)


__all__ = ["make_app", "serve", "reader", "DEFAULT_PORT", "DEFAULT_HOST"]
