"""A local Ray cluster for the tests: a head and one worker node on loopback, one CPU each, gone at the end.

Ray swaps 127.0.0.1 for the machine's network address, so the nodes take 127.0.0.2 and 127.0.0.3 (still
loopback). Each node is a foreground `ray start --block`, stopped with SIGTERM. The cluster has its own
token (token authentication on) and temp dir, so it meets no other Ray on the machine, and each node its own
nnstudy cache, as on separate machines.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pg_server import free_port

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
TASK_TITLE = "ray::nnstudy_trial"  # the process title of a Ray worker while it trains a trial


class RayCluster:
    def __init__(self):
        self.temp_dir = Path(tempfile.mkdtemp(prefix="nnray-"))
        self.port = free_port()
        self.address = f"{HEAD_IP}:{self.port}"
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: list[subprocess.Popen] = []

    def _node(self, name: str, *args: str) -> None:
        ray = Path(sys.executable).parent / "ray"
        log = open(self.temp_dir / f"{name}.log", "w")
        cmd = [str(ray), "start", "--block", "--num-cpus=1", "--disable-usage-stats", "--object-store-memory=100000000",
               f"--dashboard-agent-listen-port={free_port()}", *args]
        cache = {"NNSTUDY_DATA": str(self.temp_dir / f"{name}-cache")}  # each node a machine of its own
        self.nodes.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | self.env | cache))
        deadline = time.time() + 90
        while "Ray runtime started" not in (self.temp_dir / f"{name}.log").read_text():
            if self.nodes[-1].poll() is not None or time.time() > deadline:
                raise RuntimeError(f"ray start ({name}) failed: {(self.temp_dir / f'{name}.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def start(self) -> None:
        self._node("head", "--head", f"--port={self.port}", f"--node-ip-address={HEAD_IP}",
                   "--include-dashboard=false", f"--temp-dir={self.temp_dir}")
        self._node("worker", f"--address={self.address}", f"--node-ip-address={WORKER_IP}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster() -> RayCluster:
    """Raises RuntimeError with the reason when Ray cannot run here."""
    if importlib.util.find_spec("ray") is None:  # not imported here: drivers are processes of their own
        raise RuntimeError("ray is not installed (pip install -e '.[cluster]')")
    cluster = RayCluster()
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


def trial_workers() -> list[int]:
    """Pids of this session's Ray workers (they carry the cluster's token) training a trial right now."""
    mark = f"RAY_AUTH_TOKEN={os.environ['RAY_AUTH_TOKEN']}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(TASK_TITLE.encode())
                    and mark in (proc / "environ").read_bytes().split(b"\0")):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids
