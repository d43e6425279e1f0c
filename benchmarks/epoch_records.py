"""What per-epoch records cost: a fast study trained with and without writing each epoch as it ends.

The study (default: studies/moons-depth.toml, 15 trials, --epochs 20) is trained through the local
executor into a fresh SQLite store, alternately with per-epoch records on (the product) and off
(``Store.add_epochs`` replaced by a no-op in this process: the history is then written only when each
trial ends, as before per-epoch records), --repeats times each, one thread per trial. Prints the
median wall time of each and the difference.

    python benchmarks/epoch_records.py [--study studies/moons-depth.toml] [--epochs 20] [--workers 1]
                                       [--stack off|on] [--repeats 3] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time

from rich.console import Console

from nnstudy.api import prepare
from nnstudy.executor import connect
from nnstudy.store import Store


def measure(source: str, epochs: int, workers: int, stack: str, records: bool, overrides: dict | None = None
            ) -> tuple[float, float, int, float, int]:
    """(seconds to train every trial, CPU seconds of this process meanwhile, epoch rows written as epochs
    ended, seconds inside those writes, transactions)."""
    spec, trials, text, task, metrics, _ = prepare(source, {**(overrides or {}), "train.epochs": epochs})
    written, spent = [], []
    real = Store.add_epochs

    def counted(self, name, recs):
        start = time.perf_counter()
        written.append(real(self, name, recs) if records else 0)
        spent.append(time.perf_counter() - start)
        return written[-1]

    Store.add_epochs = counted
    try:
        with connect("local", None, workers) as Executor, tempfile.TemporaryDirectory() as folder:
            db = Store(folder)
            db.register(spec.study.name, "", spec.model_dump(mode="json"), text, task, metrics, [], trials, {})
            start, cpu = time.perf_counter(), time.process_time()
            summary = Executor(db, spec.study.name, workers, "cpu", False, Console(file=io.StringIO()),
                               stack).run(trials)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert summary.ok, summary
    finally:
        Store.add_epochs = real
    return wall, cpu, sum(written), sum(spent) if records else 0.0, len(spent) if records else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="studies/moons-depth.toml")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--stack", default="off", choices=["off", "on"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the study, e.g. --set data.name=digits (repeatable)")
    args = p.parse_args()
    from nnstudy.spec import parse_overrides

    overrides = parse_overrides(args.set, args.study)
    times: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    rows, inside, calls = 0, [], 0
    for _ in range(args.repeats):
        for records in (False, True):
            wall, cpu, n, spent, transactions = measure(args.study, args.epochs, args.workers, args.stack, records, overrides)
            times[records].append(wall)
            cpus[records].append(cpu)
            if records:
                rows, calls = n, transactions
                inside.append(spent)
            print(f"  per-epoch records {'on ' if records else 'off'}: {wall:.2f} s, this process's CPU {cpu:.2f} s"
                  + (f" ({spent:.3f} s inside {transactions} writes)" if records else ""), flush=True)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
    spent = statistics.median(inside)
    print(f"{args.study} {' '.join(args.set)} epochs={args.epochs} workers={args.workers} stack={args.stack}: median off {off:.2f} s, "
          f"on {on:.2f} s, difference {on - off:+.2f} s ({100 * (on - off) / off:+.1f} %); {rows} epoch rows in "
          f"{calls} transactions, {spent:.3f} s inside them ({100 * spent / on:.2f} % of the wall time; the "
          f"driver writes while pool workers train); this process's CPU: median off {cpu_off:.2f} s, on {cpu_on:.2f} s "
          f"({100 * (cpu_on - cpu_off) / cpu_off:+.1f} %)")


if __name__ == "__main__":
    main()
