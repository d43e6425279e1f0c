"""nnstudy serve: the live dashboard reads a store (a finished study, and one with trials running and failed),
gives results.csv's numbers, escapes every stored string, refuses every method that could write, and runs as
a command on a port of its own."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from nnstudy import api  # noqa: E402
from nnstudy.cli import main  # noqa: E402
from nnstudy.serve import make_app  # noqa: E402
from nnstudy.spec import expand, read_study  # noqa: E402
from nnstudy.store import Store  # noqa: E402

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FINISHED = {"study": {"name": "done-study", "description": "finished & compared"},
            "data": {"name": "moons", "n_samples": 200, "noise": 0.2},
            "model": {"hidden": [4]}, "train": {"epochs": 3, "batch_size": 32},
            "sweep": {"train.lr": [0.1, 0.01]}, "trials": {"seeds": 2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a finished study (report written) and a study with a running trial (two epochs stored so
    far, claimed by this live process), a done one and a failed one with a hostile error."""
    folder = tmp_path_factory.mktemp("serve") / "runs"
    api.run(FINISHED, store=folder, workers=1)
    spec, _, _ = read_study({"study": {"name": "live-study", "description": HOSTILE}, "data": {"name": "moons"},
                             "train": {"epochs": 10}, "sweep": {"train.lr": [0.1, 0.2]}, "trials": {"seeds": 2}})
    trials = expand(spec)
    db = Store(folder)
    db.register("live-study", HOSTILE, spec.model_dump(mode="json"), "", "classification",
                ["test_accuracy", "val_accuracy"], ["train.lr"], trials, {})
    run, done, failed = trials[0].trial_id, trials[1].trial_id, trials[2].trial_id
    for tid in (run, done, failed):
        assert db.claim("live-study", tid)
    db.add_epochs("live-study", [(run, 1, {"train_loss": 0.9, "val_loss": 1.0}),
                                 (run, 2, {"train_loss": 0.7, "val_loss": 0.8})])
    db.finish("live-study", done, "done", {"test_accuracy": 0.8, "val_accuracy": 0.75},
              [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e} for e in range(1, 11)], {}, None)
    db.finish("live-study", failed, "failed", {}, [], {}, f"ValueError: {HOSTILE}\nTraceback ...")
    return folder, dict(run=run, done=done, failed=failed)


@pytest.fixture(scope="module")
def client(store):
    return TestClient(make_app(store[0]))


def test_results_are_the_numbers_of_results_csv(store, client):
    folder, _ = store
    data = client.get("/api/study", params={"name": "done-study"}).json()
    csv = pd.read_csv(folder / "done-study" / "results.csv")
    assert len(data["results"]) == len(csv) == 2
    for row, (_, expected) in zip(data["results"], csv.iterrows()):
        assert set(row) == set(csv.columns)
        for col, want in expected.items():
            got = row[col]
            if isinstance(want, float) and math.isnan(want):
                assert got is None, col
            elif isinstance(want, (int, float)) and not isinstance(want, bool):
                assert got == pytest.approx(want, rel=1e-12, abs=1e-15), col
            else:
                assert str(got) == str(want), col
    assert data["counts"] == {"done": 4, "failed": 0, "diverged": 0, "running": 0, "pending": 0, "total": 4}
    assert data["figures"] and all(f.endswith(".png") for f in data["figures"])
    # each configuration's curve: mean over its two seeds at each of the 3 epochs, as the history holds
    history = api.load("done-study", store=folder).history()
    trials = pd.read_csv(folder / "done-study" / "trials.csv")
    curve = next(c for c in data["curves"]["val_loss"] if c["label"] == "train.lr=0.1")
    ids = trials.loc[trials["train.lr"] == 0.1, "trial_id"]
    h = history[(history.metric == "val_loss") & history.trial_id.isin(ids)]
    assert curve["epoch"] == [1, 2, 3] and curve["n"] == [2, 2, 2]
    assert curve["mean"] == pytest.approx(h.groupby("epoch").value.mean().tolist(), rel=1e-12)


def test_running_trials_and_problems(store, client):
    _, ids = store
    listing = client.get("/api/studies").json()["studies"]
    live = next(s for s in listing if s["name"] == "live-study")
    assert (live["done"], live["failed"], live["running"], live["pending"], live["total"]) == (1, 1, 1, 1, 4)
    assert live["running_epochs"] == [2]
    data = client.get("/api/study", params={"name": "live-study"}).json()
    (running,) = data["running"]
    assert (running["trial_id"], running["epoch"], running["epochs"]) == (ids["run"], 2, 10)
    assert running["eta_s"] is not None and running["eta_s"] >= 0 and running["alive"] is True
    (problem,) = data["problems"]
    assert problem["trial_id"] == ids["failed"] and problem["status"] == "failed"
    assert problem["error"] == f"ValueError: {HOSTILE}"  # the first line; nnstudy show prints the traceback
    # the running trial's epochs so far are in the curve of its configuration (with the done trial's when alike)
    lines = {c["label"]: c for c in data["curves"]["train_loss"]}
    run_label = running["label"]
    assert lines[run_label]["epoch"][:2] == [1, 2]


def test_pages_escape_stored_text_and_carry_the_policy(client):
    for path, params in (("/", {}), ("/study", {"name": "live-study"}), ("/fragment/studies", {}),
                         ("/fragment/study", {"name": "live-study"})):
        r = client.get(path, params=params)
        assert r.status_code == 200, path
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, path
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in r.text, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = client.get("/study", params={"name": "live-study"}).text
    assert '<script src="/static/dashboard.js" defer></script>' in page and "<style" not in page
    assert page.count("<script") == 1 and "http://" not in page and "https://" not in page
    assert 'data-points="2"' in page or 'data-points="10"' in page
    js = client.get("/static/dashboard.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" in js.text and "http" not in js.text
    figure = client.get("/api/study", params={"name": "done-study"}).json()["figures"][0]
    img = client.get("/figure", params={"study": "done-study", "file": figure})
    assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_writes(store, client):
    folder, _ = store
    before = (folder / "nnstudy.sqlite").read_bytes()
    for path in ("/", "/study", "/api/studies", "/api/study", "/figure", "/fragment/study", "/static/dashboard.js"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, path, params={"name": "live-study"}).status_code == 405, (method, path)
    assert client.get("/figure", params={"study": "done-study", "file": "../nnstudy.sqlite"}).status_code == 404
    assert client.get("/api/study", params={"name": "nope"}).status_code == 404
    assert client.get("/study", params={"name": "<b>nope</b>"}).text.count("<b>nope") == 0
    # the dashboard's connections cannot write, even if a route tried
    from nnstudy.serve import reader
    from sqlalchemy.exc import OperationalError

    db = reader(folder)
    with pytest.raises(OperationalError, match="readonly|read-only|query_only|attempt to write"):
        with db.engine.begin() as c:
            c.exec_driver_sql("DELETE FROM epochs")
    assert (folder / "nnstudy.sqlite").read_bytes() == before


@pytest.mark.parametrize("query", ["name=" + "a" * 20_000, "name=%00", "name=%ff%fe", "name=%ed%a0%80", "name=%ZZ",
                                   "name[]=x", "%%%", "name=nope&name=" + "b" * 5000])
def test_an_odd_query_string_is_a_short_404(store, client, query):
    folder, _ = store
    before = (folder / "nnstudy.sqlite").read_bytes()
    for path in ("/study", "/fragment/study", "/api/study"):
        got = client.get(f"{path}?{query}")
        assert got.status_code == 404 and len(got.content) < 2000, (path, got.status_code, len(got.content))
        assert "no study named" in got.text or "No such study" in got.text, got.text
    figure = client.get(f"/figure?{query.replace('name', 'study')}&file=%00")
    assert figure.status_code == 404 and figure.text == "no such figure"
    assert (folder / "nnstudy.sqlite").read_bytes() == before


def test_loopback_server_answers_loopback_names_only(store):
    strict = TestClient(make_app(store[0], allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1")
    assert strict.get("/").status_code == 200
    assert strict.get("/", headers={"host": "evil.example"}).status_code == 400
    from nnstudy.serve._hosts import LOOPBACK_NAMES

    loop = TestClient(make_app(store[0], allowed_hosts=list(LOOPBACK_NAMES)), base_url="http://[::1]:8765")
    assert loop.get("/api/studies").status_code == 200  # Host: [::1]:8765 (it was 400)
    for host in ("localhost:8765", "127.0.0.1", "[::1]", "LOCALHOST"):
        assert loop.get("/", headers={"host": host}).status_code == 200, host
    for host in ("evil.example:8765", "[::1", "[::2]:8765", "127.0.0.1.evil.example", ""):
        assert loop.get("/", headers={"host": host}).status_code == 400, host


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_answers_over_http(store):
    folder, _ = store
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy", "serve", "--store", str(folder), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, body = time.time() + 60, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    body = r.read().decode()
                    headers = r.headers
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.2)
        assert body is not None and "done-study" in body and "live-study" in body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
            names = {s["name"] for s in json.loads(r.read())["studies"]}
        assert names == {"done-study", "live-study"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/studies", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 405
        # a second server on the same port: one line, exit 2
        busy = subprocess.run([sys.executable, "-m", "nnstudy", "serve", "--store", str(folder), "--port",
                               str(port)], capture_output=True, text=True, timeout=60)
        assert busy.returncode == 2 and busy.stderr.count("\n") == 1 and "in use" in busy.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_serve_bad_input_is_one_line(tmp_path, capsys):
    import sqlite3

    def one_line(argv, expected: str) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err

    one_line(["serve", "--store", str(tmp_path / "none")], "no store at")
    one_line(["serve", "--store", str(tmp_path)], "no store at")  # a folder without nnstudy.sqlite
    assert sorted(tmp_path.iterdir()) == []  # serve never creates a store
    one_line(["serve", "--store", str(tmp_path), "--port", "0"], "--port 0: give a port from 1 to 65535")
    newer = tmp_path / "newer"
    Store(newer).engine.dispose()
    with sqlite3.connect(newer / "nnstudy.sqlite") as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = files(newer)
    one_line(["serve", "--store", str(newer), "--port", str(free_port())], "schema version 99")
    assert files(newer) == before
    ok = tmp_path / "ok"
    Store(ok).engine.dispose()
    before = files(ok)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        one_line(["serve", "--store", str(ok), "--port", str(taken.getsockname()[1])], "in use")
    assert files(ok) == before


def files(folder) -> dict:
    """What a store folder holds: its database and write-ahead log (an empty one where SQLite has none open) and
    nothing else (SQLite's shared-memory index aside: any reader maps one)."""
    def read(name: str) -> bytes:
        return (folder / name).read_bytes() if (folder / name).exists() else b""

    others = sorted(p.name for p in folder.iterdir()
                    if p.name.removeprefix("nnstudy.sqlite") not in ("", "-wal", "-shm"))
    return {"db": read("nnstudy.sqlite"), "wal": read("nnstudy.sqlite-wal"), "others": others}


def test_serve_on_ipv6_loopback_answers(store):
    """--host ::1: the browser sends Host: [::1]:PORT, which the loopback check once refused (400)."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "nnstudy", "serve", "--store", str(store[0]), "--host", "::1",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, data = time.time() + 60, None
        while time.time() < deadline and data is None:
            try:
                with urllib.request.urlopen(f"http://[::1]:{port}/api/studies", timeout=5) as r:
                    data = json.loads(r.read())
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.2)
        assert data is not None and {s["name"] for s in data["studies"]} == {"done-study", "live-study"}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"on http://[::1]:{port}/" in out


def test_a_postgresql_store_is_read_and_never_written(pg_url):
    spec, _, _ = read_study({"study": {"name": "team", "description": HOSTILE}, "data": {"name": "moons"},
                             "train": {"epochs": 5}, "trials": {"seeds": 2}})
    trials = expand(spec)
    db = Store(pg_url)
    db.register("team", HOSTILE, spec.model_dump(mode="json"), "", "classification", ["val_accuracy"], [], trials, {})
    assert db.claim("team", trials[0].trial_id)
    db.add_epochs("team", [(trials[0].trial_id, 1, {"train_loss": 0.5}), (trials[0].trial_id, 2, {"train_loss": 0.4})])
    client = TestClient(make_app(pg_url))
    data = client.get("/api/study", params={"name": "team"}).json()
    assert [(r["trial_id"], r["epoch"], r["epochs"]) for r in data["running"]] == [(trials[0].trial_id, 2, 5)]
    assert data["curves"]["train_loss"][0]["mean"] == [0.5, 0.4]
    assert "&lt;script&gt;" in client.get("/study", params={"name": "team"}).text
    from nnstudy.serve import reader
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="read-only transaction"):
        with reader(pg_url).engine.begin() as c:
            c.exec_driver_sql("DELETE FROM epochs")
    assert len(db.find_trials(trials[0].trial_id)[0]["history"]) == 2


def test_a_trial_whose_run_was_killed_is_shown_as_such(tmp_path):
    import sqlite3

    spec, _, _ = read_study({"study": {"name": "killed"}, "data": {"name": "moons"}, "train": {"epochs": 5},
                             "trials": {"seeds": 1}})
    trials = expand(spec)
    db = Store(tmp_path / "runs")
    db.register("killed", "", spec.model_dump(mode="json"), "", "classification", ["val_accuracy"], [], trials, {})
    assert db.claim("killed", trials[0].trial_id)
    db.add_epochs("killed", [(trials[0].trial_id, 1, {"train_loss": 0.5})])
    with sqlite3.connect(tmp_path / "runs" / "nnstudy.sqlite") as con:  # the run was killed: its pid is gone
        con.execute("UPDATE trials SET owner = ? WHERE status = 'running'", (f"{socket.gethostname()}:4194303",))
    client = TestClient(make_app(tmp_path / "runs"))
    (running,) = client.get("/api/study", params={"name": "killed"}).json()["running"]
    assert running["alive"] is False and running["eta_s"] is None and running["epoch"] == 1
    assert "its process is gone" in client.get("/study", params={"name": "killed"}).text


RAISES_AT_3 = '''
def train(config, seed, data, report):
    for epoch in range(1, config["train"]["epochs"] + 1):
        if epoch == 3:
            raise RuntimeError("out of memory at epoch 3")
        report(epoch, train_loss=1.0 / epoch + seed, val_loss=2.0 / epoch)
    return {"test_accuracy": 0.5}
'''


def test_a_failed_trial_keeps_the_epochs_it_ended(tmp_path, capsys):
    """A trial that raises keeps the epochs stored as they ended (they were once dropped when it failed): `nnstudy
    show` prints them, and the dashboard lists the trial with its error."""
    (tmp_path / "fails.py").write_text(RAISES_AT_3)
    study = api.run({"study": {"name": "fails"}, "data": {"name": "moons", "n_samples": 100},
                     "train": {"function": f"{tmp_path / 'fails.py'}:train", "epochs": 5}, "trials": {"seeds": 1}},
                    store=tmp_path / "runs", workers=1)
    (tid,) = study.trials()["trial_id"]
    (trial,) = Store(tmp_path / "runs", create=False).find_trials(tid)
    assert trial["status"] == "failed" and "out of memory at epoch 3" in trial["error"]
    got = sorted(trial["history"].itertuples(index=False, name=None))
    assert got == [(1, "train_loss", 1.0), (1, "val_loss", 2.0), (2, "train_loss", 0.5), (2, "val_loss", 1.0)]
    capsys.readouterr()
    assert main(["show", tid, "--store", str(tmp_path / "runs")]) == 0
    shown = capsys.readouterr().out
    assert "status failed" in shown and "0.5" in shown.split("val_loss")[-1]
    (problem,) = TestClient(make_app(tmp_path / "runs")).get("/api/study", params={"name": "fails"}).json()["problems"]
    assert problem["trial_id"] == tid and "out of memory at epoch 3" in problem["error"]
