"""The Host check of a loopback dashboard: only requests that name a loopback host are answered, so that another
site cannot read the dashboard through DNS rebinding. Starlette's TrustedHostMiddleware cuts the Host header at
its first colon, which turns ``[::1]:8765`` into ``[`` and refused every request to ``--host ::1``."""

from __future__ import annotations

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def host_name(header: str) -> str:
    """The host of a Host header, without its port: ``[::1]:8765`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 address, bracketed, maybe with a port
        end = header.find("]")
        return header[1:end] if end > 0 else header
    return header.split(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """ASGI middleware: a request whose Host is not one of `allowed` gets 400 and reaches no route."""

    def __init__(self, app, allowed: list[str]):
        self.app, self.allowed = app, {host_name(h) for h in allowed}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(host) not in self.allowed:
                from starlette.responses import PlainTextResponse

                await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
