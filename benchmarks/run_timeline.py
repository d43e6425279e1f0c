"""Where a study's wall time goes outside its training steps: a timeline of one ``nnstudy.run`` (issue 21).

    python benchmarks/run_timeline.py [studies/seed-variance.toml] [--device cuda] [--stack on] [--set KEY=VALUE ...]

Runs the study into a fresh store in this process, with the pipeline's phases wrapped in timers: reading the
study file, the data, the models' check, the store, the plan (where torch is imported), the stack's data on
the device, its starting weights, the stepper (on CUDA the graph capture), each epoch's steps, evaluation and
records, the artifacts, storing the trials, and the report's parts. Prints one row per phase (calls, seconds
in it, when it first began and last ended, from the process's start), then the time the steps took against
everything else. Nested phases overlap their parents: the table is a timeline, not a sum.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import tempfile
import threading
import time


def _process_start() -> float:
    """perf_counter's value when this process began (Linux; else now)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.perf_counter() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.perf_counter()


T0 = _process_start()
PHASES: dict[str, list[float]] = {}  # name -> [calls, seconds, first start, last end]
MAIN = threading.main_thread()

# (module, attribute path, phase name): each wrapped where the pipeline looks it up. Three stages, each
# wrapped once its modules are imported by the run itself (wrapping them earlier would import torch or
# matplotlib before the run and move their cost out of the phases that pay it)
EARLY = [
    ("nnstudy.api", "prepare", "study file read and validated"),
    ("nnstudy.data", "load", "data loaded"),
    ("nnstudy.api", "check_models", "models checked on the data"),
    ("nnstudy.store", "Store.__init__", "store opened"),
    ("nnstudy.store._store", "Store.register", "study registered"),
    ("nnstudy.executor._driver", "Driver.progress", "progress display"),
    ("nnstudy.executor._worker", "preload", "data handed to the trainer"),
    ("nnstudy.executor._worker", "run_stack", "stack: all of it"),
    ("nnstudy.executor._driver", "Driver.epochs_ended", "epochs stored"),
    ("nnstudy.executor._driver", "Driver.record", "trial stored"),
    ("nnstudy._prefetch", "join", "report imports joined"),
]
TORCH = [  # wrapped when the plan returns (it imports the engines)
    ("nnstudy.engines._torch._tensors", "DeviceData.from_dataset", "stack: data to the device"),
    ("nnstudy.engines._torch._stack_train", "draw_stack", "stack: starting weights"),
    ("nnstudy.engines._torch._stack_train", "StackedMLP.__init__", "stack: stacked network"),
    ("nnstudy.engines._torch._stack_train", "ArtifactModels.__init__", "stack: artifact models"),
    ("nnstudy.engines._torch._stack_train", "StackedOptimizer.__init__", "stack: optimizer"),
    ("nnstudy.engines._torch._stack_train", "LearningRates.__init__", "stack: learning rates"),
    ("nnstudy.engines._torch._stack_train", "Stepper.__init__", "stack: stepper (CUDA graph capture)"),
    ("nnstudy.engines._torch._stack_train", "Stepper.epoch", "stack: steps (an epoch's)"),
    ("nnstudy.engines._torch._stack_train", "evaluate_stacked", "stack: evaluation"),
    ("nnstudy.engines._torch._stack_train", "_trial_artifacts", "stack: artifacts (per trial, threads)"),
    ("nnstudy.engines._common", "EpochLog.record", "stack: epoch log (per trial)"),
]
REPORT = [  # wrapped when the report begins
    ("nnstudy.store._store", "Store.snapshot", "report: snapshot"),
    ("nnstudy.report", "analyze", "report: analysis"),
    ("nnstudy.report._early_tests", "start", "report: tests process forked"),
    ("nnstudy.report._figures", "start_figures", "report: figure workers forked"),
    ("nnstudy.report._tables", "write_csvs", "report: csv"),
    ("nnstudy.report._tables", "write_texts", "report: md, tex"),
    ("nnstudy.report._html", "write_html", "report: html"),
    ("nnstudy.report._draw_all", "_finish", "report: figures drawn here, workers awaited"),
]


def _timed(fn, name: str):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            end = time.perf_counter()
            row = PHASES.setdefault(name, [0, 0.0, t - T0, 0.0])
            row[0] += 1
            row[1] += end - t
            row[3] = end - T0
    return wrapper


def install(wrapped: list[tuple[str, str, str]]) -> None:
    for module, path, name in wrapped:
        owner = importlib.import_module(module)
        *outer, attr = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        fn = owner.__dict__[attr] if attr in getattr(owner, "__dict__", {}) else getattr(owner, attr)
        wrapped = classmethod(_timed(fn.__func__, name)) if isinstance(fn, classmethod) else _timed(fn, name)
        setattr(owner, attr, wrapped)


def install_all() -> None:
    """EARLY now; TORCH when the plan returns; REPORT when the report begins."""
    import nnstudy.api
    import nnstudy.executor._local as local

    install(EARLY)
    plan = local.plan

    def plan_then_wrap(*args, **kwargs):
        out = plan(*args, **kwargs)
        if "torch" in sys.modules and not getattr(plan_then_wrap, "done", False):
            install(TORCH)
            plan_then_wrap.done = True
        return out

    local.plan = _timed(plan_then_wrap, "plan (imports torch)")
    report = nnstudy.api.Study.report

    def report_then_wrap(self, *args, **kwargs):
        install(REPORT)
        return report(self, *args, **kwargs)

    nnstudy.api.Study.report = _timed(report_then_wrap, "report: all of it")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", nargs="?", default="studies/seed-variance.toml")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--stack", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    import nnstudy

    t_import = time.perf_counter() - T0
    install_all()
    from nnstudy.spec._load import parse_overrides
    sets = parse_overrides(args.set, "--set")
    with tempfile.TemporaryDirectory() as store:
        t = time.perf_counter()
        study = nnstudy.run(args.study, store=store, set=sets or None, device=args.device, stack=args.stack)
        end = time.perf_counter() - T0
        done = study.trials()
    steps = PHASES.get("stack: steps (an epoch's)", [0, 0.0])[1]
    print(f"{args.study} --device {args.device} --stack {args.stack} {' '.join('--set ' + s for s in args.set)}: "
          f"{len(done)} trials, {int((done['status'] == 'done').sum())} done\n")
    print("| phase | calls | seconds | began at | ended at |\n|---|---:|---:|---:|---:|")
    print(f"| interpreter and `import nnstudy` | 1 | {t_import:.3f} | 0.000 | {t_import:.3f} |")
    for name, (calls, secs, first, last) in sorted(PHASES.items(), key=lambda kv: kv[1][2]):
        print(f"| {name} | {calls} | {secs:.3f} | {first:.3f} | {last:.3f} |")
    print(f"| `nnstudy.run` returned | | {end - (t - T0):.3f} | {t - T0:.3f} | {end:.3f} |")
    print(f"\nwall to the report's end {end:.2f} s: steps {steps:.2f} s, everything else {end - steps:.2f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
