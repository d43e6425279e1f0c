"""Every shipped study file is a valid study: it reads and validates as `nnstudy run` reads it, its name is
its file name, and a grid expands into distinct trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnstudy.spec import expand, read_study

STUDIES = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.toml"))


def test_there_are_studies():
    assert len(STUDIES) >= 45


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_a_shipped_study_validates(path):
    study, _, label = read_study(path)
    assert study.study.name == path.stem
    assert study.study.description
    if not study.search.active:
        trials = expand(study, label)  # the label: files the study names are found next to it
        assert trials and len({t.trial_id for t in trials}) == len(trials)


def test_every_experiment_of_the_catalog_names_shipped_studies_and_a_verdict():
    """docs/experiments.md: one row per experiment of the catalog (34), each naming study files that exist (the
    test above validates and expands every one of them) and saying as is / with data of your own / gap."""
    import re

    page = (STUDIES[0].parents[1] / "docs" / "experiments.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \| (.+) \|$", page, flags=re.M)
    assert [int(r[0]) for r in rows] == list(range(1, 35))
    shipped = {p.stem for p in STUDIES}
    for number, _, files, verdict in rows:
        named = re.findall(r"\[([a-z0-9-]+)\]\(studies/([a-z0-9-]+)\.md\)", files)
        assert named and all(text == stem for text, stem in named), number
        assert {stem for _, stem in named} <= shipped, (number, {s for _, s in named} - shipped)
        assert verdict.startswith(("as is", "with data of your own", "gap: ")), (number, verdict[:40])
    assert sum(v.startswith("gap: ") for *_, v in rows) == 0  # the last (self-attention in NumPy) closed in session 7
