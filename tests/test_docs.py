"""The documentation: the generated references match the code, and `mkdocs build --strict` passes."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from nnstudy import StudyError
from nnstudy.cli import build_parser
from nnstudy.spec import read_study
from nnstudy.spec._schema import MODEL_KINDS, StudyFile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from gen_cli import cli_page  # noqa: E402
from gen_reference import study_file_page  # noqa: E402

MINIMAL = {"study": {"name": "x"}, "data": {"name": "moons"}}


def model_keys(model: type[BaseModel], prefix: str) -> dict[str, object]:
    """dotted key -> field, for every key pydantic accepts in `model` (tables nested, lists of tables as [])."""
    out = {}
    for name, field in model.model_fields.items():
        if field.exclude:  # internal (filled in by the validator): a study file that writes it is refused
            continue
        ann, args = field.annotation, typing.get_args(field.annotation)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(model_keys(ann, f"{prefix}.{name}"))
        elif typing.get_origin(ann) is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            out.update(model_keys(args[0], f"{prefix}.{name}[]"))
        else:
            out[f"{prefix}.{name}"] = field
    return out


def accepted_keys() -> dict[str, tuple[str | None, object]]:
    """Every key of a study file -> (model kind it needs, field); `sweep` is one free-form table."""
    keys: dict[str, tuple[str | None, object]] = {"sweep": (None, None)}
    for section, field in StudyFile.model_fields.items():
        if section not in ("model", "sweep"):
            keys.update({k: (None, f) for k, f in model_keys(field.annotation, section).items()})
    for kind, cls in MODEL_KINDS.items():
        for k, f in model_keys(cls, "model").items():
            keys.setdefault(k, (kind, f))
    return keys


def test_study_file_reference_lists_exactly_the_keys_the_validator_accepts():
    page = study_file_page()
    listed = set(re.findall(r"^\| `([^`]+)` \|", page, flags=re.M))
    assert listed == set(accepted_keys())
    for kind in MODEL_KINDS:
        assert f'## [model] (kind = "{kind}")' in page


def test_every_listed_key_passes_the_validator_and_an_unlisted_one_fails():
    for key, (kind, field) in accepted_keys().items():
        if field is None or "[]" in key or field.is_required() or field.default is None:
            continue
        raw = copy.deepcopy(MINIMAL)
        if kind:
            raw["model"] = {"kind": kind}
        *path, last = key.split(".")
        table = raw
        for p in path:
            table = table.setdefault(p, {})
        table[last] = field.get_default(call_default_factory=True)
        if isinstance(table[last], BaseModel):
            continue
        try:
            read_study(raw)
        except StudyError as e:  # e.g. kind "given" needs weights: fine, the key itself was accepted
            assert "unknown key" not in str(e), key
    with pytest.raises(StudyError, match="unknown key"):
        read_study({**MINIMAL, "train": {"learning_rate": 0.1}})


def test_reference_shows_types_defaults_and_allowed_values():
    page = study_file_page()
    assert '| `train.optimizer` | one of "sgd", "momentum"' in page
    assert "| `train.epochs` | int (≥ 1, ≤ 100,000) | `20` |" in page
    assert "| `study.name` | str (length ≤ 100, matches `^[a-z0-9][a-z0-9-]*$`) | required |" in page
    assert "`moons`" in page.split("| `data.name` |")[1].split("\n")[0]


def test_cli_reference_lists_every_command_and_option():
    import argparse

    page = cli_page()

    def walk(p, path):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    assert f"## `{' '.join(path + [name])}`" in page
                    walk(sub, path + [name])
            elif not isinstance(a, argparse._HelpAction):
                for o in a.option_strings or [a.dest]:
                    assert f"`{o}`" in page, (path, o)

    walk(build_parser(), ["nnstudy"])


def test_docs_build_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is not installed (scripts/setup.sh installs the docs extra)")
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    run = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(site)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    for page in ("reference/study-file", "reference/cli", "reference/api", "statistics", "python-api"):
        assert (site / page / "index.html").exists(), page
    for toml in (ROOT / "studies").glob("*.toml"):
        assert (site / "studies" / toml.stem / "index.html").exists(), toml.name
    html = (site / "studies" / "moons-depth" / "index.html").read_text()
    assert 'src="../../moons-depth-decision-boundary.png"' in html
    assert (site / "moons-depth-decision-boundary.png").exists()
    assert not list(site.rglob("*.py"))  # the generators are not published
