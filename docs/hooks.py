"""mkdocs hook: adds the generated pages (study-file, model-kind, CLI and API references, one page per study).

Listed under `hooks:` in mkdocs.yml; the pages exist only in the build, never in the tree.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from gen_api import api_page  # noqa: E402
from gen_cli import cli_page  # noqa: E402
from gen_kinds import kinds_page  # noqa: E402
from gen_reference import study_file_page  # noqa: E402
from gen_results import NOT_RUN  # noqa: E402


def _quick_flag(path: Path, raw: dict) -> str | None:
    """'--set train.epochs=1' ('--sweep' for a swept key), None where the study's trials do not read train.epochs
    (PCA, XGBoost, a given network): nnstudy refuses it there, and they run quickly as they are."""
    from nnstudy.errors import StudyError
    from nnstudy.spec import expand, read_study
    from nnstudy.spec._unread import check_read

    grids = raw.get("sweep", {})
    swept = "train.epochs" in {k for g in (grids if isinstance(grids, list) else [grids]) for k in g}
    try:
        study, _, label = read_study(path, None if swept else {"train.epochs": 1}, {"train.epochs": [1]} if swept
                                     else None)
        if not study.search.active:
            check_read(study, expand(study, label), label)
    except StudyError:
        return None
    return "--sweep train.epochs=1" if swept else "--set train.epochs=1"  # --set: not a swept key


def study_page(path: Path, results: Path = DOCS / "results") -> str:
    """A shipped study: its question, the command, its real results (docs/results/, from gen_results.py) or
    a plain statement that it has not been run here, then the file itself."""
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    info = raw.get("study", {})
    quick = _quick_flag(path, raw)
    out = [f"# {info.get('name', path.stem)}", "", info.get("description", ""), "",
           "```bash", f"nnstudy run studies/{path.name}", "```", "",
           (f"(add `{quick}` for a quick try, a variant stored beside the study), or" if quick else "Or") +
           f" from Python `nnstudy.run(\"studies/{path.name}\")`.", "", "## Results", ""]
    found = results / f"{path.stem}.md"
    if found.exists():
        ran = found.read_text(encoding="utf-8")
        sha = re.search(r"^- \*\*Study file\*\*: sha256 ([0-9a-f]+)", ran, flags=re.M)
        if sha and not hashlib.sha256(path.read_bytes()).hexdigest().startswith(sha.group(1)):
            out += ['!!! warning "The study file has changed since this run"',
                    "    These results come from an earlier version of the file below; run it again for current ones.",
                    ""]
        out += [ran.rstrip(), ""]
    elif path.stem in NOT_RUN:
        out += [f"Not run on the documentation's machine, so this page has no numbers: {NOT_RUN[path.stem]}.", ""]
    else:
        out += ["Not run on the documentation's machine yet, so this page has no numbers: run the command "
                "above, and `runs/" + path.stem + "/report.html` holds the results. (`python docs/gen_results.py"
                " --store runs " + path.stem + "` puts them here.)", ""]
    out += ["## The study file", "", f"```toml title=\"studies/{path.name}\"", text.rstrip(), "```", ""]
    return "\n".join(out)


def studies_index(paths: list[Path]) -> str:
    """Every shipped study with its question and whether its page has results from a real run."""
    out = ["# Shipped studies", "",
           "Each study file under `studies/` asks one question. Its page shows the question, the command and, "
           "for the studies run on the documentation's machine (2 shared CPU cores: a long study runs there as a "
           "smaller variant, which its page labels as such with the exact command, or not at all, and its page says why), "
           "the real results table and main figure of that run, dated, with the code version.", "",
           "| study | question | data | results here |", "|---|---|---|---|"]
    for path in paths:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        found = DOCS / "results" / f"{path.stem}.md"
        shrunk = found.exists() and "A shrunk run, not the study itself" in found.read_text(encoding="utf-8")
        ran = ("a shrunk variant" if shrunk else "yes") if found.exists() else \
            ("no: " + re.split(r"[,(:]", NOT_RUN[path.stem])[0].strip() if path.stem in NOT_RUN else "not run yet")
        question = str(raw.get("study", {}).get("description", "")).replace("|", "\\|")
        data = raw.get("data", {}).get("name") or raw.get("data", {}).get("loader", "")
        out.append(f"| [{path.stem}]({path.stem}.md) | {question} | `{data}` | {ran} |")
    return "\n".join(out) + "\n"


def _studies() -> list[Path]:
    return sorted((ROOT / "studies").glob("*.toml"))


def pages() -> dict[str, str]:
    """{page path under docs/: Markdown} of every generated page."""
    out = {"reference/study-file.md": study_file_page(), "reference/model-kinds.md": kinds_page(),
           "reference/cli.md": cli_page(), "reference/api.md": api_page(),
           "studies/index.md": studies_index(_studies())}
    for path in _studies():
        out[f"studies/{path.stem}.md"] = study_page(path)
    return out


def on_files(files, config):
    for uri, content in pages().items():
        files.append(File.generated(config, uri, content=content))
    return files


def _listed(nav) -> set[str]:
    found = set()
    for item in nav or []:
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            for value in item.values():
                found |= _listed(value) if isinstance(value, list) else {value}
    return found


def on_config(config):
    studies = ["studies/index.md"] + [{p.stem: f"studies/{p.stem}.md"} for p in _studies()]
    nav = config["nav"] or []
    listed = _listed(nav)
    # a guide page added to docs/ without touching mkdocs.yml still gets into the navigation
    extra = [p.name for p in sorted(DOCS.glob("*.md")) if p.name not in listed]
    for item in nav:
        if isinstance(item, dict) and "Studies" in item:
            item["Studies"] = studies  # every shipped study, also ones added after this file
        if isinstance(item, dict) and "Guides" in item and extra:
            item["Guides"] = list(item["Guides"] or []) + extra
    return config
