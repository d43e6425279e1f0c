"""The Python API: everything the command line does, for notebooks and scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import _userfiles
from ._output import run_console
from ._text import printable
from .errors import StudyError
from .store import StudySnapshot, open_for_reading, store_dir

if TYPE_CHECKING:  # the study-file schema is imported where a study file is read: `nnstudy report` needs none
    import pandas as pd  # the report's (imported by a GPU run while it trains: nnstudy._prefetch)
    from rich.console import Console

    from .spec import StudyFile, Trial
    from .store import Store


class Study:
    """A study in a store: its tables, its history, its report."""

    def __init__(self, name: str, store: str | Path | None = None, db: Store | None = None):
        self.name, self.store_arg = name, store
        # `db`: the open store of a run, kept across outages; else an SQLite file is read by sqlite3 alone
        self._store = db or open_for_reading(store)
        self._store.require_study(name)  # one row read, not the whole study

    def snapshot(self, artifacts: bool = True) -> StudySnapshot:
        """Everything the store holds on the study, read now (trials, history, and with `artifacts` the trials'
        stored files: predictions, weights, pictures)."""
        return self._store.snapshot(self.name, artifacts)

    def results(self) -> pd.DataFrame:
        """One row per configuration, the columns of results.csv: the swept keys, `n`, per metric
        `_mean _std _sem _ci95_low _ci95_high`, `rank`, and the test against the best."""
        from .report import summarize

        return summarize(self.snapshot())

    def trials(self) -> pd.DataFrame:
        """One row per trial, the columns of trials.csv: id, swept keys, seed, status, final metrics."""
        from .report import trials_table

        return trials_table(self.snapshot())

    def history(self) -> pd.DataFrame:
        """Per-epoch metrics in long format: columns trial_id, epoch, metric, value."""
        return self.snapshot().history

    @property
    def report_dir(self) -> Path:
        """Where `run()` and `report()` write by default: <store>/<study name>."""
        return store_dir(self.store_arg) / self.name

    def report(self, out: str | Path | None = None) -> list[Path]:
        """Write results.csv, trials.csv, report.md, results.tex, report.html and figures/*.png into
        `out` (default `report_dir`); return the paths written."""
        from .report import _early_tests, write_report

        tests = _early_tests.start()  # the summary's tests in a forked process while this one draws (where it can)
        try:
            return write_report(self.snapshot(), Path(out) if out else self.report_dir, tests)
        finally:
            if tests is not None:
                tests.close()

    def plot(self, name: str = "learning_curves", key: str | None = None):
        """One report figure as a matplotlib Figure: learning_curves, metric_vs (swept `key`,
        default the first), metric_by_label (an ablation by [[sweep]] label), seed_spread, grad_norms,
        decision_boundary, first_layer_weights, or any figure of the report named without .png (class_errors,
        samples, som_umatrix, search_history, ...)."""
        from .report._notebook import draw
        from .report._stats import analyze

        got = draw(analyze(self.snapshot()), name, key)
        if got is None:
            raise StudyError(f"plot: study {self.name} has no data for the figure {name!r}")
        return got[0]

    def _repr_html_(self) -> str:
        from .report._notebook import notebook_html
        from .report._stats import analyze

        return notebook_html(analyze(self.snapshot()))

    def _repr_markdown_(self) -> str:
        from .report._stats import analyze
        from .report._tables import markdown

        return markdown(analyze(self.snapshot()), {})

    def __repr__(self) -> str:
        return f"Study({self.name!r}, store={self._store.url!r})"


def prepare(source: str | Path | dict, set: dict[str, Any] | None = None, sweep: dict[str, list] | None = None
            ) -> tuple[StudyFile, list[Trial], str, str, list[str], str]:
    """Validate the study file and its data; nothing is written anywhere."""
    from .spec import expand, read_study
    from .spec._unread import check_read

    study, text, label = read_study(source, set, sweep)
    trials = expand(study, label)
    check_read(study, trials, label)
    task, metrics = report_metrics(study, label)
    _check_classes(trials, metrics, label)
    return study, trials, text, task, metrics, label


def _check_classes(trials: list[Trial], metrics: list[str], label: str) -> None:
    """Each class listed once. A classifier shown one class is right by construction (accuracy 1.0); a generative
    model may learn one."""
    for t in trials:
        kept = t.config["data"].get("classes") or []
        repeated = next((c for c in kept if kept.count(c) > 1), None)
        if repeated is not None:
            times = "twice" if kept.count(repeated) == 2 else f"{kept.count(repeated)} times"
            raise StudyError(f"{label}: data.classes: label {repeated} is listed {times} in {kept}: list each class "
                             "once")
        if len(set(kept)) == 1 and any("accuracy" in m for m in metrics):
            raise StudyError(f"{label}: data.classes: {kept} keeps one class, so every accuracy is 1.0 by "
                             f"construction: keep two or more (one class suits generative models)")


def _shared_defaults(defaults: list[list[str]]) -> list[str] | None:
    """The report metrics of a study that names none, when every model kind it trains declares its own: those
    all of them record (an ae vs vae sweep ranks on test_loss, not on a test_accuracy neither has)."""
    if not defaults or not all(defaults):
        return None
    return [m for m in defaults[0] if all(m in d for d in defaults[1:])] or None


def report_metrics(study: StudyFile, label: str) -> tuple[str, list[str]]:
    from .data import info
    from .spec import CLASSIFICATION_METRICS, REGRESSION_METRICS
    from .kinds import get as kind_named

    task = info(study.data).task
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    kinds = [kind_named(k) for k in dict.fromkeys(
        [study.model.kind] + [k for g in study.grids() for k in g.get("model.kind", [])])]
    added = [(k.metrics(task), k.default_metrics.get(task, [])) for k in kinds]  # metrics the model kinds add
    allowed = (*allowed, *(m for extra, _ in added for m in extra))
    metrics = study.report.metrics or _shared_defaults([d for _, d in added]) or (
        ["test_mse", "val_mse", "train_time_s"] if task == "regression"
        else ["test_accuracy", "val_accuracy", "train_time_s"])
    from .spec._train_function import is_metric_name

    for m in metrics:
        if m not in allowed and not (study.train.function and is_metric_name(m)):  # a function reports its own
            raise StudyError(f"{label}: report.metrics: {m!r} is not a metric of a {task} study "
                             f"(allowed: {', '.join(allowed)})")
    if study.search.active:  # the report ranks by its first metric: the one the search optimized
        first = study.search.resolved_metric(task)
        metrics = [first] + [m for m in metrics if m != first]
    return task, metrics


def run(source: str | Path | dict, store: str | Path | None = None, set: dict[str, Any] | None = None,
        workers: int | None = None, device: str = "auto", fail_fast: bool = False,
        console: Console | None = None, executor: str = "local", address: str | None = None,
        stack: str = "auto", sweep: dict[str, list[Any]] | None = None, name: str | None = None,
        replace: bool = False,
        train: Callable[..., Any] | None = None, threads: int | None = None) -> Study:
    """Train every trial not yet done, write the report, return the Study.

    `source` is a study file's path or the same schema as a dict; `set` overrides dotted keys like
    `--set` (``{"train.epochs": 1}``); `sweep` replaces or adds grid axes like `--sweep`
    (``{"train.lr": [0.1, 0.01]}``), and a `set` key that is also swept is an error. Bad input raises
    `StudyError` with the CLI's one-line message.
    Progress bars show in terminals and in Jupyter; elsewhere one line per finished trial.
    `executor="ray"` runs each trial as a Ray task on the cluster at `address` ("auto" or HOST:PORT;
    default: a local Ray); `store` may be a database URL (``postgresql://user@host/db``).
    `stack`: "auto" trains trials that share a program as one stacked program on CUDA, and on the CPU
    small dense networks in groups larger than the workers, a stack per worker (executor/_stacked.py); "on"
    wherever they share one, "off" never (see engines/_torch/_stack_train.py).
    A run with `set` or `sweep` is a variant, stored and reported under a name of its own
    (``batch-size@epochs=1``, or `name`) beside the study; a study file other than the one a study of
    that name came from is refused unless `replace`.
    `train`: your own training loop, ``fn(config, seed, data, report)``, in place of ``[train] function``
    (see engines/_function.py); a function another process cannot import (one of ``__main__`` or a
    notebook) trains in this process, one trial at a time.
    `threads`: intra-op threads (torch and BLAS) of each trial, like `--threads`; default the cores divided
    among the workers, at least 1 (Ray: 1). Each trial records it with its device, host and versions.
    """
    from ._environment import environment, resolve_device
    from ._sources import resolve_sources
    from .spec import swept_keys
    from .spec._variant import as_validated, variant_name
    from .data import info as data_info
    from .data import load
    from .data._registry import OWN as OWN_DATA
    from .executor import STACK_MODES, connect
    from .executor._spawn import starting_worker

    if starting_worker():  # another library's spawned worker is re-running a script that calls us at top level
        raise StudyError("nnstudy.run() was called while a worker process imported the script that calls it; "
                         "put the call under `if __name__ == \"__main__\":`")
    overrides = set  # the caller's own keys name a variant (not those train= adds)
    if stack not in STACK_MODES:
        raise StudyError(f"--stack {stack!r}: choose one of {', '.join(STACK_MODES)}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise StudyError(f"--threads {threads!r}: must be a whole number of at least 1")
    if train is not None:  # the function goes into the config by name and sha256, the object stays here
        from .spec._train_function import give

        try:
            set = {**(set or {}), **give(train)}
        except ValueError as e:
            raise StudyError(f"train=: {e}") from None
    study, trials, text, task, metrics, label = prepare(source, set, sweep)
    path = None if isinstance(source, dict) else str(Path(source).resolve())
    study.study.name, parent = variant_name(study.study.name, as_validated(overrides, study),
                                            sweep, name, label)
    device = resolve_device(device)
    console = console or run_console()  # stderr; a log's lines are never wrapped, a notebook's are plain text
    code = _userfiles.code_line(t.config for t in trials)
    if code:  # said before any of it runs (a data loader, a module's constructor)
        console.print(f"{study.study.name}: {printable(code)}", highlight=False, markup=False)
    from .spec._unread import repeated_note, unseeded_note

    for note in (repeated_note(study, trials), unseeded_note(trials)):
        if note:
            console.print(f"{study.study.name}: {note}", highlight=False, markup=False)
    if stack == "on" or (stack == "auto" and device.startswith("cuda")):
        for line in _stack_notes(trials):
            console.print(f"{study.study.name}: {line}", highlight=False, markup=False)
    from .spec._train_function import check_functions

    own_lines, in_process = check_functions([t.config for t in trials], label, executor)
    for line in own_lines:
        console.print(f"{study.study.name}: {printable(line)}", highlight=False, markup=False)
    if in_process:
        workers = 1
    first_data = None
    loaded = []
    for cfg in _distinct(t.config["data"] for t in trials):  # missing data fails before the store is touched
        data = load(study.data.model_validate(cfg))
        if cfg["name"] in OWN_DATA:  # what was read from the user's file or loader, and as which task
            console.print(f"{study.study.name}: data {printable(data_info(study.data.model_validate(cfg)).source)}",
                          highlight=False, markup=False)
        first_data = first_data or data
        loaded.append((cfg, data))
    check_models(trials, loaded, label)
    _check_search_ends(study, trials[0].config["data"], loaded, label)
    if study.trials.race:  # a race that cannot run is said before the store is touched
        from ._race import RaceRule

        if study.search.active and study.search.pruner == "median":
            raise StudyError(f"{label}: trials.seeds: racing seeds and the median pruner do not combine (both "
                             f"stop configurations early); set search.pruner = \"none\" or give [trials] seeds "
                             f"a number")
        r = study.trials.race
        try:  # a search races the configurations it proposes: at least two
            RaceRule(r.min, r.max, r.alpha, r.method).check(2 if study.search.active else len(
                {json.dumps(t.point, sort_keys=True, default=str) for t in trials}))
        except ValueError as e:
            raise StudyError(f"{label}: trials.seeds: {e}") from None
    trials = resolve_sources(trials, store, label)  # linear probes: their source model, from the store
    from . import _prefetch
    from .store import Store

    prefetch = _prefetch.start(device)  # the report's modules, while a GPU trains

    with connect(executor, address, workers) as Executor, \
            Executor(Store(store), study.study.name, workers, device, fail_fast, console, stack,
                     threads=threads) as trainer:  # a bad Ray address fails before the store is touched
        db = trainer.store  # one executor for the whole run (a search's batches too): its worker pool starts once
        db.require_whole()  # a trial whose study row is gone would be trained again under a new row
        trainer.shown = (*metrics, "train_time_s")  # each finished trial's line: the study's report metrics
        trainer.know_data(loaded)  # a train.steps budget's epochs in the progress
        db.set_origin(study.study.name, check_identity(db, study.study.name, path, text, replace, label), parent)
        if study.search.active:  # [search]: the configurations come from Optuna (nnstudy.search)
            from .search import run_search

            summary = run_search(db, study, text, label, task, metrics, environment(device),
                                 lambda: trainer, console, store, workers, device, fail_fast, first_data, stack)
        elif study.trials.race:  # [trials] seeds = { min, max, alpha }: rounds of seeds (nnstudy._race)
            from ._race import run_race

            summary = run_race(db, study, text, task, metrics, trials, environment(device),
                               lambda: trainer, first_data, console, swept_keys(study), fail_fast)
        else:
            db.register(study.study.name, study.study.description, study.model_dump(mode="json"), text, task,
                        metrics, swept_keys(study), trials, environment(device))
            summary = trainer.run(trials, first_data)
    result = Study(study.study.name, store, db)
    result.summary = summary
    if study.train.function:
        _unreported(result, metrics, console)
    if prefetch is not None:
        _prefetch.join(prefetch)  # before the report forks
    result.report()
    return result


def _unreported(study: Study, metrics: list[str], console: Console) -> None:
    """A training function that never reported a report metric: say which ones it did report."""
    t = study.trials()
    if not (t["status"] == "done").any():
        return
    done = t[t["status"] == "done"]
    missing = [m for m in metrics if m not in done.columns or done[m].isna().all()]
    if missing:
        from .report._conditions import COLUMNS as CONDITIONS  # how each trial ran, not what it reported

        snap = study.snapshot()
        reported = [c for c in done.columns if c not in ("trial_id", "seed", "status", "error", "train_time_s",
                                                         "epochs_run", *snap.swept_keys, *CONDITIONS)
                    and done[c].notna().any()]
        from .engines._function import RESERVED

        reported += [m for m in dict.fromkeys(snap.history["metric"]) if m not in (*reported, *RESERVED)]
        console.print(f"{study.name}: report.metrics: the training function reported no {', '.join(missing)}; "
                      f"name the metrics it reports in [report] metrics = [...] (it reported: "
                      f"{', '.join(reported) or 'nothing'})", highlight=False, markup=False)


def check_identity(db: Store, name: str, path: str | None, text: str, replace: bool, label: str) -> str | None:
    """A study is its name and the file it comes from: another file (another path and other text) under a
    name the store holds is refused, unless `replace`. The same file edited, a copy of it (the same text) and a
    file that moved (its first path is gone) are the same study. Returns the file to record as the study's."""
    before = db.origin(name)
    if before is None or replace or before["file"] in (None, path) or not Path(before["file"]).exists():
        return path or (before or {}).get("file")
    if path is None or before["source"] == text:  # a dict, or a copy: the study stays where it came from
        return before["file"]
    raise StudyError(f"{label}: the store already holds a study {name!r} from another file ({before['file']}); "
                     f"give this one another [study] name or --as NAME, or --replace to make it the study {name!r}")


def load(name: str, store: str | Path | None = None) -> Study:
    """The study `name` from the store (default ./runs or $NNSTUDY_STORE), without training."""
    return Study(name, store)


def export(study: str | Study, to: str, where: str | Path, store: str | Path | None = None):
    """Export a study's trials, read from the store, to where people already look -> `Exported` (study, to,
    where, trials, values).

    `to` = "tensorboard" (`where` a folder: one run per trial in ``where/<study>/<trial id>/``, per-epoch metrics
    at step = epoch, the config as hparams), "mlflow" (`where` a tracking URI such as ``file:///tmp/mlruns``: a
    parent run per study in the experiment ``nnstudy``, one run per trial, params = the resolved config
    flattened, metrics per epoch) or "parquet" (`where` a file: the long history, one row per trial, epoch and
    metric with the trial's seed, status and config). Needs ``pip install 'nnstudy[export]'``. A second export
    replaces the first. Bad input raises `StudyError` with the CLI's one-line message.
    """
    from .exports import export as export_study

    if isinstance(study, Study):
        study, store = study.name, study._store.url if store is None else store
    return export_study(study, to, where, store)


def compare(a: str | Study, b: str | Study | None = None, metric: str | None = None,
            where: str | dict | list | tuple | None = None, store: str | Path | None = None):
    """Two studies, or two configurations of one study, side by side -> `Comparison`.

    `where` selects one configuration per side: one condition set (a dict, or a string such as
    "model.hidden=[16, 16],train.lr=0.1") for both sides, or a pair (A's, B's). `b` defaults to
    `a`. The result's ``.table`` has one row per shared metric (or `metric` alone) with both
    sides' n, mean, std and SE, the difference B - A, Welch's p and Holm's p; ``.write(dir)``
    writes compare.csv, compare.md and compare.html.
    """
    from .report import compare_sides, parse_where, select

    conds = [] if where is None else [where] if isinstance(where, (str, dict)) else list(where)
    if len(conds) > 2:
        raise StudyError(f"--where given {len(conds)} times: once for both sides, or twice (A, then B)")
    conds = [parse_where(w) if isinstance(w, str) else dict(w) for w in conds]
    wa, wb = (conds + [{}, {}])[:2] if len(conds) != 1 else (conds[0], conds[0])
    names = [x.name if isinstance(x, Study) else x for x in (a, b if b is not None else a)]
    db = open_for_reading(store)
    snap_a, snap_b = db.snapshot(names[0]), db.snapshot(names[1])  # unknown names first
    if names[0] == names[1] and len(conds) < 2:  # one study against itself needs one configuration per side
        try:
            select(snap_a, wa)  # a wrong key or value is said first
        except StudyError as e:
            if "configurations match" not in str(e):
                raise
        raise StudyError(f"compare {names[0]} with itself: give --where twice, once per side (A, then B), "
                         f"e.g. --where train.lr=0.1 --where train.lr=0.01; or give another study as B")
    side_a, side_b = select(snap_a, wa), select(snap_b, wb)
    if side_a.study == side_b.study and side_a.config == side_b.config:
        raise StudyError(f"A and B are the same trials ({side_a.label}); give --where twice, once per side")
    return compare_sides(side_a, side_b, metric)


def compare_dir(store: str | Path | None, comparison) -> Path:
    """Where `nnstudy compare` writes by default: <store>/compare/<A>-vs-<B>/."""
    slug = "-vs-".join(re.sub(r"[^a-z0-9.]+", "-", side.label.lower()).strip("-")
                       for side in (comparison.a, comparison.b))
    return store_dir(store) / "compare" / slug[:150]


def check_models(trials: list[Trial], loaded: list[tuple[dict, Any]], label: str) -> None:
    """Each kind's rules on the loaded data (``Kind.check_data``): a model that cannot be built for its data
    (a ViT patch that does not divide the image, conv blocks that shrink it to nothing, weights that do not
    fit, a given network of another input width) or whose weights exceed this machine's memory is a bad study
    file, not a failed trial."""
    from .kinds import check_on_data, of, training_numerics

    for mc, cfg, train in _distinct([t.config["model"], t.config["data"], training_numerics(t.config["train"])]
                                    for t in trials if (kind := of(t.config["model"])).check_data is not None
                                    or kind.size is not None):
        data = next(d for c, d in loaded if c == cfg)
        check_on_data(mc, data, label, train, trained=True)


def _check_search_ends(study: StudyFile, data: dict, loaded: list[tuple[dict, Any]], label: str) -> None:
    """``check_models`` for a search's configurations at each end of its model keys' ranges and at each choice
    (the others at the study's values): the largest network it may propose is refused before the store is
    touched, naming the entry and the value as the validator does."""
    if not study.search.active:
        return
    from .spec import Trial
    from .spec._search import base_config, resolve_point

    base = base_config(study)
    for key, dim in study.search.space.items():
        for value in dim.ends() if key.startswith("model.") else []:
            config = {**resolve_point(base, {key: value}, label), "data": data}
            try:
                check_models([Trial("", 0, config, {})], loaded, label)
            except StudyError as e:
                said = str(e).removeprefix(f"{label}: ").removeprefix(f"{key}: ")
                raise StudyError(f"{label}: search.space.{key}: the value {json.dumps(value)}: {said}") from None


def _stack_notes(trials: list[Trial]) -> list[str]:
    """What each model kind says about its trials that train alone although stacking is on."""
    from . import kinds

    by_kind: dict[str, list[Trial]] = {}
    for t in trials:
        by_kind.setdefault(t.config["model"]["kind"], []).append(t)
    notes = [kinds.get(k).stack_note(ts) for k, ts in by_kind.items() if kinds.get(k).stack_note is not None]
    return [n for n in notes if n]


def _distinct(items) -> list[dict]:
    out: list[dict] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
