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
