"""The report's pages come from Jinja2 templates shipped inside the package: every template file is package
data (a wheel carries it), and the page's Content-Security-Policy pins the exact style and script inlined."""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from nnstudy.report import _html_assets

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "src" / "nnstudy" / "report" / "templates"


def test_every_template_file_is_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["nnstudy.report"]
    files = sorted(p.relative_to(TEMPLATES.parent).as_posix() for p in TEMPLATES.rglob("*") if p.is_file())
    assert {"templates/report.html.j2", "templates/compare.html.j2", "templates/notebook.html.j2",
            "templates/report.css", "templates/report.js"} <= set(files)
    assert all(any(fnmatch(f, g) for g in globs) for f in files)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_policy_pins_the_inline_style_and_script():
    page = _html_assets.template("compare.html.j2").render(
        csp=_html_assets.safe(_html_assets.csp()), css=_html_assets.safe(_html_assets.CSS), title="<b>",
        a="a", b="b", header=["h"], rows=[["<i>x</i>"]], text_columns=(0,), note="n")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert f"style-src {_sha(style)};" in policy and f"script-src {_sha(_html_assets.JS)};" in policy
    assert "<title>&lt;b&gt; · nnstudy comparison</title>" in page and "<td>&lt;i&gt;x&lt;/i&gt;</td>" in page
