"""Executor overhead: 200 one-second trials on the local executor, then on a local Ray, on this machine.

Each trial sleeps one second instead of training. BENCHMARK ONLY: this script swaps the torch engine
for `SleepEngine` in its own process and in every worker (pool workers re-import this script; Ray
workers run `install` as their setup hook); the product never registers it. Everything else is the
real path: claim in the store, submit, wait, write the outcome. Per-trial overhead is what a trial
costs beyond its own second: wall time x workers / trials - 1 s, without and with the time to start
Ray (`ray.init`; the local executor's process pool starts inside its run).

    python benchmarks/executor_overhead.py [--trials 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time

from rich.console import Console

from nnstudy.api import prepare
from nnstudy.engines import TrialResult
from nnstudy.executor import connect
from nnstudy.store import Store

SLEEP_S = 1.0


class SleepEngine:
    """Benchmark-only stand-in for an engine: one epoch that sleeps SLEEP_S."""

    name = "torch"

    def train(self, trial, data, on_epoch, device="cpu") -> TrialResult:
        time.sleep(SLEEP_S)
        on_epoch(1, {"train_loss": 0.0})
        return TrialResult("done", {"test_accuracy": 1.0, "train_time_s": SLEEP_S, "epochs_run": 1},
                           [{"epoch": 1, "train_loss": 0.0}])

    def group_key(self, trial):
        return None


def install() -> None:
    from nnstudy.engines import ENGINES  # looked up where it runs (Ray ships this function by value)

    ENGINES["torch"] = SleepEngine()


install()  # here, and in each spawned pool worker, which imports this file again


def study(n: int) -> dict:
    return {"study": {"name": "overhead"}, "data": {"name": "moons", "n_samples": 100},
            "model": {"hidden": [2]}, "train": {"epochs": 1}, "trials": {"seeds": n}}


def measure(kind: str, n: int, workers: int) -> tuple[float, float]:
    """(seconds to connect, seconds to run n trials) with a fresh SQLite store."""
    spec, trials, text, task, metrics, _ = prepare(study(n))
    start = time.perf_counter()
    if kind == "ray":
        import ray

        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"worker_process_setup_hook": install})
    connected = time.perf_counter()
    try:
        with connect(kind, None, workers) as Executor, tempfile.TemporaryDirectory() as folder:
            db = Store(folder)
            db.register("overhead", "", spec.model_dump(mode="json"), text, task, metrics, [], trials, {})
            summary = Executor(db, "overhead", workers, "cpu", False, Console(file=io.StringIO())).run(trials)
            assert summary.ok and len(summary.outcomes) == n, summary
            assert (db.snapshot("overhead").trials.train_time_s == SLEEP_S).all(), "a worker trained for real"
    finally:
        if kind == "ray":
            ray.shutdown()
    return connected - start, time.perf_counter() - connected


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    print(f"{args.trials} trials of {SLEEP_S:.0f} s on {args.workers} workers; ideal wall time "
          f"{args.trials * SLEEP_S / args.workers:.0f} s")
    print(f"{'executor':<10}{'start s':>9}{'run s':>9}{'overhead/trial s':>18}{'with start':>12}")
    for kind in ("local", "ray"):
        startup, wall = measure(kind, args.trials, args.workers)
        per_trial = [t * args.workers / args.trials - SLEEP_S for t in (wall, startup + wall)]
        print(f"{kind:<10}{startup:>9.2f}{wall:>9.1f}{per_trial[0]:>18.3f}{per_trial[1]:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
