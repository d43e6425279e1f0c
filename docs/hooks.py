"""mkdocs hook: adds the generated pages (study-file, CLI and API references, one page per study).

Listed under `hooks:` in mkdocs.yml; the pages exist only in the build, never in the tree.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from gen_api import api_page  # noqa: E402
from gen_cli import cli_page  # noqa: E402
from gen_reference import study_file_page  # noqa: E402


def study_page(path: Path, figures: list[str]) -> str:
    """A shipped study: what it asks, the file itself, and its real figures from docs/ if any."""
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    info = raw.get("study", {})
    grids = raw.get("sweep", {})
    swept = {k for g in (grids if isinstance(grids, list) else [grids]) for k in g}
    quick = "--sweep train.epochs=1" if "train.epochs" in swept else "--set train.epochs=1"  # --set: not a swept key
    out = [f"# {info.get('name', path.stem)}", "", info.get("description", ""), "",
           f"Run it with `nnstudy run studies/{path.name}` (add `{quick}` for a quick try), "
           f"or from Python with `nnstudy.run(\"studies/{path.name}\")`.", "",
           f"```toml title=\"studies/{path.name}\"", text.rstrip(), "```", ""]
    for fig in figures:
        out += [f"![{fig} from a real run of {path.stem}](../{fig})", ""]
    return "\n".join(out)


def pages() -> dict[str, str]:
    """{page path under docs/: Markdown} of every generated page."""
    out = {"reference/study-file.md": study_file_page(), "reference/cli.md": cli_page(),
           "reference/api.md": api_page()}
    pngs = sorted(p.name for p in DOCS.glob("*.png"))
    for path in sorted((ROOT / "studies").glob("*.toml")):
        out[f"studies/{path.stem}.md"] = study_page(path, [p for p in pngs if p.startswith(path.stem + "-")])
    return out


def on_files(files, config):
    for uri, content in pages().items():
        files.append(File.generated(config, uri, content=content))
    return files


def on_config(config):
    studies = [{p.stem: f"studies/{p.stem}.md"} for p in sorted((ROOT / "studies").glob("*.toml"))]
    for item in config["nav"] or []:
        if isinstance(item, dict) and "Studies" in item:
            item["Studies"] = studies  # every shipped study, also ones added after this file
    return config
