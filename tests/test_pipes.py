"""A reader that leaves early (`| head`, a `less` quit at once): `nnstudy run` stops as Ctrl-C stops it (its
running trials handed back, exit 130), other commands end quietly (exit 141); never a traceback, and never a
trial left `running` by a run that exited 1 as if trials had failed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from conftest import write_study

STUDY = """
[study]
name = "piped"
[data]
name = "moons"
n_samples = 400
[model]
hidden = [8]
[train]
epochs = {epochs}
batch_size = 32
[trials]
seeds = {seeds}
"""


def _statuses(store) -> dict[str, int]:
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        return dict(c.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())


@pytest.mark.parametrize("stream", ["stdout", "stderr"], ids=["json-on-stdout", "lines-on-stderr"])
def test_run_whose_reader_leaves_stops_and_hands_its_trials_back(tmp_path, stream):
    study, store = write_study(tmp_path, STUDY.format(epochs=3, seeds=40), "piped.toml"), tmp_path / "s"
    args = [sys.executable, "-m", "nnstudy", "run", str(study), "--store", str(store), "--workers", "2"]
    args += ["--json"] if stream == "stdout" else []
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    piped, other = (run.stdout, run.stderr) if stream == "stdout" else (run.stderr, run.stdout)
    assert "40" in piped.readline()  # the start: 40 trials to train
    piped.close()  # the reader leaves before the first trial ends
    rest = other.read()
    assert run.wait(120) == 130, rest
    assert "Traceback" not in rest
    statuses = _statuses(store)
    assert "running" not in statuses and statuses.get("pending", 0) > 0, statuses


def test_show_whose_reader_leaves_ends_quietly(tmp_path):
    (tmp_path / "long.py").write_text("def train(config, seed, data, report):\n"
                                      "    for epoch in range(1, config['train']['epochs'] + 1):\n"
                                      "        report(epoch, train_loss=1.0 / epoch, val_accuracy=0.5)\n")
    study = write_study(tmp_path, '[study]\nname = "piped"\n[data]\nname = "iris"\n[train]\n'
                                  'function = "long.py:train"\nepochs = 3000\n', "piped.toml")
    store = tmp_path / "s"
    assert subprocess.run([sys.executable, "-m", "nnstudy", "run", str(study), "--store", str(store), "--quiet"],
                          capture_output=True).returncode == 0
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        trial = c.execute("SELECT trial_id FROM trials").fetchone()[0]
    show = subprocess.Popen([sys.executable, "-m", "nnstudy", "show", trial, "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert trial in show.stdout.readline()
    show.stdout.close()  # its 3,000 history rows (more than a pipe holds) are still to come
    assert show.stderr.read() == "" and show.wait(60) == 141
