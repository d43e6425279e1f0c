"""nnstudy serve in headless Chromium while `nnstudy run` trains beside it: the page's trial count and a curve's
point count grow without a reload, a hostile description stays text (on the study's page and in the list of
studies), nothing else loads, a POST is refused.

Skipped where Chromium is not installed, except under CI (scripts/setup.sh installs it), like the report's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("starlette")

import browser  # noqa: E402
from browser import CHROMIUM, Browser  # noqa: E402

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} not installed (as root, `bash scripts/setup.sh` installs it)", allow_module_level=True)

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
GATED = '''
import time
from pathlib import Path

def train(config, seed, data, report):
    gate = Path(config["train"]["args"]["gate"])
    for epoch in range(1, config["train"]["epochs"] + 1):
        if epoch == 3:
            deadline = time.time() + 120
            while not gate.exists() and time.time() < deadline:
                time.sleep(0.05)
        report(epoch, train_loss=1.0 / epoch, val_loss=1.5 / epoch + 0.1 * seed)
    return {"test_accuracy": 0.7 + 0.01 * seed}
'''
STUDY = '''
[study]
name = "watched"
description = '{evil}'

[data]
name = "moons"

[train]
function = "gated.py:train"
epochs = 4
args = {{ gate = "{gate}" }}

[trials]
seeds = 2
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check, timeout: float = 90.0, every: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("timed out")


def test_the_page_follows_a_running_study(tmp_path, monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"CI: {CHROMIUM} is missing; scripts/setup.sh installs Debian's chromium as root")
    # the browser resolves no name and reaches nothing but the dashboard on 127.0.0.1
    monkeypatch.setattr(browser, "FLAGS", [f if not f.startswith("--host-resolver-rules=") else
                                           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
                                           for f in browser.FLAGS])
    gate, store = tmp_path / "go", tmp_path / "runs"
    (tmp_path / "gated.py").write_text(GATED)
    (tmp_path / "watched.toml").write_text(STUDY.format(evil=EVIL, gate=gate))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.Popen([sys.executable, "-m", "nnstudy", "run", str(tmp_path / "watched.toml"), "--store",
                            str(store), "--workers", "1", "--quiet"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    port = free_port()
    serve = None
    try:
        until(lambda: (store / "nnstudy.sqlite").exists())
        serve = subprocess.Popen([sys.executable, "-m", "nnstudy", "serve", "--store", str(store), "--port",
                                  str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"

        def epochs_shown():
            try:
                with urllib.request.urlopen(f"{base}/api/study?name=watched", timeout=5) as r:
                    import json

                    data = json.loads(r.read())
            except (urllib.error.URLError, ConnectionError):
                assert serve.poll() is None, serve.communicate()
                return False
            return data["running"] and data["running"][0]["epoch"] == 2

        until(epochs_shown)
        with Browser(width=1280, height=900) as b:
            b.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                        "uploadThroughput": -1})
            b.send("Page.navigate", {"url": f"{base}/study?name=watched"})
            b.wait_for("Page.loadEventFired")
            b.js("window.notReloaded = true")
            counts = "document.getElementById('counts').dataset"
            points = "Array.from(document.querySelectorAll('svg[data-metric=val_loss] polyline.curve'))" \
                     ".map(p => +p.dataset.points)"
            assert b.js(f"{counts}.done") == "0" and b.js(f"{counts}.running") == "1"
            assert b.js(points) == [2]
            assert b.js("document.getElementById('description').textContent") == EVIL
            gate.write_text("go")  # the run goes on; the page follows by itself
            until(lambda: b.js(f"{counts}.done") == "2" and b.js(points) == [4], every=0.5)
            assert b.js("window.notReloaded") is True
            assert b.js("document.getElementById('description').textContent") == EVIL
            assert b.js("document.querySelectorAll('script').length") == 1
            assert b.problems() == []  # no exception, no console error, no dialog
            outside = [u for u in b.requests() if not u.startswith(base + "/")]
            assert outside == []
            b.send("Page.navigate", {"url": f"{base}/"})  # the list of studies shows the description as text too
            b.wait_for("Page.loadEventFired")
            assert b.js("document.querySelector('#studies td.desc').textContent") == EVIL
            assert b.js("document.querySelectorAll('script, img').length") == 1
            assert b.problems() == []
            assert b.js("fetch('/api/studies', {method: 'POST'}).then(r => r.status)") == 405
    finally:
        gate.write_text("go")
        run.communicate(timeout=120)
        if serve is not None:
            serve.terminate()
            serve.communicate(timeout=30)
    assert run.returncode == 0
