"""HTML: one self-contained page to hand around — counts by cause, a sortable and filterable table of
connections, and per connection a ladder diagram (inline SVG) with the findings and certificate details.

Safety: every string from a capture goes through `safe` (control and bidi characters shown as escapes)
and `html.escape(quote=True)`, in text and attributes alike, SVG included; no capture data ever goes
into the script, which only sorts and filters the table's rows. A Content-Security-Policy meta allows
nothing but this page's own style and script (by hash): no network load, no other script, no images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from tlscap import __version__
from tlscap.analysis.model import SEVERITY_RANK, CaptureReport, Connection, Report
from tlscap.analysis.timeline import (
    ItemKind,
    JudgedCertificate,
    TimelineItem,
    client_hello_lines,
    connection_timeline,
    judge_validity,
    judged_time,
)
from tlscap.pki.certificate import CertificateSummary
from tlscap.report.grouping import (
    Cause,
    CauseFacts,
    CauseTally,
    ca_names_label,
    cause_facts,
    cause_severity,
    certificate_label,
    servers_label,
    time_label,
)
from tlscap.report.json_report import stream_field, wireshark_filter
from tlscap.report.safe_text import safe
from tlscap.report.spool import TextSpool
from tlscap.report.text_report import capture_header, connection_title, verdict_parts, verdict_standing
from tlscap.report.writer import excluded_note, write_report

MARK = {"error": "✗", "warning": "!", "info": "i"}

# Ladder geometry (px). Labels are monospace 12px (about 7.2px a character), notes 11px (6.6px).
_WIDTH = 1000
_CLIENT_X = 180
_SERVER_X = 900
_TOP = 78
_ROW = 36
_ROW_WITH_NOTE = 50
_LABEL_CHARS = int((_SERVER_X - _CLIENT_X - 16) / 7.2)
_NOTE_CHARS = int((_SERVER_X - _CLIENT_X - 16) / 6.6)
_KIND_RANK = {"plain": 0, "end": 1, "cert": 2, "alert": 3}

_STYLE = """
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

_SCRIPT = """
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


CSP = (f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; img-src 'none'; "
       "connect-src 'none'; font-src 'none'; object-src 'none'; media-src 'none'; frame-src 'none'; "
       "base-uri 'none'; form-action 'none'")


def h(value: object) -> str:
    """Any value as HTML text or attribute content: visible escapes for control characters, then escaped."""
    return html.escape(safe("" if value is None else str(value)), quote=True)


# --------------------------------------------------------------------------- the ladder's rows


@dataclass(slots=True)
class Arrow:
    """One arrow of a ladder: what one frame carried in one direction (the timeline's steps of that frame
    and direction, drawn as one)."""

    frame: int
    sender: str
    offset_s: float = 0.0  # since the connection's first frame
    items: list[str] = field(default_factory=list)
    kind: str = "plain"  # plain | cert | alert | end
    notes: list[str] = field(default_factory=list)  # short lines drawn under the arrow
    details: list[str] = field(default_factory=list)  # the hover text's lines

    def label(self) -> str:
        return ", ".join(self.items)


def _cert_lines(judged: JudgedCertificate, index: int) -> list[str]:
    cert = judged.certificate
    lines = [f"[{index}] {cert.subject or '(empty subject)'}", f"    issued by {cert.issuer or '(empty issuer)'}"]
    if cert.not_before is not None and cert.not_after is not None:
        mark = judged.validity.mark
        lines.append(f"    valid {cert.not_before:%Y-%m-%d} … {cert.not_after:%Y-%m-%d}{'  ' + mark if mark else ''}")
    lines.append(f"    sha256 {cert.sha256}")
    return lines


def _kind(item: TimelineItem, failing: bool) -> str:
    """Red for an alert that ends a failure and for an HTTP error; close_notify and unremarkable encrypted
    alerts are plain."""
    if item.kind is ItemKind.ALERT:
        return "alert" if item.failure or failing else "plain"
    if item.kind is ItemKind.HTTP:
        return "alert" if item.failure else "plain"
    if item.kind is ItemKind.END:
        return "end"
    return "cert" if item.summary is not None else "plain"


def _notes_and_details(item: TimelineItem) -> tuple[list[str], list[str]]:
    """What the arrow shows under itself and in its hover text of a CertificateRequest's CA names or the
    client's chain. (The client's stack, under the ClientHello in the text, heads the connection's article.)"""
    if item.summary is None:
        return [], []
    if item.message == "CertificateRequest":
        listed = (": " + "; ".join(ca.name for ca in item.ca_names)) if item.ca_names else ""
        details = [f"CertificateRequest: {item.summary}"]
        details += [f"  {i}. {ca.name}{'  ' + ca.mark if ca.mark else ''}" for i, ca in enumerate(item.ca_names, 1)]
        if item.not_advertised:
            details.append("  in the truststore but not advertised (not loaded by the server?):")
            details.extend(f"     - {name}" for name in item.not_advertised)
        return [item.summary + listed], details
    if not item.chain:
        return [item.summary], ["client Certificate: empty, no client certificate sent"]
    leaf = item.chain[0]
    mark = leaf.validity.mark
    note = f"{item.summary}: {leaf.certificate.subject or '(empty subject)'}" + ("  " + mark if mark else "")
    details = [f"client Certificate: {item.summary}"]
    for i, cert in enumerate(item.chain):
        details.extend(_cert_lines(cert, i))
    return [note], details


def ladder_arrows(conn: Connection, at: datetime | None = None) -> list[Arrow]:
    """One arrow per frame (and direction) that carried handshake messages, alerts, HTTP, FIN or RST."""
    failing = _failure_frames(conn)
    sc = conn.server_certificate  # its chain goes in the hover text of the server's first Certificate
    arrows: list[Arrow] = []
    for step in connection_timeline(conn, at):
        arrow = arrows[-1] if arrows else None
        if arrow is None or arrow.frame != step.frame or arrow.sender != step.sender:
            arrow = Arrow(step.frame, step.sender, step.offset_s)
            arrows.append(arrow)
        for item in step.items:
            arrow.items.append(item.label)
            kind = _kind(item, step.frame in failing)
            if _KIND_RANK[kind] > _KIND_RANK[arrow.kind]:
                arrow.kind = kind
            notes, details = _notes_and_details(item)
            arrow.notes.extend(notes)
            arrow.details.extend(details)
            if (sc is not None and item.message == "Certificate" and step.sender == "server"
                    and step.frame == sc.frame):
                when = judged_time(conn, at, sc.frame)
                arrow.details.append(f"server Certificate: chain of {len(sc.chain)}")
                for i, cert in enumerate(sc.chain):
                    arrow.details.extend(_cert_lines(JudgedCertificate(certificate=cert,
                                                                       validity=judge_validity(cert, when)), i))
                sc = None
    return arrows


def _failure_frames(conn: Connection) -> set[int]:
    """Frames that a failing verdict or an error or warning finding names."""
    frames = {frame for f in conn.findings if f.severity in ("error", "warning") for frame in f.frames}
    d = conn.diagnosis
    if d is not None and d.cause != "ok":
        frames.update(d.frames)
    return frames


def _finding_frames(conn: Connection) -> dict[int, str]:
    """Frame → the worst severity of the findings that name it."""
    out: dict[int, str] = {}
    for f in conn.findings:
        for frame in f.frames:
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK.get(out.get(frame, ""), 0):
                out[frame] = f.severity
    return out


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def ladder_svg(conn: Connection, at: datetime | None = None) -> str:
    """The connection's ladder diagram as an inline SVG element."""
    arrows = ladder_arrows(conn, at)
    marked = _finding_frames(conn)
    mid = (_CLIENT_X + _SERVER_X) // 2
    rows: list[str] = []
    y = _TOP
    for ar in arrows:
        y += 18  # room for the label above the arrow
        x1, x2 = (_CLIENT_X, _SERVER_X) if ar.sender == "client" else (_SERVER_X, _CLIENT_X)
        tip = -10 if x2 > x1 else 10
        dt = ar.offset_s
        direction = "client → server" if ar.sender == "client" else "server → client"
        title = "\n".join([f"frame {ar.frame}  +{dt:.3f} s  {direction}", ar.label(), *ar.details])
        height = _ROW_WITH_NOTE if ar.notes else _ROW
        sev = marked.get(ar.frame, "")
        parts = [
            f'<g class="ev k-{ar.kind}"><title>{h(title)}</title>',
            f'<rect class="hit" x="4" y="{y - 16}" width="{_WIDTH - 8}" height="{height - 2}"/>',
            f'<text class="fr {sev}" x="10" y="{y + 4}">frame {ar.frame}</text>',
            f'<text class="fr" x="10" y="{y + 18}">+{dt:.3f}s</text>',
            f'<line x1="{x1}" y1="{y}" x2="{x2 + tip}" y2="{y}"/>',
            f'<polygon points="{x2},{y} {x2 + tip},{y - 5} {x2 + tip},{y + 5}"/>',
            f'<text class="lbl" x="{mid}" y="{y - 6}" text-anchor="middle">{h(_clip(ar.label(), _LABEL_CHARS))}</text>',
        ]
        if ar.notes:
            note = _clip(" · ".join(ar.notes), _NOTE_CHARS)
            parts.append(f'<text class="note" x="{mid}" y="{y + 16}" text-anchor="middle">{h(note)}</text>')
        parts.append("</g>")
        rows.append("".join(parts))
        y += height - 18
    bottom = y + 16
    head = [
        f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {bottom}" '
        f'width="{_WIDTH}" height="{bottom}" role="img" '
        f'aria-label="ladder diagram of connection {conn.id}: {h(conn.client)} to {h(conn.server)}">',
        f'<line class="life" x1="{_CLIENT_X}" y1="52" x2="{_CLIENT_X}" y2="{bottom - 6}"/>',
        f'<line class="life" x1="{_SERVER_X}" y1="52" x2="{_SERVER_X}" y2="{bottom - 6}"/>',
        f'<rect class="hdr" x="{_CLIENT_X - 90}" y="8" width="180" height="44" rx="4"/>',
        f'<text class="who" x="{_CLIENT_X}" y="26" text-anchor="middle">client</text>',
        f'<text x="{_CLIENT_X}" y="43" text-anchor="middle">{h(_clip(str(conn.client), 24))}</text>',
        f'<rect class="hdr" x="{_SERVER_X - 90}" y="8" width="180" height="44" rx="4"/>',
        f'<text class="who" x="{_SERVER_X}" y="26" text-anchor="middle">server</text>',
        f'<text x="{_SERVER_X}" y="43" text-anchor="middle">{h(_clip(str(conn.server), 24))}</text>',
    ]
    if not arrows:
        head.append(f'<text x="{mid}" y="{_TOP + 20}" text-anchor="middle">no handshake frames seen</text>')
    return "".join(head) + "".join(rows) + "</svg>"


# --------------------------------------------------------------------------- page sections


def _counts(captures: int, connections: int, with_findings: int, errors: int) -> str:
    text = (f"<b>{captures}</b> capture{_s(captures)} · <b>{connections}</b> TLS "
            f"connection{_s(connections)} · <b>{with_findings}</b> with findings")
    if errors:
        text += f' · <a href="#capture-errors"><b>{errors}</b> capture error{_s(errors)}</a>'
    return f'<p class="counts">{text}</p>'


def _excluded(note: str | None) -> str:
    return "" if note is None else f'<p class="counts excluded">{h(note)}</p>'


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _table(headers: list[tuple[str, bool]], rows: list[str], attrs: str = "") -> str:
    return f"{_table_head(headers, attrs)}{''.join(rows)}{_TABLE_END}"


def _table_head(headers: list[tuple[str, bool]], attrs: str = "") -> str:
    """A table's text up to its first row."""
    head = "".join(f'<th class="num">{h(t)}</th>' if num else f"<th>{h(t)}</th>" for t, num in headers)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>"


_TABLE_END = "</tbody></table>"


def _causes(causes: list[Cause]) -> str:
    if not causes:
        return "<h2>Causes</h2><p>Every connection's verdict is ok.</p>"
    rows = [
        f'<tr class="sev-{h(c.severity)}"><td><code>{h(c.code)}</code></td><td>{h(c.side)}</td>'
        f'<td>{h(c.certainty_label)}</td>'
        f'<td class="num">{c.connections}</td><td class="num">{c.distinct("clients")}</td>'
        f'<td class="num">{c.client_certs}</td><td class="num">{c.distinct("servers")}</td>'
        f'<td class="num">{c.distinct("captures")}</td><td>{h(time_label(c.first_ns))}</td>'
        f"<td>{h(time_label(c.last_ns))}</td></tr>"
        for c in causes
    ]
    groups = [
        f'<tr class="sev-{h(g.severity)}"><td><code>{h(g.code)}</code></td><td class="num">{g.connections}</td>'
        f'<td class="num">{len(g.clients)}</td><td class="mono">{h(certificate_label(g))}</td>'
        f'<td class="mono">{h(servers_label(g))}</td><td class="mono">{h(ca_names_label(g.ca_names))}</td>'
        f"<td>{h(time_label(g.first_ns))}</td><td>{h(time_label(g.last_ns))}</td></tr>"
        for c in causes for g in c.groups
    ]
    return (
        "<h2>Causes</h2><p class=\"muted\">Each connection whose verdict is not ok, counted once under its "
        "verdict's cause.</p>"
        + _table([("cause", False), ("side", False), ("certainty", False), ("connections", True), ("clients", True),
                  ("client certificates", True), ("servers", True), ("captures", True), ("first seen", False),
                  ("last seen", False)], rows)
        + "<h2>Groups</h2><p class=\"muted\">Failing connections with the same cause, client certificate and "
          "advertised CA names.</p>"
        + _table([("cause", False), ("connections", True), ("clients", True), ("client certificate", False),
                  ("servers", False), ("advertised CA names", False), ("first seen", False), ("last seen", False)],
                 groups)
    )


def _errors(captures: list[CaptureReport]) -> str:
    rows = [f"<tr><td>{h(cap.path)}</td><td><code>{h(err.code)}</code></td><td>{h(err.message)}</td></tr>"
            for cap in captures for err in cap.errors]
    if not rows:
        return ""
    return ('<h2 id="capture-errors">Capture errors</h2>'
            + _table([("capture", False), ("error", False), ("message", False)], rows))


def _worst(conn: Connection) -> str:
    ranks = [SEVERITY_RANK[f.severity] for f in conn.findings]
    if conn.diagnosis is not None and conn.diagnosis.cause != "ok":
        ranks.append(SEVERITY_RANK[cause_severity(conn.diagnosis.cause)])
    return {3: "error", 2: "warning", 1: "info"}[max(ranks)] if ranks else "none"


def _anchor(ci: int, conn: Connection) -> str:
    return f"c-{ci}-{conn.id}"


_CONNECTION_HEADERS = [("capture", False), ("conn", True), ("client", False), ("server", False), ("SNI", False),
                       ("version", False), ("outcome", False), ("cause", False), ("side", False),
                       ("certainty", False), ("errors", True), ("warnings", True),
                       ("findings", False), ("first frame time", False)]
_CONNECTION_TABLE_ATTRS = ' id="conn-table" class="sortable"'
_CONTROLS = (
    '<div class="controls"><input id="conn-filter" type="search" placeholder="filter: address, SNI, cause…" '
    'aria-label="filter connections"><select id="conn-severity" aria-label="severity">'
    '<option value="">any severity</option><option value="error">errors</option>'
    '<option value="warning">warnings</option><option value="info">info only</option>'
    '<option value="none">no findings</option></select><span id="conn-count" class="muted"></span></div>'
)


def _connection_row(ci: int, path: str, c: Connection) -> str:
    worst = _worst(c)
    errors = sum(1 for f in c.findings if f.severity == "error")
    warnings = sum(1 for f in c.findings if f.severity == "warning")
    codes = ", ".join(dict.fromkeys(f.code for f in c.findings)) or "-"
    d = c.diagnosis
    return (
        f'<tr class="sev-{worst}" data-severity="{worst}"><td>{h(path)}</td>'
        f'<td class="num" data-sort="{c.id}"><a href="#{_anchor(ci, c)}">{c.id}</a></td>'
        f'<td class="mono">{h(c.client)}</td><td class="mono">{h(c.server)}</td><td>{h(c.sni or "-")}</td>'
        f'<td>{h(c.version or "-")}</td><td>{h(c.outcome)}</td>'
        f'<td><code>{h(d.cause if d else "-")}</code></td><td>{h(d.side if d else "-")}</td>'
        f'<td>{h(d.certainty if d else "-")}</td><td class="num">{errors}</td>'
        f'<td class="num">{warnings}</td><td>{h(codes)}</td>'
        f'<td data-sort="{c.first_time_ns}">{h(time_label(c.first_time_ns))}</td></tr>'
    )


def _cert_block(cert: CertificateSummary, index: int, when: datetime | None) -> str:
    mark = judge_validity(cert, when).mark
    validity = "?"
    if cert.not_before is not None and cert.not_after is not None:
        validity = f"{cert.not_before:%Y-%m-%d %H:%M:%SZ} … {cert.not_after:%Y-%m-%d %H:%M:%SZ}"
    fields = [
        ("subject", cert.subject or "(empty subject)"), ("issuer", cert.issuer or "(empty issuer)"),
        ("serial", cert.serial), ("validity", validity), ("sha256", cert.sha256), ("public key", cert.public_key),
        ("signature", cert.signature_algorithm), ("extended key usage", ", ".join(cert.extended_key_usage) or "-"),
        ("key usage", ", ".join(cert.key_usage) if cert.key_usage is not None else "-"),
        ("subject alt names", ", ".join(cert.subject_alt_names) or "-"),
    ]
    if cert.parse_error:
        fields.append(("partly unreadable", cert.parse_error))
    rows = "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in fields)
    status = f' <span class="bad">{h(mark)}</span>' if mark else ""
    return f"<div><b>[{index}]</b> {h(cert.subject or '(empty subject)')}{status}<dl class=\"cert\">{rows}</dl></div>"


def _details(conn: Connection, at: datetime | None) -> str:
    out = []
    cr = conn.certificate_request
    if cr is not None:
        items = "".join(f"<li class=\"mono\">{h(n)}</li>" for n in cr.ca_names)
        extra = (f"<p class=\"muted\">signature algorithms: {h(', '.join(cr.signature_algorithms) or '-')}; "
                 f"certificate types: {h(', '.join(cr.certificate_types) or '-')}</p>")
        out.append(f"<details><summary>CertificateRequest (frame {cr.frame}): {len(cr.ca_names)} acceptable CA "
                   f"names</summary><ol>{items}</ol>{extra}</details>")
    for label, info in (("client", conn.client_certificate), ("server", conn.server_certificate)):
        if info is None:
            continue
        when = judged_time(conn, at, info.frame)
        body = "".join(_cert_block(c, i, when) for i, c in enumerate(info.chain)) or "<p>empty: none sent</p>"
        out.append(f"<details{' open' if label == 'client' else ''}><summary>{label} certificate chain "
                   f"(frame {info.frame}, {len(info.chain)} certificate{'s' if len(info.chain) != 1 else ''})"
                   f"</summary>{body}</details>")
    return "".join(out)


def _findings(conn: Connection) -> str:
    if not conn.findings:
        return '<p class="muted">No findings.</p>'
    items = []
    for f in conn.findings:
        frames = ", ".join(str(x) for x in f.frames)
        items.append(f'<li class="f {h(f.severity)}">{MARK.get(f.severity, "")} <code>{h(f.code)}</code> '
                     f"(frame{'s' if len(f.frames) != 1 else ''} {h(frames)}): {h(f.message)}"
                     f'<div class="fix">fix: {h(f.fix)}</div></li>')
    return f'<ul class="findings">{"".join(items)}</ul>'


def _verdict(conn: Connection) -> str:
    d = conn.diagnosis
    if d is None:
        return ""
    sev = "none" if d.cause == "ok" else cause_severity(d.cause)
    (_, summary), *rest = verdict_parts(d)
    rows = [f'<p class="f {sev}"><b>verdict: <code>{h(d.cause)}</code></b> ({h(verdict_standing(d))}) — '
            f"{h(summary)}</p>"]
    rows += [f'<div class="{"fix" if label == "fix" else "muted"}">{h(label)}: {h(text)}</div>' for label, text in rest]
    shown, numbered_by = wireshark_filter(conn), stream_field(conn)
    rows.append(f'<div class="muted">{numbered_by} <code>{conn.id}</code> · Wireshark filter: <code>{h(shown)}</code> '
                f'<button type="button" class="copy" data-copy="{h(shown)}" title="copy the display filter">copy'
                "</button></div>")
    return f'<div class="verdict">{"".join(rows)}</div>'


def _client_line(conn: Connection) -> str:
    """The client's TLS stack and its JA4/JA3, as under the ClientHello in the text report."""
    parts = client_hello_lines(conn)
    return f'<div class="muted mono">{h(" · ".join(parts))}</div>' if parts else ""


def _connection_article(ci: int, path: str, conn: Connection, at: datetime | None) -> str:
    head = connection_title(conn)
    return (f'<article class="conn" id="{_anchor(ci, conn)}"><h3 class="mono">{h(" · ".join(head))}</h3>'
            f'<div class="muted">capture {h(path)}</div>{_client_line(conn)}'
            f"{_verdict(conn)}{ladder_svg(conn, at)}{_findings(conn)}{_details(conn, at)}</article>")


@dataclass(frozen=True, slots=True)
class ConnectionHtml:
    """What the page takes from one connection: whether it has findings, the facts the cause tables
    count, and, when it is shown, its table row and article. Small and picklable: a scan worker makes it
    and sends it instead of the connection."""

    has_findings: bool
    causes: CauseFacts | None
    row: str | None
    article: str = ""


def connection_html(conn: Connection, *, position: int, path: str, show_all: bool,
                    at: datetime | None) -> ConnectionHtml:
    """The connection's part of the page; `position` is its capture's index in the report."""
    shown = show_all or bool(conn.findings) or _worst(conn) != "none"
    return ConnectionHtml(
        has_findings=bool(conn.findings), causes=cause_facts(conn),
        row=_connection_row(position, path, conn) if shown else None,
        article=_connection_article(position, path, conn, at) if shown else "",
    )


class HtmlWriter:
    """Writes the page once every connection has been seen. It keeps the counts, the cause tally and the
    captures (without their connections); each shown connection's table row and article are rendered
    as it comes and wait in two `TextSpool`s, so memory does not grow with the number of connections."""

    def __init__(self, out: TextIO, *, show_all: bool = False, at: datetime | None = None,
                 filters: str | None = None) -> None:
        self.out, self.show_all, self.at = out, show_all, at
        self.filters = filters
        self.captures: list[CaptureReport] = []
        self.connections = self.with_findings = 0
        self.tally = CauseTally()
        self._rows = TextSpool()  # the connections table's rows
        self._articles = TextSpool()  # each article after a newline
        self._path = ""

    def begin_capture(self, path: str) -> None:
        self._path = path

    def connection(self, conn: Connection) -> None:
        # The capture's index in the report: end_capture appends it.
        self.add(connection_html(conn, position=len(self.captures), path=self._path, show_all=self.show_all,
                                 at=self.at))

    def add(self, item: ConnectionHtml) -> None:
        """A connection's `connection_html`, made here or by a scan worker."""
        self.connections += 1
        self.with_findings += item.has_findings
        if item.causes is not None:
            self.tally.add_facts(self._path, item.causes)
        if item.row is not None:
            self._rows.write(item.row)
            self._articles.write("\n" + item.article)

    def end_capture(self, cap: CaptureReport) -> None:
        self.captures.append(cap)

    def finish(self, report: Report) -> None:
        errors = sum(len(c.errors) for c in self.captures)
        head = [
            "<header><h1>tlscap report</h1>",
            _counts(len(self.captures), self.connections, self.with_findings, errors),
            _excluded(excluded_note(report, self.filters)),
            "</header>",
            _causes(self.tally.causes()),
            _errors(self.captures),
        ]
        write = self.out.write
        write(_PAGE_START + "\n".join(part for part in head if part) + "\n")
        title = "All connections" if self.show_all else "Connections with findings"
        if not self._rows.empty:
            write(f"<h2>{title}</h2>{_CONTROLS}{_table_head(_CONNECTION_HEADERS, _CONNECTION_TABLE_ATTRS)}")
            self._rows.copy_to(self.out)
            write(_TABLE_END + "\n<h2>Connections, frame by frame</h2>\n" + _FRAME_BY_FRAME_NOTE)
            self._articles.copy_to(self.out)
            write("\n")
        else:
            note = ("No TLS connection found." if self.show_all
                    else "No connection has findings (--all shows every one).")
            write(f"<h2>{title}</h2><p>{note}</p>\n")
        captures = "".join(f"<li class=\"mono\">{h(capture_header(cap).removeprefix('capture '))}</li>"
                           for cap in self.captures)
        write(f"<details><summary>Captures ({len(self.captures)})</summary><ul>{captures}</ul></details>\n"
              f'<p class="muted">tlscap {h(__version__)}</p>'
              f"\n<script>{_SCRIPT}</script></body></html>\n")
        self._rows.close()
        self._articles.close()


_PAGE_START = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="referrer" content="no-referrer">'
    f"<title>tlscap report</title><style>{_STYLE}</style></head>\n<body>"
)
_FRAME_BY_FRAME_NOTE = (
    '<p class="muted">One arrow per frame that carried handshake messages, alerts, FIN or RST; hover an arrow '
    "for its details (CA names, certificates).</p>"
)


def render_html(report: Report, *, show_all: bool = False, at: datetime | None = None,
                filters: str | None = None) -> str:
    """The whole report as one self-contained HTML page."""
    buf = io.StringIO()
    write_report(HtmlWriter(buf, show_all=show_all, at=at, filters=filters), report)
    return buf.getvalue()
