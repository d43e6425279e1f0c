"""report.html's inline style and script, and the Content-Security-Policy that allows only them.

The policy names the exact style and script by their sha256, so the page loads nothing from
anywhere and no other script can run in it, even if some text were ever left unescaped.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1d1f23;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.8em; margin: 0.2em 0 0.3em; overflow-wrap: anywhere; }
h2 { font-size: 1.3em; margin: 1.8em 0 0.6em; padding-bottom: 0.2em; border-bottom: 1px solid #d5d8dd; }
.desc { white-space: pre-line; font-size: 1.05em; color: #30343a; }
.muted { color: #50565f; font-size: 0.92em; }
.note { color: #30343a; font-size: 0.92em; max-width: 75ch; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.meta dt { font-weight: 600; color: #444a52; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 0.9em; }
th, td { padding: 5px 8px; border-bottom: 1px solid #e1e4e8; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #1d1f23; background: #f4f5f7; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { background: #eef6ee; }
th button { font: inherit; font-weight: 600; color: inherit; background: none; border: 0; padding: 0;
  cursor: pointer; text-align: inherit; }
th button::after { content: " \\2195"; color: #8a9099; font-weight: 400; }
th[aria-sort="ascending"] button::after { content: " \\2191"; color: #1d1f23; }
th[aria-sort="descending"] button::after { content: " \\2193"; color: #1d1f23; }
th button:focus-visible { outline: 2px solid #2457c5; outline-offset: 2px; }
.tied { color: #2457c5; font-weight: 600; }
td.err { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em;
  white-space: pre-wrap; word-break: break-word; max-width: 560px; }
.status-failed { color: #a1260d; font-weight: 600; }
.status-diverged { color: #8a5a00; font-weight: 600; }
figure { margin: 18px 0 26px; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
figcaption { font-size: 0.9em; color: #444a52; margin-top: 6px; max-width: 90ch; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 12px 14px; overflow-x: auto;
  font-size: 0.85em; line-height: 1.4; white-space: pre-wrap; word-break: break-word; }
details summary { cursor: pointer; color: #30343a; font-weight: 600; margin: 8px 0; }
@media (max-width: 700px) { main { padding: 16px 14px 48px; } body { font-size: 14px; } }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, pre { break-inside: avoid; }
  th button::after { content: ""; }
  tr.best td, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .table-wrap { overflow: visible; }
}
"""

# Sort any table.sortable by the column whose header button is pressed; cells sort by their
# data-v attribute (numbers numerically, text naturally), missing values last.
JS = """
(function () {
  "use strict";
  function key(row, col) {
    var v = row.cells[col].getAttribute("data-v");
    if (v === null || v === "") { return null; }
    var n = Number(v);
    return isNaN(n) ? v : n;
  }
  function order(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return String(a).localeCompare(String(b), undefined, {numeric: true});
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1, col), b = key(r2, col);
      if (a === null || b === null) { return (a === null) - (b === null); }
      return asc ? order(a, b) : order(b, a);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(table, th, col); }); }
    });
  });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def csp() -> str:
    """The page's policy: nothing from the network; only this style and this script."""
    return (f"default-src 'none'; img-src data:; style-src {_sha256(CSS)}; script-src {_sha256(JS)}; "
            f"base-uri 'none'; form-action 'none'")


__all__ = ["CSS", "JS", "csp"]
