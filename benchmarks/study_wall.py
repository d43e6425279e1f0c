"""A whole study's wall time, split into start, training and report (issue 21).

    python benchmarks/study_wall.py [studies/seed-variance.toml] [--device cuda] [--set KEY=VALUE ...] [--repeat 2]

Runs ``nnstudy run STUDY --json`` into a fresh store, as a user would, and stamps each event line as it
arrives. Training is the sum of the trials' ``train_time_s`` (a stack's epoch loops, shared among its
trials); the rest of the time up to the last trial's line is the start (imports, data, models, graph
capture), the per-epoch evaluations and the artifacts; after it comes the report. Printed per run, then
the fastest run's "start + report" (everything that is not training) against the ≤ 4 s target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time


def one_run(study: str, device: str, sets: list[str], stack: str = "auto") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as store:
        cmd = [sys.executable, "-m", "nnstudy", "run", study, "--json", "--store", store, "--device", device,
               "--stack", stack]
        cmd += [a for s in sets for a in ("--set", s)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        stamps: dict[str, float] = {}
        train = 0.0
        for line in proc.stdout:
            now = time.perf_counter() - t0
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = event.get("event")
            stamps.setdefault(f"first {kind}", now)
            stamps[f"last {kind}"] = now
            if kind == "trial":
                train += float(event.get("final", {}).get("train_time_s", 0.0))
            if kind == "error":
                raise SystemExit(f"nnstudy run failed: {event.get('message')}")
        proc.wait()
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"nnstudy run exited {proc.returncode}")
    return {"wall": wall, "to start line": stamps["first start"], "training": train,
            "start line to last trial": stamps["last trial"] - stamps["first start"],
            "report (last trial to end line)": stamps["last end"] - stamps["last trial"],
            "after the end line": wall - stamps["last end"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", nargs="?", default="studies/seed-variance.toml")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--stack", default="auto", help="on: the stacked path on the CPU too (a proxy of a GPU run)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    runs = [one_run(args.study, args.device, args.set, args.stack) for _ in range(args.repeat)]
    names = list(runs[0])
    print(f"{args.study} --device {args.device} --stack {args.stack} {' '.join('--set ' + s for s in args.set)}\n")
    print("| run | " + " | ".join(names) + " | not training |")
    print("|---:|" + "---:|" * (len(names) + 1))
    for i, r in enumerate(runs, 1):
        print(f"| {i} | " + " | ".join(f"{r[n]:.2f}" for n in names) + f" | {r['wall'] - r['training']:.2f} |")
    best = min(runs, key=lambda r: r["wall"])
    rest = best["wall"] - best["training"]
    print(f"\nfastest run: wall {best['wall']:.2f} s (target <= 15 s: ratio {best['wall'] / 15:.2f}); "
          f"start + report (all but training) {rest:.2f} s (target <= 4 s: ratio {rest / 4:.2f})")


if __name__ == "__main__":
    main()
