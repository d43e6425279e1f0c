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
