"""The dashboard's one style sheet and one script, served by the dashboard itself (nothing from a CDN), and the
Content-Security-Policy that allows only them: no inline script or style can run, whatever text a store holds."""

from __future__ import annotations

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1d1f23;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 64px; }
header.top { display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.3em; overflow-wrap: anywhere; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid #d5d8dd; }
h3 { font-size: 1.02em; margin: 1em 0 0.3em; }
a { color: #0b57a4; }
.desc { white-space: pre-line; color: #30343a; overflow-wrap: anywhere; }
.muted { color: #50565f; font-size: 0.92em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 0.9em; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e1e4e8; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #1d1f23; background: #f4f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { font-weight: 600; }
pre.error { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; max-width: 90ch; }
progress { width: 140px; }
.curves { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 0 0 16px; }
figure img { max-width: 100%; border: 1px solid #e1e4e8; }
figcaption { font-size: 0.88em; color: #50565f; }
ul.legend { list-style: none; padding: 0; margin: 4px 0 0; font-size: 0.85em; columns: 2; }
ul.legend svg { vertical-align: middle; margin-right: 4px; }
.stale { color: #a33; }
"""

JS = """
'use strict';
// Every few seconds: fetch this page's live part (HTML the server built and escaped) and put it in place.
(function () {
  var live = document.getElementById('live');
  if (!live) { return; }
  var every = parseInt(live.getAttribute('data-every') || '2000', 10);
  var state = document.getElementById('state');
  function tick() {
    fetch(live.getAttribute('data-src'), {cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
      .then(function (html) {
        live.innerHTML = html;
        if (state) { state.textContent = 'updated ' + new Date().toLocaleTimeString(); state.className = 'muted'; }
      })
      .catch(function (e) {
        if (state) { state.textContent = 'not updated: ' + e.message; state.className = 'stale'; }
      })
      .then(function () { window.setTimeout(tick, every); });
  }
  window.setTimeout(tick, every);
})();
"""


def csp() -> str:
    """Nothing from the network or inline: this server's own style, script, images and JSON only."""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


__all__ = ["CSS", "JS", "csp"]
