"""A live display: overall epochs with ETA, and one row per running trial. In Jupyter with ipywidgets: one
widget updated in place (executor/_notebook_bar.py) and a plain line per finished trial. Without either (a
log, a pipe): one plain line per finished trial and a heartbeat line every HEARTBEAT_S seconds; with
``--json`` (an EventConsole) the same as JSON events."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from .._output import emit, in_notebook, is_events
from ._notebook_bar import clock, notebook_bar

HEARTBEAT_S = 30.0  # seconds between two heartbeat lines when no live display shows progress


class StudyProgress:
    def __init__(self, console: Console, name: str, n_trials: int, total_epochs: int):
        self.console = console
        notebook = in_notebook()  # rich's own Jupyter display warns without ipywidgets, a display per line
        live = console.is_terminal and not notebook
        self.widget = notebook_bar(name, n_trials, total_epochs) \
            if notebook and not (is_events(console) or console.quiet) else None
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("epochs"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console,
                                 transient=False, disable=not live)
        self.name, self.n_trials, self.finished = name, n_trials, 0
        self.overall = self.progress.add_task(self._title(), total=total_epochs)
        self.rows: dict[str, Any] = {}
        self.epochs_seen: dict[str, int] = {}  # trial id -> the epochs of it counted in the overall bar
        self.planned: dict[str, int] = {}  # trial id -> its epochs planned: it counts no more than these
        self.stack_of: dict[str, str] = {}  # trial id -> the row of the stack it trains in
        self.stack_done: dict[str, int] = {}  # stack row -> the furthest epoch any of its trials reached
        self.outcomes: dict[str, dict[str, Any]] = {}  # trial id -> its event fields, until finish() reports it
        self.labels: dict[str, str] = {}  # row -> what the notebook widget lists for it
        self.plain = not live and self.widget is None  # no live display: heartbeat lines
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None

    def _title(self) -> str:
        return f"[bold]{escape(self.name)}[/] trials {self.finished}/{self.n_trials}"

    def __enter__(self) -> "StudyProgress":
        self.progress.__enter__()
        if self.widget is not None:
            self.widget.show()
        if self.plain:
            self._beats = threading.Thread(target=self._heartbeats, name="nnstudy-heartbeat", daemon=True)
            self._beats.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._beats is not None:
            self._beats.join()
        if self.widget is not None:
            self.widget.close(self.finished, int(self.progress.tasks[self.overall].completed))
        self.progress.__exit__(*exc)

    def _redraw(self, force: bool = False) -> None:
        """The notebook widget, when there is one: the bar, the counts and the running rows."""
        if self.widget is None:
            return
        tasks = {t.id: t for t in self.progress.tasks}
        running = [f"{self.labels[key]}: epoch {int(tasks[row].completed)}/{int(tasks[row].total or 0)}"
                   for key, row in self.rows.items() if row in tasks]
        self.widget.update(self.finished, int(tasks[self.overall].completed), running, force)

    def _heartbeats(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.heartbeat()

    def heartbeat(self) -> None:
        """One line (or a ``heartbeat`` event): trials and epochs done, time elapsed, time left."""
        task = self.progress.tasks[self.overall]
        done, total = int(task.completed), int(task.total or 0)
        elapsed = time.monotonic() - self.started
        eta = elapsed * (total - done) / done if done else None
        emit(self.console, "heartbeat", study=self.name, trials_done=self.finished, trials=self.n_trials,
             epochs_done=done, epochs=total, elapsed_s=round(elapsed, 1),
             eta_s=None if eta is None else round(eta, 1))
        if not is_events(self.console):
            self.console.print(f"{self.name}: {self.finished}/{self.n_trials} trials, {done}/{total} epochs, "
                               f"{clock(elapsed)} elapsed, ETA {'?' if eta is None else clock(eta)}",
                               markup=False, highlight=False, soft_wrap=True)

    def outcome(self, trial_id: str, **fields: Any) -> None:
        """What the trial's ``trial`` event says (``--json``), sent when finish() reports it."""
        self.outcomes[trial_id] = fields

    def start(self, trial_id: str, label: str, epochs: int) -> None:
        self.rows[trial_id] = self.progress.add_task(f"  {escape(trial_id)} {escape(label)}", total=epochs)
        self.labels[trial_id] = f"{trial_id} {label}"
        self.epochs_seen[trial_id], self.planned[trial_id] = 0, epochs
        self._redraw()

    def start_stack(self, stack_id: str, planned: dict[str, int]) -> None:
        """One row for a stack of trials training together; planned: trial id -> its epochs planned."""
        self.rows[stack_id] = self.progress.add_task(f"  stack of {len(planned)} trials", total=max(planned.values()))
        self.labels[stack_id] = f"stack of {len(planned)} trials"
        self.stack_done[stack_id] = 0
        for trial_id, epochs in planned.items():
            self.stack_of[trial_id] = stack_id
            self.epochs_seen[trial_id], self.planned[trial_id] = 0, epochs

    def end_stack(self, stack_id: str) -> None:
        self.progress.remove_task(self.rows.pop(stack_id))
        self.labels.pop(stack_id, None)
        self.stack_done.pop(stack_id, None)

    def epoch(self, trial_id: str, epoch: int) -> None:
        """A trial reports its epoch ``epoch``; what it reports beyond its plan (a fit-once kind's rows, XGBoost's
        rounds) is not counted: the bar stops at its end and the ETA at zero."""
        row = self.rows.get(self.stack_of.get(trial_id, trial_id))
        if row is not None and trial_id in self.epochs_seen:
            epoch = min(epoch, self.planned[trial_id])
            stack = self.stack_of.get(trial_id)
            if stack is not None:  # a stack's row shows the furthest epoch its trials reached
                self.stack_done[stack] = max(epoch, self.stack_done[stack])
            self.progress.update(row, completed=epoch if stack is None else self.stack_done[stack])
            self.progress.advance(self.overall, epoch - self.epochs_seen[trial_id])
            self.epochs_seen[trial_id] = epoch
            self._redraw()

    def finish(self, trial_id: str, epochs_planned: int, line: str) -> None:
        """The trial is over (trained, failed, stopped early, or taken by another process): the overall bar counts
        all its planned epochs."""
        self.finished += 1
        if trial_id in self.stack_of:
            self.stack_of.pop(trial_id)
        elif trial_id in self.rows:
            self.progress.remove_task(self.rows.pop(trial_id))
            self.labels.pop(trial_id, None)
        self.planned.pop(trial_id, None)
        self.progress.advance(self.overall, max(0, epochs_planned - self.epochs_seen.pop(trial_id, 0)))
        self.progress.update(self.overall, description=self._title())
        self._redraw(force=self.finished == self.n_trials)
        fields = self.outcomes.pop(trial_id, None)
        if fields is not None and is_events(self.console):  # --json: the event instead of the line
            emit(self.console, "trial", study=self.name, trial_id=trial_id, **fields,
                 trials_done=self.finished, trials=self.n_trials)
        else:
            self.console.print(line, highlight=False, soft_wrap=True)
