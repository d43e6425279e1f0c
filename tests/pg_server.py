"""A throwaway PostgreSQL server for the tests: initdb in a temp dir, a free port on 127.0.0.1, gone at the end.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user
(scripts/setup.sh installs Debian's `postgresql` package when it is missing).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "nnstudy"  # the database superuser; trust authentication on loopback only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    return Path(dirs[-1]) if dirs else None


class PgServer:
    def __init__(self, bin_dir: Path, data_dir: Path, port: int):
        self.bin_dir, self.data_dir, self.port = bin_dir, data_dir, port

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.data_dir / "server.log")
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{tail}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir / "db"), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data_dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data_dir / "db"), "-o", options, "-l", str(self.data_dir / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as when a database server restarts."""
        self._run("pg_ctl", "-D", str(self.data_dir / "db"), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_server() -> PgServer:
    """Raises RuntimeError with the reason when no server can be started here."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise RuntimeError("psycopg is not installed (pip install -e '.[cluster]')")
    bin_dir = bindir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/setup.sh installs it as root)")
    data_dir = Path(tempfile.mkdtemp(prefix="nnstudy-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    server = PgServer(bin_dir, data_dir, free_port())
    try:
        server.init()
        server.start()
    except Exception:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return server


def remove(server: PgServer) -> None:
    try:
        server._run("pg_ctl", "-D", str(server.data_dir / "db"), "-m", "immediate", "-w", "stop")
    except RuntimeError:
        pass  # already stopped
    shutil.rmtree(server.data_dir, ignore_errors=True)
