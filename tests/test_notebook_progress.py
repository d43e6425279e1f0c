"""A run in Jupyter shows one live progress widget (the notebook extra's ipywidgets), its lines as plain text,
and never rich's ipywidgets warning; without ipywidgets it falls back to plain lines."""

from __future__ import annotations

import io
import json
import sys
import warnings

import pytest
from rich.console import Console

from conftest import execute_notebook, notebook_tools
from nnstudy.executor import _notebook_bar
from nnstudy.executor._progress import StudyProgress

WIDGET = "application/vnd.jupyter.widget-view+json"
STUDY = {"study": {"name": "nb-progress"}, "data": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [4]},
         "train": {"epochs": 3, "batch_size": 32}, "trials": {"seeds": 2}}


def test_a_run_in_a_kernel_shows_one_widget_and_plain_lines(tmp_path):
    _, nbformat = notebook_tools("ipywidgets")  # the notebook extra; the test extra includes it
    code = (f"import nnstudy\n"
            f"study = nnstudy.run({json.dumps(STUDY)}, store={str(tmp_path / 'runs')!r}, workers=1)\n"
            f"print(len(study.trials()), 'trials')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    execute_notebook(nb, tmp_path, store_widget_state=True)
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1 and WIDGET in displays[0]["data"]  # one widget, no display per line or trial
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "ipywidgets" not in text and "Warning" not in text
    lines = text.splitlines()  # plain lines on stderr, no escape codes: the start, one per trial, the print
    assert lines[0].startswith("nb-progress: training 2 trial(s)") and lines[-1] == "2 trials"
    assert sum(line.startswith("done ") for line in lines) == 2 and "\x1b" not in text
    # the widget's last state: the bar full (2 seeds x 3 epochs) and the counts
    states = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    box = states[displays[0]["data"][WIDGET]["model_id"]]["state"]
    bar, html = (states[ref.removeprefix("IPY_MODEL_")]["state"] for ref in box["children"])
    assert bar["value"] == bar["max"] == 6
    assert "2/2 trials, 6/6 epochs" in html["value"]


class _Shell:  # what IPython.get_ipython() returns inside a Jupyter kernel
    pass


_Shell.__name__ = "ZMQInteractiveShell"


@pytest.fixture
def in_a_kernel(monkeypatch):
    ipython = type(sys)("IPython")
    ipython.get_ipython = _Shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert _notebook_bar.in_notebook()


def test_without_ipywidgets_a_notebook_gets_plain_lines_and_no_warning(in_a_kernel, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    console = Console(file=io.StringIO(), force_jupyter=True, soft_wrap=True)  # a user's console that rich thinks is Jupyter
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rich: 'install "ipywidgets" for Jupyter support'
        with StudyProgress(console, "s", 1, 2) as progress:
            assert progress.widget is None and progress.plain
            progress.start("t1", "lr=0.1", 2)
            progress.epoch("t1", 2)
            progress.finish("t1", 2, "t1 done")
            assert not progress.progress.live.is_started  # rich's live display (and its widget) never started


def test_outside_a_kernel_there_is_no_widget(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not _notebook_bar.in_notebook() and _notebook_bar.notebook_bar("s", 1, 1) is None
