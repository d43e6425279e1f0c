"""A live display: overall epochs with ETA, and one row per running trial."""

from __future__ import annotations

from typing import Any

from rich.console import Console
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

    def _title(self) -> str:
        return f"[bold]{self.name}[/] trials {self.finished}/{self.n_trials}"

    def __enter__(self) -> "StudyProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def start(self, trial_id: str, label: str, epochs: int) -> None:
        self.rows[trial_id] = self.progress.add_task(f"  {trial_id} {label}", total=epochs)
        self.epochs_seen[trial_id] = 0

    def epoch(self, trial_id: str, epoch: int) -> None:
        if trial_id in self.rows:
            self.progress.update(self.rows[trial_id], completed=epoch)
            self.progress.advance(self.overall, epoch - self.epochs_seen[trial_id])
            self.epochs_seen[trial_id] = epoch

    def finish(self, trial_id: str, epochs_planned: int, line: str) -> None:
        self.finished += 1
        if trial_id in self.rows:
            self.progress.remove_task(self.rows.pop(trial_id))
            self.progress.advance(self.overall, epochs_planned - self.epochs_seen.pop(trial_id))
        self.progress.update(self.overall, description=self._title())
        self.console.print(line, highlight=False)
