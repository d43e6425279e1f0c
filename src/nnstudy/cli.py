"""The `nnstudy` command. Bad input: one line on stderr, exit 2; failed trials: exit 1."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rich.console import Console
from rich.table import Table

from ._text import one_error_line, one_warning_line, printable, terminal
from . import __version__
from ._output import PipeConsole, emit, reader_gone, run_console
from ._sigterm import terminate_as_interrupt
from .errors import StudyError

EXIT_OK, EXIT_TRIALS_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_READER_GONE = 141  # as a process that SIGPIPE ended


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        where = self.prog.removeprefix("nnstudy").strip()  # "nnstudy: error: " comes first already
        raise StudyError(f"{where + ': ' if where else ''}{message} (see --help)")


def place(text: str) -> str:
    """A --store or --out value: an empty one would quietly mean ./runs or the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: name a folder")
    return text


def build_parser() -> Parser:
    p = Parser(prog="nnstudy", description="One study file in, one report out.")
    p.add_argument("--version", action="version", version=f"nnstudy {__version__}",
                   help="print the version (nnstudy X.Y.Z) and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    r = sub.add_parser("run", help="train every trial not yet done, then write the report")
    r.add_argument("study", help="the study file (TOML)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the study file, e.g. --set train.epochs=1 (repeatable)")
    r.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="replace or add an axis of the sweep grid, values in TOML syntax split at top-level "
                        "commas, e.g. --sweep train.lr=0.1,0.01 --sweep 'model.hidden=[16],[16,16]' (repeatable)")
    r.add_argument("--store", type=place, help="store folder or database URL (default ./runs or $NNSTUDY_STORE)")
    r.add_argument("--workers", type=int, help="worker processes (default: the number of cores)")
    r.add_argument("--threads", type=int, help="intra-op threads (torch and BLAS) of each trial (default: the cores "
                                               "divided among the workers, at least 1; a lone stack or the "
                                               "median pruner's lockstep on the CPU: every core; Ray: 1)")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--stack", default="auto", choices=["auto", "on", "off"],
                   help="train trials of equal shapes (MLP family, same batch size, same optimizer) as one "
                        "stacked program: auto on CUDA, and on the CPU for small MLP-family steps in groups "
                        "with more trials than workers, one stack per worker; on always, off never (default auto)")
    r.add_argument("--executor", default="local", choices=["local", "ray"],
                   help="local: this machine's cores; ray: one Ray task per trial")
    r.add_argument("--address", metavar="auto|HOST:PORT",
                   help="the Ray cluster to join (default: start a local Ray); with --executor ray")
    r.add_argument("--fail-fast", action="store_true", help="stop at the first failed trial")
    r.add_argument("--as", dest="as_name", metavar="NAME",
                   help="store and report this run as the study NAME (default: the file's name, and for a run with "
                        "--set or --sweep a variant of it, e.g. batch-size@epochs=1)")
    r.add_argument("--replace", action="store_true",
                   help="let this file take over a study name that the store holds from another study file")
    talk = r.add_mutually_exclusive_group()
    talk.add_argument("--quiet", action="store_true",
                      help="print nothing but problems: failed and diverged trials, one line each (exit codes as usual)")
    talk.add_argument("--json", action="store_true",
                      help="one JSON object per line on stdout for each event (start, message, trial, heartbeat, "
                           "end, error), for tools")

    rep = sub.add_parser("report", help="rewrite a study's report from the store")
    rep.add_argument("study", help="the study's name (or its study file)")
    rep.add_argument("--store", type=place)
    rep.add_argument("--out", type=place, help="output folder (default: <store>/<study>)")

    ls = sub.add_parser("ls", help="studies in the store, with progress")
    ls.add_argument("--store", type=place)

    show = sub.add_parser("show", help="one trial's config, history and status")
    show.add_argument("trial_id", help="a trial id (or a unique prefix)")
    show.add_argument("--store", type=place)

    g = sub.add_parser("gradcheck", help="NumPy engine: analytic vs numerical gradients (float64), per parameter")
    g.add_argument("study", help="the study file (TOML)")
    g.add_argument("--point", action="append", default=[], metavar="KEY=VALUE",
                   help="pick the configuration with this swept value (repeatable; default: the first)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the study file (repeatable)")
    g.add_argument("--batch", type=int, default=8, help="training samples in the batch (default 8)")
    g.add_argument("--entries", type=int, default=64,
                   help="entries compared per parameter tensor, chosen at random (0 = all; default 64)")

    sm = sub.add_parser("summary",
                        help="torch and NumPy-engine models: each layer's output shape, parameters and mult-adds, and the totals")
    sm.add_argument("study", help="the study file (TOML)")
    sm.add_argument("--point", action="append", default=[], metavar="KEY=VALUE",
                    help="pick the configuration with this swept value (repeatable; default: the first)")
    sm.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the study file (repeatable)")

    data = sub.add_parser("data", help="datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    dsub.add_parser("ls", help="datasets, and where each is found")
    fetch = dsub.add_parser("fetch", help="fetch a dataset into the cache")
    fetch.add_argument("name")

    cmp = sub.add_parser("compare", help="two studies, or two configurations of one, side by side")
    cmp.add_argument("a", help="a study's name")
    cmp.add_argument("b", nargs="?", help="another study's name (default: A again)")
    cmp.add_argument("--where", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                     help="select one configuration: once for both sides, or twice (A, then B)")
    cmp.add_argument("--metric", help="compare this metric only: any final metric both sides stored, e.g. val_loss "
                                      "(default: the report metrics both share)")
    cmp.add_argument("--store", type=place)
    cmp.add_argument("--out", type=place, help="output folder (default: <store>/compare/<A>-vs-<B>)")

    srv = sub.add_parser("serve", help="a live, read-only dashboard of the store in the browser")
    srv.add_argument("--store", type=place, help="store folder or database URL (default ./runs or $NNSTUDY_STORE)")
    srv.add_argument("--port", type=int, default=8765, help="the port to listen on (default 8765)")
    srv.add_argument("--host", default="127.0.0.1",
                     help="the address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 lets other "
                          "machines read it)")

    ex = sub.add_parser("export", help="a study's trials to TensorBoard, MLflow or a Parquet file")
    ex.add_argument("study", help="the study's name (or its study file)")
    ex.add_argument("--to", nargs=2, required=True, metavar=("FORMAT", "WHERE"),
                    help="tensorboard DIR (one run per trial under DIR/<study>/), mlflow URI (a tracking URI, e.g. "
                         "file:///tmp/mlruns: a parent run per study, a run per trial) or parquet FILE (the long "
                         "history)")
    ex.add_argument("--store", type=place, help="store folder or database URL (default ./runs or $NNSTUDY_STORE)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help, --version: printed already
            return e.code if isinstance(e.code, int) else EXIT_OK
        if argv is None:  # the `nnstudy` program: a warning is one line on stderr, as an error is
            import warnings

            warnings.formatwarning = one_warning_line
        check_text_args(args)
        with terminate_as_interrupt():
            code = COMMANDS[args.command](args)
            sys.stdout.flush()  # a reader that left (| head) shows here, not as an error at the exit
        if argv is None:  # the `nnstudy` program, about to exit: every file is closed
            import gc

            gc.freeze()  # its objects are left to the exit, not collected one by one (0.3 s after a report)
            if args.command in ("report", "run"):  # processes joined, files closed, the exit's handlers run below:
                _exit_now(code)  # the exit would only tear 340,000 objects down one by one (0.2 s after a run)
        return code
    except StudyError as e:
        print(f"nnstudy: error: {one_error_line(e)}", file=sys.stderr)
        if getattr(args, "json", False):
            print(json.dumps({"event": "error", "message": one_error_line(e), "exit": EXIT_BAD_INPUT}), flush=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        trains = getattr(args, "command", None) == "run"
        print(f"nnstudy: interrupted{'; finished trials are stored, run again to continue' if trains else ''}",
              file=sys.stderr)
        if getattr(args, "json", False):
            try:
                print(json.dumps({"event": "interrupted", "exit": EXIT_INTERRUPTED}), flush=True)
            except BrokenPipeError:
                reader_gone(sys.stdout)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `nnstudy ls | head -1`: the reader has what it wanted
        reader_gone(sys.stdout)
        return EXIT_READER_GONE


# arguments that are names, keys or values, never paths: (attribute, how the line names it)
TEXT_ARGS = (("trial_id", ""), ("a", ""), ("b", ""), ("name", ""), ("set", "--set "), ("sweep", "--sweep "),
             ("point", "--point "), ("where", "--where "), ("as_name", "--as "), ("metric", "--metric "))


def check_text_args(args: argparse.Namespace) -> None:
    """Bytes the terminal's encoding cannot decode arrive as lone surrogates: no name, key or value holds one
    and the store cannot keep one. A path may (it is passed back to the system as the same bytes)."""
    for attr, flag in TEXT_ARGS:
        given = getattr(args, attr, None)
        for value in given if isinstance(given, list) else [given]:
            if isinstance(value, str) and not utf8(value):
                raise StudyError(f"{flag}{printable(value)}: not UTF-8 text (the terminal passed bytes that are "
                                 f"not UTF-8); write it in UTF-8")


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _exit_now(code: int) -> None:
    """Exit as the interpreter would (atexit handlers: Ray's shutdown, a user's own; the streams flushed) but
    without tearing every module down."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what it did not take is lost either way
            pass
    os._exit(code)


def _out() -> Console:
    """Tables on stdout: the terminal's width, or wide enough not to wrap when piped."""
    return PipeConsole() if sys.stdout.isatty() else PipeConsole(width=200)


def cmd_run(args) -> int:
    from . import api
    from .spec import parse_overrides, parse_sweeps

    if args.workers is not None and args.workers < 1:
        raise StudyError(f"--workers {args.workers}: must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise StudyError(f"--threads {args.threads}: must be at least 1")
    overrides = parse_overrides(args.set, args.study)
    sweeps = parse_sweeps(args.sweep, args.study)
    mode = "json" if args.json else "quiet" if args.quiet else "normal"
    console = run_console(mode)
    study = api.run(args.study, store=args.store, set=overrides, workers=args.workers, device=args.device,
                    fail_fast=args.fail_fast, console=console, executor=args.executor, address=args.address,
                    stack=args.stack, sweep=sweeps, name=args.as_name, replace=args.replace, threads=args.threads)
    s = study.summary
    trials = study.snapshot(artifacts=False).trials  # the statuses and errors: no artifact read again
    statuses = {k: int(v) for k, v in trials["status"].value_counts().to_dict().items()}
    report = study.report_dir / "report.html"
    code = EXIT_TRIALS_FAILED if statuses.get("failed") or statuses.get("diverged") else EXIT_OK
    unfinished = bool(statuses.get("running") or statuses.get("pending") or s.stopped)
    stopped = unfinished and args.fail_fast and code != EXIT_OK  # trials or configurations --fail-fast left
    if mode == "json":
        emit(console, "end", study=study.name, ran=s.ran, skipped=s.skipped, statuses=statuses, report=str(report),
             stopped=stopped, exit=code)
        return code
    if mode == "quiet":  # the problems only, one line each
        for t in trials[trials.status.isin(["failed", "diverged"])].itertuples():
            print(f"nnstudy: {study.name}: {t.status} trial {t.trial_id}: {one_error_line(t.error or '')}",
                  file=sys.stderr)
        return code
    console.print(f"ran {s.ran}, skipped {s.skipped} already stored; "
                  + ", ".join(f"{v} {k}" for k, v in statuses.items()) + f"; report: {terminal(report)}")
    if unfinished:
        console.print("stopped at the first failed or diverged trial (--fail-fast); run again to train the rest"
                      if stopped else
                      "some trials are still running in another nnstudy process; run again to complete")
    return code


def cmd_report(args) -> int:
    import gc

    gc.disable()  # importing pandas, scipy and matplotlib makes 330,000 objects, little garbage: 0.25 s of collections
    try:
        from . import api
        from .report import _early_tests

        tests = _early_tests.start()  # a process imports scipy.stats for the tests while this one goes on (matplotlib)
        from .report import _figures, write_report  # noqa: F401  (matplotlib, here while collection is off)
    finally:
        gc.freeze()  # ...and never scanned after: else the first collections walk all 340,000 of them
        gc.enable()
    try:
        name = study_name(args.study)
        if args.out:
            from .report import check_out_dir

            check_out_dir(args.out)  # before the store is opened
        study = api.load(name, store=args.store)
        paths = write_report(study.snapshot(), args.out or study.report_dir, tests)
    finally:
        if tests is not None:
            tests.close()
    print(f"wrote {len(paths)} files to {printable(paths[0].parent if paths else args.out)}")
    return EXIT_OK


def study_name(text: str) -> str:
    """A study's name, or the name in the study file it names."""
    if text.endswith(".toml") and os.path.exists(text):
        from .spec import read_study

        return read_study(text)[0].study.name
    if not utf8(text):
        raise StudyError(f"{printable(text)}: not a study file, and not UTF-8 text as a study's name is")
    return text


def cmd_ls(args) -> int:
    from .store import Store

    db = Store(args.store, create=False)
    running: dict[str, list[dict]] = {}
    for t in db.running():
        running.setdefault(t["study"], []).append(t)
    table = Table("study", "done", "failed", "diverged", "running", "pending", "total", "updated", "description")
    for depth, r in under_parents(db.studies(), db.parents()):
        table.add_row("  " * depth + terminal(r["name"]), str(r["done"]), str(r["failed"]), str(r["diverged"]),
                      running_cell(r["running"], running.get(r["name"], [])), str(r["pending"]), str(r["total"]),
                      terminal(r["updated_at"]), terminal(r["description"] or ""))
    console = _out()
    console.print(table)
    if any(not t["alive"] for ts in running.values() for t in ts):
        console.print("stopped: the process training them ended before they did (killed); `nnstudy run` trains "
                      "them again", highlight=False)
    return EXIT_OK


def running_cell(count: int, trials: list[dict], shown: int = 3) -> str:
    """How many trials run, and the epoch each has reached: ``2 (epoch 5/20, 3/20)``; those whose process ended
    without finishing them (killed) apart: ``1 stopped (epoch 7/20)``."""
    if not count:
        return "0"
    stopped = [t for t in trials if not t["alive"]]
    live = [t for t in trials if t["alive"]]
    cells = [_reached(str(count - len(stopped)), live, shown)] if count > len(stopped) else []
    return "; ".join(cells + ([_reached(f"{len(stopped)} stopped", stopped, shown)] if stopped else []))


def _reached(label: str, trials: list[dict], shown: int) -> str:
    epochs = [f"{t['epoch']}/{planned_cell(t['epochs'])}" for t in trials[:shown]]
    epochs += ["…"] if len(trials) > shown else []
    return f"{label} (epoch {', '.join(epochs)})" if epochs else label


def planned_cell(epochs: int | None) -> str:
    """The epochs a trial plans, or "-" for one that plans none (its kind fits once)."""
    return "-" if epochs is None else str(epochs)


def under_parents(rows: list[dict], parents: dict[str, str]) -> list[tuple[int, dict]]:
    """Studies in the store's order, each followed by its variants (indented one step per level)."""
    by_name = {r["name"]: r for r in rows}
    children: dict[str, list[dict]] = {}
    for r in rows:
        if parents.get(r["name"]) in by_name:
            children.setdefault(parents[r["name"]], []).append(r)
    out: list[tuple[int, dict]] = []
    seen: set[str] = set()

    def add(r: dict, depth: int) -> None:
        if r["name"] not in seen:
            seen.add(r["name"])
            out.append((depth, r))
            for child in children.get(r["name"], []):
                add(child, depth + 1)

    for r in rows:
        if parents.get(r["name"]) not in by_name:
            add(r, 0)
    for r in rows:  # variants of each other only (renamed with --as both ways)
        add(r, 0)
    return out


def cmd_show(args) -> int:
    from . import _userfiles
    from .kinds import stored_planned_epochs
    from .store import Store

    prefix = trial_prefix(args.trial_id)
    found = Store(args.store, create=False).find_trials(prefix)
    if not found:
        raise StudyError(f"no trial {prefix!r} in the store")
    console = _out()
    for t in found:
        console.print(f"[bold]trial {terminal(t['trial_id'])}[/] of study {terminal(t['study'])}  seed {t['seed']}  "
                      f"status [bold]{terminal(t['status'])}[/]", highlight=False)
        if t["status"] == "running":
            done = int(t["history"].epoch.max()) if len(t["history"]) else 0
            planned = stored_planned_epochs(json.loads(t["config_json"]))
            ended = f"{done} of {planned} epochs ended" if planned is not None else \
                f"{done} epoch{'' if done == 1 else 's'} ended"
            if t["alive"]:
                console.print(f"running: {ended} so far (started "
                              f"{terminal(t['started_at'])}, by {terminal(t['owner'] or '?')})", highlight=False)
            else:
                console.print(f"stopped: {ended}, then its process "
                              f"({terminal(t['owner'] or '?')}) ended (killed); `nnstudy run` trains it again",
                              highlight=False)
        for ref, sha in _userfiles.code_refs(json.loads(t["config_json"])):
            console.print(f"code: {printable(ref)} (sha256 {printable(sha)})", highlight=False, markup=False)
        if t["error"]:
            console.print(f"error: {printable(t['error'], newlines=True)}", highlight=False, markup=False)
        console.print_json(t["config_json"], ensure_ascii=True)
        if t["final_json"]:
            console.print("final: " + json.dumps(json.loads(t["final_json"])), highlight=False, markup=False)
        if t.get("conditions_json"):  # device, threads, host, versions (store v3)
            ran = json.loads(t["conditions_json"])
            console.print("ran under: " + printable(", ".join(f"{k}={v}" for k, v in ran.items())),
                          highlight=False, markup=False)
        hist = t["history"]
        if len(hist):
            wide = hist[~hist.metric.str.startswith("grad_norm/")].pivot(index="epoch", columns="metric",
                                                                        values="value")
            console.print(wide.to_string(float_format=lambda v: f"{v:.4g}"), markup=False, highlight=False)
    return EXIT_OK


MIN_PREFIX = 4  # hex characters of a trial id that `nnstudy show` needs


def trial_prefix(text: str) -> str:
    """A trial id or a prefix of one: lowercase hex, at least MIN_PREFIX characters."""
    prefix = text.strip().lower()
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise StudyError(f"show {printable(text)!r}: give a trial id or its first {MIN_PREFIX}+ characters "
                         f"(hexadecimal digits 0-9 a-f, as `nnstudy run` and trials.csv show them)")
    return prefix


def cmd_data(args) -> int:
    from . import data

    if args.data_command == "ls":
        table = Table("dataset", "task", "input", "classes", "found at", "source")
        for name in data.names():
            i = data.info(name)
            table.add_row(name, i.task, "×".join(map(str, i.input_shape)), str(i.n_classes or "-"),
                          data.locate(name) or "[yellow]not fetched[/]", i.source)
        _out().print(table)
        return EXIT_OK
    console = PipeConsole(stderr=True, soft_wrap=True)
    where = data.fetch(args.name, progress=lambda line: console.print(line, markup=False, highlight=False))
    print(f"{args.name}: {printable(where)}")
    return EXIT_OK


def cmd_compare(args) -> int:
    from . import api
    from .report import terminal_table

    comparison = api.compare(args.a, args.b, metric=args.metric, where=args.where, store=args.store)
    paths = comparison.write(args.out or api.compare_dir(args.store, comparison))
    _out().print(terminal_table(comparison))
    print(f"wrote {len(paths)} files to {printable(paths[0].parent)}")
    return EXIT_OK


def cmd_gradcheck(args) -> int:
    from .engines._numpy._gradcheck import TOLERANCE
    from .gradcheck import run_gradcheck
    from .spec import parse_overrides

    if args.batch < 1 or args.entries < 0:
        raise StudyError(f"--batch {args.batch} / --entries {args.entries}: need a batch >= 1 and entries >= 0")
    checks, trial = run_gradcheck(args.study, args.point, args.batch, args.entries,
                                  parse_overrides(args.set, args.study))
    where = " ".join(f"{k}={json.dumps(v)}" for k, v in trial.point.items()) or "the study's configuration"
    table = Table("parameter", "shape", "checked", "max |gradient|", "max relative error", "",
                  title=f"gradient check of {where}, seed {trial.seed} (float64, centred differences)")
    for c in checks:
        table.add_row(c.name, "×".join(map(str, c.shape)), str(c.checked), f"{c.max_grad:.3e}", f"{c.error:.2e}",
                      "[green]ok[/]" if c.ok else "[red]FAIL[/]")
    console = _out()
    console.print(table)
    bad = [c.name for c in checks if not c.ok]
    if bad:
        console.print(f"{len(bad)} of {len(checks)} tensors above {TOLERANCE:g}: {', '.join(bad)}", highlight=False)
        return EXIT_TRIALS_FAILED
    console.print(f"all {len(checks)} tensors below {TOLERANCE:g} (worst {max(c.error for c in checks):.2e})",
                  highlight=False)
    return EXIT_OK


def cmd_summary(args) -> int:
    from .spec import parse_overrides
    from .summary import summarize_study

    s = summarize_study(args.study, args.point, parse_overrides(args.set, args.study))
    where = " ".join(f"{k}={json.dumps(v)}" for k, v in s.trial.point.items())
    table = Table("layer", "type", "output shape", "parameters", "mult-adds",
                  title=f"{s.trial.config['model']['kind']} on {s.trial.config['data']['name']} "
                        f"(input {'×'.join(map(str, s.input_shape))}){'  ' + where if where else ''}")
    for layer in s.layers:
        shape = "-" if layer.output_shape is None else f"(None, {', '.join(map(str, layer.output_shape))})"
        table.add_row(layer.name, layer.kind, shape, f"{layer.params:,}",
                      f"{layer.mult_adds:,}" if layer.mult_adds else "-")
    console = _out()
    console.print(table)
    console.print(f"total parameters: {s.total:,}  trainable: {s.trainable:,}  "
                  f"non-trainable: {s.total - s.trainable:,}  mult-adds per sample: {s.mult_adds:,}",
                  highlight=False)
    return EXIT_OK


def cmd_serve(args) -> int:
    from .serve import serve

    serve(args.store, host=args.host, port=args.port, announce=lambda line: print(printable(line), flush=True))
    return EXIT_OK


def cmd_export(args) -> int:
    from . import api

    to, where = args.to
    done = api.export(study_name(args.study), to, where, store=args.store)
    print(f"exported {done.trials} trials of {printable(done.study)} ({done.values} per-epoch values) to {to} "
          f"{printable(done.where)}")
    return EXIT_OK


COMMANDS = {"summary": cmd_summary, "serve": cmd_serve, "export": cmd_export,
            "run": cmd_run, "report": cmd_report, "ls": cmd_ls, "show": cmd_show, "data": cmd_data,
            "compare": cmd_compare, "gradcheck": cmd_gradcheck}

if __name__ == "__main__":
    sys.exit(main())
