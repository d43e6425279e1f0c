"""Hostile input (issue 17): every user string is text in every output; queries are literal."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from nnstudy.cli import main
from nnstudy.report._format import md_escape

EVIL = ("[/bold] [red]x <script>alert(1)</script> \u001b]0;pwned\u0007 \u001b[2J \u009b31m \u202eevil "
        "![i](http://x) [l](javascript:y) &lt; # h")
STUDY = """
[study]
name = "evil"
description = {desc}
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
[trials]
seeds = 2
"""
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture(scope="module")
def evil_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("evil")
    study = root / "evil.toml"
    study.write_text(STUDY.format(desc=json.dumps(EVIL)))
    store = root / "store"
    assert main(["run", str(study), "--store", str(store), "--workers", "1"]) == 0
    with sqlite3.connect(store / "nnstudy.sqlite") as c:  # a failed trial's error is user text too
        c.execute("UPDATE trials SET error = ? WHERE seed = 1", (EVIL,))
    return store


def _trial_ids(store) -> list[str]:
    with sqlite3.connect(store / "nnstudy.sqlite") as c:
        return [r[0] for r in c.execute("SELECT trial_id FROM trials ORDER BY seed")]


def test_ls_shows_markup_and_control_characters_as_text(evil_store, capsys):
    assert main(["ls", "--store", str(evil_store)]) == 0
    out = capsys.readouterr().out
    assert "[/bold] [red]x <script>" in out  # printed as written, not a Rich crash or a colour
    assert not any(c in out for c in CONTROLS)
    assert "\\x1b]0;pwned\\x07" in out and "\\x9b31m" in out and "\\u202e" in out


def test_show_prints_errors_and_config_as_text(evil_store, capsys):
    tid = _trial_ids(evil_store)[1]
    assert main(["show", tid, "--store", str(evil_store)]) == 0
    out = capsys.readouterr().out
    assert f"trial {tid}" in out and "[/bold] [red]x" in out
    assert not any(c in out for c in CONTROLS)


def test_report_md_carries_no_raw_html_link_or_image(evil_store):
    md = (evil_store / "evil" / "report.md").read_text()
    assert re.search(r"(?<!\\)<", md) is None  # every < escaped: no raw HTML, no autolink
    assert re.search(r"(?<!\\)\]\((http|javascript)", md) is None  # no link, no image
    assert "\\<script\\>alert(1)\\</script\\>" in md and "&amp;lt;" in md
    assert not any(c in md for c in CONTROLS)
    html = (evil_store / "evil" / "report.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_markdown_escape_neutralises_html_links_and_pipes():
    assert md_escape("<b>x</b>") == "\\<b\\>x\\</b\\>"
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("[a](u)") == "[a]\\(u)" and md_escape("![a](u)") == "!\\[a]\\(u)"
    assert md_escape("[200, 200]") == "[200, 200]" and md_escape("Learning rate & width") == "Learning rate & width"
    assert md_escape("*x* _y_ # z", cell=False) == "\\*x\\* \\_y\\_ \\# z"
    assert md_escape("*x* _y_ test_accuracy ~~z~~") == "\\*x\\* \\_y\\_ test_accuracy \\~\\~z\\~\\~"  # no emphasis in cells
    assert md_escape("cost $5 and $6") == "cost \\$5 and \\$6"  # no math where Markdown has it (GitHub)
    assert md_escape("L2 $\\lambda$", cell=False) == "L2 \\$\\\\lambda\\$"


@pytest.mark.parametrize("query", ["%", "____________", "", "   ", "ab", "zzzz", "1234%", "12_4", "ABCD'--"])
def test_show_refuses_patterns_and_short_prefixes(evil_store, capsys, query):
    assert main(["show", query, "--store", str(evil_store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "hexadecimal" in err and "trial" not in capsys.readouterr().out


def test_show_prefix_is_literal_in_the_store(evil_store):
    from nnstudy.store import Store

    db = Store(evil_store, create=False)
    assert db.find_trials("%") == [] and db.find_trials("_" * 12) == []
    tid = _trial_ids(evil_store)[0]
    assert [t["trial_id"] for t in db.find_trials(tid[:4])] == [tid] or len(db.find_trials(tid[:4])) >= 1


def test_error_lines_are_capped_and_printable(tmp_path, capsys):
    study = tmp_path / "long.toml"
    study.write_text('[study]\nname = "x"\n[data]\nname = "moons"\n[model]\nactivation = "\\u001b[2J'
                     + "x" * 129_000 + '"\n')
    assert main(["run", str(study), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and len(err) < 420, len(err)
    assert "more characters left out)" in err and "\x1b" not in err


LABEL = "A|B *star* <i>x</i> _it_ ~~gone~~"


def test_a_label_with_markup_is_text_in_every_line_of_report_md(tmp_path):
    """A [[sweep]] label names rows, the best configuration in the Δ sentence and figure captions: rendered as
    Markdown (CommonMark + tables + strikethrough), each shows the label's characters, with no emphasis or HTML."""
    from markdown_it import MarkdownIt

    from conftest import run_cli, write_study

    study = write_study(tmp_path, f"""
[study]
name = "marked"
[data]
name = "moons"
n_samples = 200
[model]
hidden = [4]
[train]
epochs = 2
[[sweep]]
label = "{LABEL}"
"train.lr" = [0.1]
[[sweep]]
label = "Plain"
"train.lr" = [0.001]
[trials]
seeds = 2
""")
    assert run_cli(study, "--store", tmp_path / "s") == 0
    md = (tmp_path / "s" / "marked" / "report.md").read_text()
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)
    assert not re.search(r"<(em|i|s|del)>", html.split("<h2>Figures</h2>")[0])  # the figures' captions are <em>
    assert not re.search(r"<(em|i|s|del|strong)>", html.split("<h2>Figures</h2>")[1].replace("<p><em>", ""))
    shown = "A|B *star* &lt;i&gt;x&lt;/i&gt; _it_ ~~gone~~"
    best = f"to the best configuration ({shown})" in html
    assert html.count(f"<td>{shown}</td>") == 1 + (not best)  # its row in the results table, and in the second unless best
    assert f"to the best configuration ({shown if best else 'Plain'})" in html  # the Δ sentence
