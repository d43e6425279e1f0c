"""report/_early_tests.py: the summary a forked process tests is the one `add_tests` makes here, and the report
tests in its own process where that process cannot fork, died, or failed (raising the same error)."""

import pandas as pd
import pytest

from nnstudy.report import _early_tests
from nnstudy.report._stats import analyze
from nnstudy.store import StudySnapshot

SEEDS = {0.1: {0: 0.861, 1: 0.874, 2: 0.869, 3: 0.880}, 0.01: {0: 0.857, 1: 0.869, 2: 0.866, 3: 0.875},
         0.001: {4: 0.80, 0: 0.81, 2: 0.79}}


def _snapshot() -> StudySnapshot:
    rows = [{"trial_id": f"t{lr}{seed}", "seed": seed, "status": "done", "error": None, "train.lr": lr,
             "test_accuracy": acc, "val_accuracy": acc - 0.01, "train_time_s": 1.0 + seed}
            for lr, by_seed in SEEDS.items() for seed, acc in by_seed.items()]
    history = pd.DataFrame([(r["trial_id"], 1, "train_loss", 0.5) for r in rows],
                           columns=["trial_id", "epoch", "metric", "value"])
    return StudySnapshot(name="early", description="", spec={}, source="", task="classification",
                         metrics=["test_accuracy", "val_accuracy", "train_time_s"], swept_keys=["train.lr"],
                         trials=pd.DataFrame(rows), history=history)


def test_the_forked_process_tests_as_add_tests_does():
    expected = analyze(_snapshot()).summary
    assert {"p_welch", "p_paired", "iqm_boot_low", "seeds_needed"} <= set(expected.columns)  # scipy's and statsmodels'
    early = _early_tests.start()
    assert early is not None
    a = analyze(_snapshot(), tests=False)
    early.send(a)
    early.complete(a)
    pd.testing.assert_frame_equal(a.summary, expected, check_exact=True)
    assert not early.process.is_alive()


def test_tested_here_where_that_process_died():
    early = _early_tests.start()
    early.process.kill()
    early.process.join()
    a = analyze(_snapshot(), tests=False)
    early.send(a)
    early.complete(a)
    pd.testing.assert_frame_equal(a.summary, analyze(_snapshot()).summary, check_exact=True)


def test_its_error_is_raised_here(monkeypatch):
    def broken(a):
        raise ZeroDivisionError("in a test")

    monkeypatch.setattr(_early_tests, "add_tests", broken)  # there (the process forks with it) and here
    early = _early_tests.start()
    a = analyze(_snapshot(), tests=False)
    early.send(a)
    with pytest.raises(ZeroDivisionError, match="in a test"):
        early.complete(a)
    assert not early.process.is_alive()


def test_an_analysis_that_does_not_pickle_is_tested_here():
    early = _early_tests.start()
    a = analyze(_snapshot(), tests=False)
    a.snap.spec = {"report": {"hook": lambda: None}}  # a function does not pickle (no test reads it)
    early.send(a)
    assert not early.sent
    early.complete(a)
    pd.testing.assert_frame_equal(a.summary, analyze(_snapshot()).summary, check_exact=True)


def test_no_process_where_forking_is_unsafe(monkeypatch):
    monkeypatch.setattr(_early_tests.threading, "active_count", lambda: 2)
    assert _early_tests.start() is None


def test_a_cpu_runs_report_tests_in_the_forked_process(tmp_path, monkeypatch):
    from nnstudy import api
    from nnstudy.report._stats import analyze

    started = []
    real = _early_tests.start
    monkeypatch.setattr(_early_tests, "start", lambda: started.append(real()) or started[-1])
    study = api.run({"study": {"name": "early-run"}, "data": {"name": "moons", "n_samples": 200},
                     "model": {"hidden": [8]}, "train": {"epochs": 2, "batch_size": 32},
                     "trials": {"seeds": 2}, "sweep": {"train.lr": [0.3, 0.03]}},
                    store=tmp_path / "store", workers=1, device="cpu")
    assert len(started) == 1 and started[0] is not None and not started[0].process.is_alive()
    written = pd.read_csv(study.report_dir / "results.csv")
    expected = analyze(study.snapshot()).summary
    assert written["p_welch"].notna().any()
    pd.testing.assert_series_equal(written["p_welch"], expected["p_welch"], check_exact=False, rtol=1e-12)
