"""report.html of a real study, run through the command line, rendered in headless Chromium.

Skips only where Chromium is absent and CI is not set (scripts/setup.sh installs it as root);
under CI a missing browser fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from browser import CHROMIUM, Browser
from nnstudy.report import format_mean_se

EVIL = "<script>alert(1)</script>"
STUDY = f"""
[study]
name = "browser-check"
description = "Two moons, width 8 vs 16-16, 3 seeds; {EVIL} must show as text"

[data]
name = "moons"
n_samples = 300
noise = 0.2

[train]
lr = 0.2
batch_size = 32
epochs = 3

[[sweep]]
"model.hidden" = [[8], [16, 16]]

[[sweep]]                      # diverges: listed with its error
"model.hidden" = [[16, 16]]
"train.lr" = [1e9]

[trials]
seeds = 3
"""

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} not installed (as root, `bash scripts/setup.sh` installs it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report of a 9-trial study run by `nnstudy run` (exit 1: three trials diverged)."""
    if not os.path.exists(CHROMIUM):  # only under CI: a missing browser is a failure
        pytest.fail(f"CI: {CHROMIUM} is missing; scripts/setup.sh installs Debian's chromium as root")
    root = tmp_path_factory.mktemp("browser")
    (root / "study.toml").write_text(STUDY)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-m", "nnstudy", "run", str(root / "study.toml"), "--store",
                        str(root / "runs"), "--workers", "1"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    return root / "runs" / "browser-check"


@pytest.fixture(scope="module")
def page(report):
    with Browser(width=1280, height=800) as b:
        b.open(report / "report.html")
        yield b


def _column(b: Browser, col: int) -> list[str]:
    return b.js(f"Array.from(document.querySelectorAll('table.results tbody tr'))"
                f".map(r => r.cells[{col}].textContent)")


def test_every_figure_decodes(page, report):
    images = page.js("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    figures = sorted((report / "figures").glob("*.png"))
    assert len(images) == len(figures) >= 5
    assert all(done and w > 100 and h > 100 for done, w, h in images), images
    assert page.js("document.querySelectorAll('figure figcaption').length") == len(figures)


def test_user_text_is_text_and_nothing_ran(page):
    assert EVIL in page.js("document.querySelector('.desc').textContent")
    assert EVIL in page.js("document.querySelector('pre').textContent")  # the study file
    assert page.js("document.querySelectorAll('script').length") == 1  # the page's own sort script
    assert page.problems() == []  # no exception, no console or log error, no dialog (no alert)
    assert page.requests() == []  # nothing but the file itself and its inline images


def test_cells_match_results_csv(page, report):
    page.open(report / "report.html")  # rows in the order of results.csv
    csv = pd.read_csv(report / "results.csv")
    acc = _column(page, 3)
    assert [c.removesuffix(" ≈") for c in acc] == [
        format_mean_se(m, s, "test_accuracy") for m, s in zip(csv["test_accuracy_mean"], csv["test_accuracy_sem"])]
    assert acc[2] == "—" and csv["n"].tolist() == [3, 3, 0]
    tied = page.js("document.querySelectorAll('table.results .tied').length")
    assert tied == int((csv["tied"] == True).sum())  # noqa: E712 (a CSV column of True/False/empty)
    header = page.js("document.querySelector('header').textContent")
    assert "torch" in header and "numpy" in header and "device cpu" in header and "wall clock" in header


def test_sorting_reorders_rows(page, report):
    csv = pd.read_csv(report / "results.csv")
    label = {h: t for h, t in zip(csv["model.hidden"] + " " + csv["train.lr"].astype(str), csv.index)}
    times = csv["train_time_s_mean"]
    done = times.dropna().sort_values(kind="stable")

    def order() -> list[int]:
        rows = zip(_column(page, 0), _column(page, 1))
        return [label[f"{h} {float(lr)}"] for h, lr in rows]

    heads = page.js("Array.from(document.querySelectorAll('table.results thead th')).map(th => th.textContent)")
    assert heads[:6] == ["model.hidden", "train.lr", "n", "test_accuracy", "val_accuracy", "train_time_s"]
    col = 5
    page.click(f"table.results thead th:nth-child({col + 1}) button")
    ascending = order()
    assert ascending == list(done.index) + [2]  # the diverged configuration (no value) sorts last
    page.click(f"table.results thead th:nth-child({col + 1}) button")
    descending = order()
    assert descending == list(done.index[::-1]) + [2]
    assert ascending != descending
    assert page.js(f"document.querySelectorAll('table.results thead th')[{col}].getAttribute('aria-sort')") \
        == "descending"
    assert page.problems() == []


def test_failed_and_diverged_trials_are_listed(page):
    rows = page.js("Array.from(document.querySelectorAll('td.status-diverged')).map("
                   "td => td.parentElement.querySelector('td.err').textContent)")
    assert len(rows) == 3 and all("nan" in r for r in rows), rows


def test_printable_and_screenshot(page, report, tmp_path_factory):
    shot = tmp_path_factory.mktemp("screenshot") / "report.png"
    page.screenshot(shot, 1200)
    img = mpimg.imread(shot)
    assert img.shape[1] == 1280 and img.shape[0] == 1200 and img.std() > 0.05
    page.send("Emulation.setEmulatedMedia", {"media": "print"})
    assert page.js("getComputedStyle(document.querySelector('main')).maxWidth") == "none"
    pdf = page.send("Page.printToPDF", {"printBackground": True})
    assert len(pdf["data"]) > 10_000
    assert page.js("Array.from(document.querySelectorAll('details')).every(d => d.open)")  # opened to print
    page.send("Emulation.setEmulatedMedia", {"media": ""})
    assert page.problems() == []
    print(json.dumps({"screenshot": str(shot)}))
