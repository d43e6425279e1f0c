"""report.html's templates, inline style and script, and the Content-Security-Policy that allows only them.

The page is rendered from `templates/report.html.j2` by Jinja2 with autoescaping on: every value a
template prints is escaped text unless the code marks it safe (only the style, the script and the
policy below, which are ours). The policy names the exact style and script by their sha256, so the
page loads nothing from anywhere and no other script can run in it, even if some text were ever
left unescaped.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files

import jinja2

_TEMPLATES = files(__package__) / "templates"  # shipped as package data (pyproject: package-data)

CSS = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
# Sorts any table.sortable by the column whose header button is pressed; cells sort by their
# data-v attribute (numbers numerically, text naturally), missing values last.
JS = (_TEMPLATES / "report.js").read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def template(name: str) -> jinja2.Template:
    """A page template from templates/, autoescaped: values print as text, markup only via `safe()`."""
    return _environment().get_template(name)


def safe(text: str) -> jinja2.utils.markupsafe.Markup:
    """Our own markup (the style, the script, the policy), printed as is; never a user's string."""
    return jinja2.utils.markupsafe.Markup(text)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def csp() -> str:
    """The page's policy: nothing from the network; only this style and this script."""
    return (f"default-src 'none'; img-src data:; style-src {_sha256(CSS)}; script-src {_sha256(JS)}; "
            f"base-uri 'none'; form-action 'none'")


__all__ = ["CSS", "JS", "csp", "template", "safe"]
