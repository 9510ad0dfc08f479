"""The HTML report's page: its style and script, the Content-Security-Policy that allows only them, and the
one escape every string from a capture goes through.

Safety: every string from a capture goes through `safe` (control and bidi characters shown as escapes)
and `html.escape(quote=True)`, in text and attributes alike, SVG included; no capture data ever goes
into the script, which only sorts and filters the table's rows. A Content-Security-Policy meta allows
nothing but this page's own style and script (by hash): no network load, no other script, no images.
"""

from __future__ import annotations

import base64
import hashlib
import html

from tlscap.report.safe_text import safe

STYLE = """
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1320px;
padding:16px 24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}p.counts{margin:4px 0 0;font-size:15px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f6f8fa}.num{text-align:right}
table.sortable th{cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
tr.sev-error td:first-child{border-left:4px solid #cf222e}tr.sev-warning td:first-child{border-left:4px solid #bf8700}
.controls{margin:8px 0;display:flex;gap:10px;align-items:center}.controls input{width:340px;padding:3px 6px}
article.conn{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:16px 0}
.mono,code,.walk{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.muted{color:#57606a}ul.findings{list-style:none;padding:0;margin:8px 0}
li.f{margin:6px 0;padding:6px 8px;border-left:4px solid #0969da;background:#ddf4ff}
li.f.error{border-color:#cf222e;background:#ffebe9}li.f.warning{border-color:#bf8700;background:#fff8c5}
.fix{color:#3d444d;margin-top:2px}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
dl.cert{display:grid;grid-template-columns:max-content auto;gap:1px 12px;margin:6px 0 10px 18px}
dl.cert dt{color:#57606a}dl.cert dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;
overflow-wrap:anywhere}.bad{color:#cf222e;font-weight:600}
td code{white-space:nowrap}button.copy{font-size:12px;padding:0 6px;margin-left:4px;cursor:pointer}
svg.ladder{display:block;max-width:100%;height:auto;border:1px solid #eaeef2;background:#fff;margin:8px 0}
svg text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#1b1f24}
svg .life{stroke:#8c959f;stroke-width:1.5}svg .hdr{fill:#f6f8fa;stroke:#8c959f}svg .who{font-weight:700}
svg .hit{fill:transparent}svg g.ev:hover .hit{fill:#f6f8fa}
svg .ev line{stroke:#1b1f24;stroke-width:1.6}svg .ev polygon{fill:#1b1f24}
svg .k-cert line{stroke:#0969da;stroke-width:2.4}svg .k-cert polygon{fill:#0969da}svg .k-cert .lbl{fill:#0550ae}
svg .k-alert line{stroke:#cf222e;stroke-width:2.4}svg .k-alert polygon{fill:#cf222e}
svg .k-alert .lbl{fill:#cf222e;font-weight:700}svg .k-end line{stroke:#8c959f;stroke-dasharray:6 4}
svg .k-end polygon{fill:#8c959f}svg .k-end .lbl{fill:#57606a}svg .note{fill:#57606a;font-size:11px}
svg .fr{fill:#57606a}svg .fr.error{fill:#cf222e;font-weight:700}svg .fr.warning{fill:#9a6700;font-weight:700}
""".strip()

SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("conn-table");
  if (table) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var heads = table.tHead.rows[0].cells;
    var filter = document.getElementById("conn-filter");
    var severity = document.getElementById("conn-severity");
    var count = document.getElementById("conn-count");
    var order = rows.map(function (row, i) { return { row: row, i: i }; });
    var key = function (row, col, numeric) {
      var cell = row.cells[col];
      var v = cell.getAttribute("data-sort");
      if (v === null) { v = cell.textContent; }
      return numeric ? (parseFloat(v) || 0) : v.toLowerCase();
    };
    var sortBy = function (col) {
      var th = heads[col];
      var numeric = th.classList.contains("num");
      var asc = th.getAttribute("aria-sort") !== "ascending";
      for (var k = 0; k < heads.length; k++) { heads[k].removeAttribute("aria-sort"); }
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      order.sort(function (a, b) {
        var x = key(a.row, col, numeric), y = key(b.row, col, numeric);
        var r = x < y ? -1 : (x > y ? 1 : a.i - b.i);
        return asc ? r : -r;
      });
      order.forEach(function (o) { body.appendChild(o.row); });
    };
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(col); }
      });
    });
    var apply = function () {
      var q = filter.value.trim().toLowerCase();
      var sev = severity.value;
      var shown = 0;
      rows.forEach(function (row) {
        var ok = (!q || row.textContent.toLowerCase().indexOf(q) !== -1) &&
                 (!sev || row.getAttribute("data-severity") === sev);
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " connections";
    };
    filter.addEventListener("input", apply);
    severity.addEventListener("change", apply);
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      var done = function () { button.textContent = "copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
      } else { fallback(text); done(); }
    });
  });
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the filter stays visible beside the button */ }
    document.body.removeChild(area);
  }
  document.documentElement.setAttribute("data-tlscap-ready", String(document.scripts.length));
})();
""".strip()


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; img-src 'none'; "
       "connect-src 'none'; font-src 'none'; object-src 'none'; media-src 'none'; frame-src 'none'; "
       "base-uri 'none'; form-action 'none'")


def h(value: object) -> str:
    """Any value as HTML text or attribute content: visible escapes for control characters, then escaped."""
    return html.escape(safe("" if value is None else str(value)), quote=True)


PAGE_START = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="referrer" content="no-referrer">'
    f"<title>tlscap report</title><style>{STYLE}</style></head>\n<body>"
)
