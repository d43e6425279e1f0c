"""A live display: overall epochs with ETA, and one row per running trial."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


class StudyProgress:
    def __init__(self, console: Console, name: str, n_trials: int, total_epochs: int):
        self.console = console
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("epochs"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console,
                                 transient=False,
                                 disable=not (console.is_terminal or console.is_jupyter))  # bars in notebooks too
        self.name, self.n_trials, self.finished = name, n_trials, 0
        self.overall = self.progress.add_task(self._title(), total=total_epochs)
        self.rows: dict[str, Any] = {}
        self.epochs_seen: dict[str, int] = {}
        self.stack_of: dict[str, str] = {}  # trial id -> the row of the stack it trains in

    def _title(self) -> str:
        return f"[bold]{escape(self.name)}[/] trials {self.finished}/{self.n_trials}"

    def __enter__(self) -> "StudyProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def start(self, trial_id: str, label: str, epochs: int) -> None:
        self.rows[trial_id] = self.progress.add_task(f"  {escape(trial_id)} {escape(label)}", total=epochs)
        self.epochs_seen[trial_id] = 0

    def start_stack(self, stack_id: str, trial_ids: list[str], epochs: int) -> None:
        """One row for a stack of trials training together."""
        self.rows[stack_id] = self.progress.add_task(f"  stack of {len(trial_ids)} trials", total=epochs)
        for trial_id in trial_ids:
            self.stack_of[trial_id] = stack_id
            self.epochs_seen[trial_id] = 0

    def end_stack(self, stack_id: str) -> None:
        self.progress.remove_task(self.rows.pop(stack_id))

    def epoch(self, trial_id: str, epoch: int) -> None:
        row = self.rows.get(self.stack_of.get(trial_id, trial_id))
        if row is not None and trial_id in self.epochs_seen:
            self.progress.update(row, completed=epoch if trial_id not in self.stack_of
                                 else max(epoch, max(self.epochs_seen[t] for t in self.stack_of
                                                     if self.stack_of[t] == self.stack_of[trial_id])))
            self.progress.advance(self.overall, epoch - self.epochs_seen[trial_id])
            self.epochs_seen[trial_id] = epoch

    def finish(self, trial_id: str, epochs_planned: int, line: str) -> None:
        self.finished += 1
        if trial_id in self.stack_of:
            self.stack_of.pop(trial_id)
            self.progress.advance(self.overall, epochs_planned - self.epochs_seen.pop(trial_id))
        elif trial_id in self.rows:
            self.progress.remove_task(self.rows.pop(trial_id))
            self.progress.advance(self.overall, epochs_planned - self.epochs_seen.pop(trial_id))
        self.progress.update(self.overall, description=self._title())
        self.console.print(line, highlight=False)
