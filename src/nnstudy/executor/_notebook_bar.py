"""The run's progress in Jupyter: one ipywidgets display (a bar over all epochs, a line with trials, time
and ETA, and the running trials), updated in place, instead of rich's live display (which needs a widget
per refresh and prints each finished trial as a display of its own)."""

from __future__ import annotations

import time
from html import escape

from .._output import in_notebook

MIN_INTERVAL_S = 0.2  # at most five updates a second reach the browser; the last one always does
SHOWN_RUNNING = 8  # running trials listed under the bar


def notebook_bar(name: str, n_trials: int, total_epochs: int) -> "NotebookBar | None":
    """A NotebookBar when running in Jupyter with ipywidgets installed (the ``notebook`` extra); else None."""
    if not in_notebook():
        return None
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return None
    return NotebookBar(name, n_trials, total_epochs)


class NotebookBar:
    """One VBox: an IntProgress over the study's epochs and an HTML text below it."""

    def __init__(self, name: str, n_trials: int, total_epochs: int):
        import ipywidgets as w

        self.name, self.n_trials = name, n_trials
        self.bar = w.IntProgress(value=0, min=0, max=max(total_epochs, 1), layout=w.Layout(width="60%"))
        self.text = w.HTML()
        self.box = w.VBox([self.bar, self.text])
        self.started = time.monotonic()
        self._shown_at = 0.0

    def show(self) -> None:
        from IPython.display import display

        display(self.box)

    def update(self, trials_done: int, epochs_done: int, running: list[str], force: bool = False) -> None:
        """Redraw (at most every MIN_INTERVAL_S unless `force`): the bar, and the line and the running trials."""
        now = time.monotonic()
        if not force and now - self._shown_at < MIN_INTERVAL_S:
            return
        self._shown_at = now
        total = self.bar.max
        elapsed = now - self.started
        eta = "?" if not epochs_done else clock(elapsed * max(total - epochs_done, 0) / epochs_done)
        self.bar.value = min(epochs_done, total)
        lines = [f"<b>{escape(self.name)}</b>: {trials_done}/{self.n_trials} trials, {epochs_done}/{total} epochs, "
                 f"{clock(elapsed)} elapsed, ETA {eta}"]
        lines += [escape(r) for r in running[:SHOWN_RUNNING]]
        if len(running) > SHOWN_RUNNING:
            lines.append(f"and {len(running) - SHOWN_RUNNING} more running")
        self.text.value = "<br>".join(lines)

    def close(self, trials_done: int, epochs_done: int) -> None:
        self.update(trials_done, epochs_done, [], force=True)
        self.bar.bar_style = "success" if trials_done == self.n_trials else ""


def clock(seconds: float) -> str:
    """H:MM:SS."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
