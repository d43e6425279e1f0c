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

import gen_results  # noqa: E402
import hooks  # noqa: E402
from gen_cli import cli_page  # noqa: E402
from gen_kinds import kinds_page  # noqa: E402
from gen_reference import study_file_page  # noqa: E402

from nnstudy import kinds  # noqa: E402

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


def test_every_model_kind_and_each_of_its_keys_is_in_the_kinds_reference():
    page = kinds_page()
    sections = re.split(r"^## ", page, flags=re.M)[1:]
    by_kind = {s.split("\n", 1)[0]: s for s in sections}
    assert list(by_kind) == kinds.names() and len(by_kind) >= 21
    for name, kind in kinds.registry().items():
        listed = set(re.findall(r"^\| `([^`]+)` \|", by_kind[name], flags=re.M))
        assert listed == set(model_keys(kind.config, "model")), name
        assert f"[`{name}`](#{name})" in page  # the summary table links to the kind's section
    assert "| `model.blocks[].kernel` |" in by_kind["cnn"]  # a list of tables, walked into
    assert "`figures/som_umatrix.png`" in by_kind["som"]


def test_every_key_of_both_references_says_what_it_means():
    """From the field's description=, the docstring under it, or the generator's notes: never an empty cell."""
    for page in (study_file_page(), kinds_page()):
        bare = [row.split(" | ")[0] for row in re.findall(r"^\| `[^`]+` \|.*$", page, flags=re.M)
                if row.rstrip().endswith("|  |") and not row.startswith("| `sweep` |")]
        assert not bare, f"keys without a description (give the field a description=): {bare}"


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
    assert (site / "reference" / "model-kinds" / "index.html").exists()
    ran = sorted(p.stem for p in (ROOT / "docs" / "results").glob("*.md"))
    assert ran, "docs/results/ holds no study's results"
    html = (site / "studies" / ran[0] / "index.html").read_text()
    assert f'src="../../results/{ran[0]}.png"' in html and (site / "results" / f"{ran[0]}.png").exists()
    not_ran = next(p.stem for p in sorted((ROOT / "studies").glob("*.toml")) if p.stem not in ran)
    assert "Not run on the documentation" in (site / "studies" / not_ran / "index.html").read_text()
    assert not list(site.rglob("*.py"))  # the generators are not published
    assert not (site / "results" / f"{ran[0]}.md").exists()  # read by the hook, never a page of its own


def test_committed_results_belong_to_shipped_studies_and_have_their_figure():
    for md in (ROOT / "docs" / "results").glob("*.md"):
        assert (ROOT / "studies" / f"{md.stem}.toml").exists(), md.name
        text = md.read_text(encoding="utf-8")
        assert f"`nnstudy run studies/{md.stem}.toml" in text and re.search(r"\*\*Run\*\*: 20\d\d-\d\d-\d\d", text)
        assert re.search(r"^\| (.* \| )?n \|", text, flags=re.M), md.name  # the results table
        if f"../results/{md.stem}.png" in text:
            assert (md.parent / f"{md.stem}.png").stat().st_size > 1000


def test_gen_results_copies_a_real_report_onto_the_study_page(tmp_path):
    import csv

    import nnstudy

    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "pca-tiny.toml").write_text(
        '[study]\nname = "pca-tiny"\ndescription = "PCA on iris, 1 or 2 components"\n[data]\nname = "iris"\n'
        '[model]\nkind = "pca"\n[train]\nengine = "classical"\n[sweep]\n"model.components" = [1, 2]\n')
    nnstudy.run(studies / "pca-tiny.toml", store=tmp_path / "store", workers=1)
    out = tmp_path / "results"
    assert gen_results.main(["--store", str(tmp_path / "store"), "--studies-dir", str(studies), "--out", str(out),
                             "--flags", "--workers 1", "--code", "abc1234", "pca-tiny"]) == 0
    text = (out / "pca-tiny.md").read_text()
    assert "- **Command**: `nnstudy run studies/pca-tiny.toml --workers 1`" in text and "nnstudy abc1234" in text
    assert f"{os.cpu_count()} cores" in text
    rows = list(csv.DictReader(open(tmp_path / "store" / "pca-tiny" / "results.csv")))
    for row in rows:  # the report's own numbers, rounded as the report rounds them
        rmse = float(row["test_recon_rmse_mean"])
        assert f"| {row['model.components']} | 1 | " in text and (f"{rmse:.4g}" in text or f"{rmse:.4f}" in text)
    assert (out / "pca-tiny.png").read_bytes() == (tmp_path / "store" / "pca-tiny" / "figures" / "pca_curves.png").read_bytes()
    page = hooks.study_page(studies / "pca-tiny.toml", results=out)
    assert "PCA on iris, 1 or 2 components" in page and text.strip() in page
    assert "Not run on the documentation" in hooks.study_page(studies / "pca-tiny.toml", results=tmp_path)
    assert "has changed since this run" not in page
    with open(studies / "pca-tiny.toml", "a") as f:
        f.write("[trials]\nseeds = 2\n")
    assert "has changed since this run" in hooks.study_page(studies / "pca-tiny.toml", results=out)
    # a shrunk variant (its --as folder) is labelled as such, with its real command
    assert gen_results.main(["--store", str(tmp_path / "store"), "--studies-dir", str(studies), "--out", str(out),
                             "--shrunk", "--set data.train_size=0.5 --as pca-tiny", "pca-tiny"]) == 0
    text = (out / "pca-tiny.md").read_text()
    assert "A shrunk run, not the study itself" in text
    assert "- **Command**: `nnstudy run studies/pca-tiny.toml --set data.train_size=0.5 --as pca-tiny`" in text


@pytest.mark.parametrize("stem, quick", [("batch-size", "--set train.epochs=1"), ("ae-dim-epochs", "--sweep "
                                          "train.epochs=1"), ("interval-sum", None), ("pca-iris", None)])
def test_a_study_page_proposes_a_quick_try_only_where_its_trials_read_train_epochs(stem, quick):
    """A given network is evaluated and PCA fits without epochs: nnstudy refuses train.epochs for them, so
    their pages propose no `--set train.epochs=1`."""
    page = hooks.study_page(ROOT / "studies" / f"{stem}.toml")
    if quick:
        assert f"(add `{quick}` for a quick try, a variant stored beside the study), or from Python" in page
    else:
        assert "train.epochs" not in page.split("## Results")[0] and "\nOr from Python `nnstudy.run(" in page


def test_a_study_this_machine_cannot_run_says_why():
    page = hooks.study_page(ROOT / "studies" / "cifar10-numpy.toml", results=ROOT / "studies")
    assert "Not run on the documentation's machine" in page and "CIFAR-10" in page
    assert set(gen_results.NOT_RUN) <= {p.stem for p in (ROOT / "studies").glob("*.toml")}



def _commands(markdown: str) -> list[str]:
    block = re.search(r"```bash\n(# 1\..*?)```", markdown, flags=re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_and_docs_give_the_same_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first, second = _commands(readme)
    assert _commands((ROOT / "docs" / "index.md").read_text(encoding="utf-8")) == [first, second]
    assert second in (ROOT / ".ci" / "run").read_text().splitlines()
    # command 1's claims: the study exists and trains Fashion-MNIST; --data installs no docs tools, command 2 does
    study = re.search(r"nnstudy run (studies/\S+\.toml)$", first).group(1)
    assert read_study(ROOT / study)[0].data.name == "fashion-mnist" and "data fetch fashion-mnist" in first
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    data_branch = setup[setup.index('if [ "${1:-}" = "--data" ]'):setup.index("exit 0")]
    installs = re.findall(r'pip install -q -e "\.\[([^\]]*)\]"', setup)
    assert "docs" not in re.search(r'\.\[([^\]]*)\]', data_branch).group(1) and "docs" in installs[-1].split(",")


def test_readme_table_and_figure_are_those_of_one_real_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    figure = re.search(r"\]\(docs/results/([a-z0-9-]+)\.png\)", readme).group(1)
    results = (ROOT / "docs" / "results" / f"{figure}.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 120  # a short tour; the guides live in docs/
    tables = re.findall(r"(?m)(?:^\|.*\n)+", readme)
    racing = (ROOT / "docs" / "racing.md").read_text(encoding="utf-8")
    assert tables and tables[0] in results  # the same numbers as the study's page, from the same run
    assert all(t in racing for t in tables[1:])  # the race and its grid: those of docs/racing.md
    assert (ROOT / "docs" / "results" / f"{figure}.png").exists()
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)\)", readme):
        assert (ROOT / target).exists(), target  # every link of the README points at a file of the repository
