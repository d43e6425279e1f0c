"""Threads and timing conditions (issue 16 items 3 and 5): --threads per trial, honoured where the trial trains
and recorded with its device, host and versions; the report warns when a timing mixes conditions; a search
starts its worker pool once."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pandas as pd
import pytest

import nnstudy
import nnstudy.api
from nnstudy.cli import main
from nnstudy.executor import _local, _threads, _worker

TRAIN_PY = '''
import torch
from threadpoolctl import threadpool_info


def threads_seen(config, seed, data, report):
    """Reports the intra-op threads torch and the BLAS pools use inside the trial."""
    blas = max([p["num_threads"] for p in threadpool_info()] or [0])
    report(1, train_loss=float(torch.get_num_threads()), val_loss=float(blas))
    return {"test_accuracy": 0.5 + seed / 100}
'''


def write(tmp_path, seeds: int):
    (tmp_path / "train.py").write_text(TRAIN_PY)
    study = tmp_path / "th.toml"
    study.write_text(textwrap.dedent(f"""
        [study]
        name = "th"
        [data]
        name = "iris"
        [train]
        function = "train.py:threads_seen"
        epochs = 1
        [trials]
        seeds = {seeds}
        [report]
        metrics = ["test_accuracy", "train_time_s"]
        """))
    return study


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))


def test_threads_are_honoured_recorded_and_a_mix_is_warned_about(tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    study, store = write(tmp_path, seeds=1), tmp_path / "runs"
    assert main(["run", str(study), "--store", str(store), "--workers", "1", "--threads", "1"]) == 0
    assert torch.get_num_threads() == before  # the caller's setting is restored after the run
    first = pd.read_csv(store / "th" / "trials.csv")
    assert first.loc[0, "train_loss"] == 1.0 and first.loc[0, "val_loss"] <= 1.0  # torch and BLAS inside the trial
    assert (first.loc[0, "threads"], first.loc[0, "device"], first.loc[0, "executor"]) == (1, "cpu", "local")
    assert first.loc[0, "torch_version"] == torch.__version__ and first.loc[0, "nnstudy_version"]
    assert "Warning" not in (store / "th" / "report.md").read_text()  # one condition only: nothing to say

    capsys.readouterr()
    assert main(["show", first.loc[0, "trial_id"], "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "ran under: device=cpu, threads=1, host=" in shown and f"torch={torch.__version__}" in shown

    study.write_text(study.read_text().replace("seeds = 1", "seeds = 2"))  # the same study, a second seed
    assert main(["run", str(study), "--store", str(store), "--workers", "1", "--threads", "2"]) == 0
    both = pd.read_csv(store / "th" / "trials.csv").set_index("seed")
    assert both.loc[1, "train_loss"] == 2.0 and both.loc[1, "threads"] == 2 and both.loc[0, "threads"] == 1
    conditions = sqlite3.connect(store / "nnstudy.sqlite").execute(
        "SELECT conditions_json FROM trials ORDER BY seed").fetchall()
    assert [json.loads(c)["threads"] for (c,) in conditions] == [1, 2]
    md = (store / "th" / "report.md").read_text()
    warning = [line for line in md.splitlines() if line.startswith("Warning")]
    assert len(warning) == 1 and r"train\_time\_s mixes" in warning[0] and "(threads 1, 2)" in warning[0], md
    assert "train_time_s mixes trials run under different conditions (threads 1, 2)" in \
        (store / "th" / "report.html").read_text()


@pytest.mark.parametrize("value, message", [("0", "--threads 0: must be at least 1"),
                                            ("-1", "--threads -1: must be at least 1"),
                                            ("many", "invalid int value: 'many'")])
def test_bad_threads_is_one_line_and_exit_2(tmp_path, capsys, value, message):
    study = write(tmp_path, seeds=1)
    assert main(["run", str(study), "--store", str(tmp_path / "runs"), "--threads", value]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_bad_threads_from_python_is_a_study_error(tmp_path):
    with pytest.raises(nnstudy.StudyError, match="--threads 0"):
        nnstudy.run(write(tmp_path, seeds=1), store=tmp_path / "runs", threads=0)
    assert not (tmp_path / "runs").exists()


def test_default_threads_divide_the_cores_among_the_workers(monkeypatch):
    monkeypatch.setattr(_threads, "cores", lambda: 2)
    assert _threads.trial_threads(None, 1) == 2  # --workers 1 on two cores: both
    assert _threads.trial_threads(None, 2) == 1
    assert _threads.trial_threads(None, None) == 1  # default workers: one per core
    assert _threads.trial_threads(None, 3) == 1  # never fewer than one
    assert _threads.trial_threads(3, 1) == 3  # --threads wins


IRIS_SEARCH = {"study": {"name": "pool"}, "data": {"name": "iris"}, "model": {"hidden": [8]},
               "train": {"epochs": 2, "batch_size": 16},
               "search": {"method": "grid", "trials": 3, "space": {"train.lr": {"choices": [0.2, 0.1, 0.05]}}},
               "trials": {"seeds": 2}, "report": {"metrics": ["val_accuracy", "train_time_s"]}}


def test_a_search_starts_its_worker_pool_once_and_trains_as_a_grid_does(tmp_path, monkeypatch):
    starts = []

    class CountedPool(_local.ProcessPoolExecutor):
        def __init__(self, *args, **kw):
            starts.append(kw.get("max_workers"))
            super().__init__(*args, **kw)

    monkeypatch.setattr(_local, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(nnstudy.api.Study, "report", lambda self, out=None: [])  # the trials, not the figures
    search = nnstudy.run(IRIS_SEARCH, store=tmp_path / "search", workers=2, threads=1)
    assert starts == [2]  # three batches (one configuration, two seeds each) through one pool
    found = search.trials().set_index("trial_id").sort_index()
    assert len(found) == 6 and set(found.status) == {"done"} and set(found.threads) == {1}
    grid = {**{k: v for k, v in IRIS_SEARCH.items() if k != "search"}, "sweep": {"train.lr": [0.2, 0.1, 0.05]}}
    inline = nnstudy.run(grid, store=tmp_path / "grid", workers=1, threads=1).trials().set_index("trial_id")
    assert list(inline.sort_index().index) == list(found.index)  # the same trials, trained in the driver
    for col in ("val_loss", "train_loss", "test_accuracy"):
        pd.testing.assert_series_equal(found[col], inline.sort_index()[col])


@pytest.mark.parametrize("threads", [1, 2])
def test_a_workers_limit_reaches_torch_imported_after_it(threads):
    """set_process_threads leaves torch unimported (a NumPy-engine or classical worker never needs it); a torch
    imported later takes the limit from the variables, as torch.set_num_threads would have set it."""
    import subprocess
    import sys

    code = ("import sys; from nnstudy.executor._threads import set_process_threads; "
            f"set_process_threads({threads}); before = 'torch' in sys.modules; import torch; "
            "from threadpoolctl import threadpool_info; "
            "print(before, torch.get_num_threads(), sorted({p['num_threads'] for p in threadpool_info()}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(maxsplit=2)
    assert out[:2] == ["False", str(threads)] and out[2].strip() == f"[{threads}]"


ALONE = {"study": {"name": "alone"}, "data": {"name": "moons", "n_samples": 200}, "model": {"hidden": [8]},
         "train": {"epochs": 2, "batch_size": 32}, "trials": {"seeds": 2},
         "report": {"metrics": ["val_accuracy", "train_time_s"]}}
LOCKSTEP = {**ALONE, "study": {"name": "lockstep"},
            "search": {"method": "grid", "trials": 1, "pruner": "median", "space": {"train.lr": {"choices": [0.1]}}}}


@pytest.mark.parametrize("spec, stack", [(ALONE, "on"), (LOCKSTEP, "off")], ids=["stack", "lockstep"])
@pytest.mark.parametrize("threads, expected", [(None, 3), (1, 1)])
def test_a_stack_or_the_lockstep_alone_in_the_driver_takes_every_core(tmp_path, monkeypatch, spec, stack,
                                                                      threads, expected):
    """Nothing trains beside them on the CPU, so by default they use every core, not a pool worker's share."""
    import torch

    from nnstudy.engines._torch import _train

    seen = []
    monkeypatch.setattr(_threads, "cores", lambda: 3)
    for module, name in ((_worker, "run_stack"), (_train, "train_trial")):
        original = getattr(module, name)

        def spy(*args, _original=original, **kw):
            seen.append(torch.get_num_threads())
            return _original(*args, **kw)
        monkeypatch.setattr(module, name, spy)
    monkeypatch.setattr(nnstudy.api.Study, "report", lambda self, out=None: [])
    study = nnstudy.run(spec, store=tmp_path / "runs", stack=stack, threads=threads, device="cpu")
    trials = study.trials()
    assert len(trials) == 2 and set(trials.status) == {"done"}
    assert seen and set(seen) == {expected}
    assert set(trials.threads) == {expected}
    assert set(trials.stacked.dropna()) == ({2} if stack == "on" else set())
