"""The batch-size report's wall time on this machine, against the 2 s target (issue 21).

Runs ``nnstudy report batch-size@epochs=2`` as a fresh process (what a user types) `--repeat` times into a
temporary folder and prints each run's wall seconds and CPU seconds (user + system, the forked figure
workers included), then the fastest wall time and its ratio to the target. The 2-epoch variant draws the
same figures as the 20-epoch study (6 trials, 9 figures); when the store lacks it, it is trained first
(about 2 minutes on 2 idle cores):

    python benchmarks/report_time.py [--store /tmp/report-bench] [--repeat 5]

The machine's load average is printed before and after: on a shared machine the wall time says little
unless the load was below the number of cores. The modules the report imports are compiled into Python's
bytecode cache first (warm_bytecode.py), as an installed package has them: with PYTHONDONTWRITEBYTECODE set
(as on this machine) a source file changed since its cache was written is compiled again by every run, which
cost 0.05-0.3 s of a 1.7 s report after a session's edits (the nnstudy modules it imports).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0
ROOT = Path(__file__).resolve().parents[1]
STUDY = "batch-size@epochs=2"


def nnstudy(*args: str) -> list[str]:
    return [sys.executable, "-m", "nnstudy", *args]


def ensure_study(store: str, out: str) -> None:
    """Train the 2-epoch variant into `store` unless it is there; one report either way, untimed (it warms the
    file cache as any later run finds it)."""
    if subprocess.run(nnstudy("report", STUDY, "--store", store, "--out", out), capture_output=True).returncode:
        print(f"training {STUDY} into {store} (about 2 minutes on 2 idle cores) ...", flush=True)
        subprocess.run(nnstudy("run", str(ROOT / "studies" / "batch-size.toml"), "--set", "train.epochs=2",
                               "--store", store, "--quiet"), check=True)


def one_report(store: str, out: str) -> tuple[float, float]:
    """(wall s, CPU s of the process and its children) of one `nnstudy report`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(nnstudy("report", STUDY, "--store", store, "--out", out), check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default=os.path.join(tempfile.gettempdir(), "nnstudy-report-bench"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "warm_bytecode.py")], check=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as out:
        ensure_study(args.store, out)
        for i in range(args.repeat):
            wall, cpu = one_report(args.store, out)
            walls.append(wall)
            cpus.append(cpu)
            print(f"run {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    best = min(walls)
    print(f"nnstudy report {STUDY}: fastest {best:.2f} s wall (median {statistics.median(walls):.2f} s), "
          f"fastest CPU {min(cpus):.2f} s; target {TARGET_S:.1f} s: ratio {best / TARGET_S:.2f} "
          f"({'met' if best <= TARGET_S else 'not met'})")


if __name__ == "__main__":
    main()
