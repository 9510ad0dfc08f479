"""HTML: one self-contained page to hand around — counts by cause, a sortable and filterable table of
connections, and per connection a ladder diagram (html_ladder) with the findings and certificate details.

Safety (html_page): every string from a capture goes through `h`; a Content-Security-Policy allows nothing
but the page's own style and script.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from tlscap import __version__
from tlscap.analysis.model import SEVERITY_RANK, CaptureReport, Connection, Report
from tlscap.analysis.timeline import client_hello_lines, judge_validity, judged_time
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
from tlscap.report.html_ladder import ladder_svg
from tlscap.report.html_page import PAGE_START, SCRIPT, h
from tlscap.report.json_report import stream_field, wireshark_filter
from tlscap.report.spool import TextSpool
from tlscap.report.text_report import capture_header, connection_title, verdict_parts, verdict_standing
from tlscap.report.writer import excluded_note, write_report

MARK = {"error": "✗", "warning": "!", "info": "i"}


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
    if cert.not_before_utc is not None and cert.not_after_utc is not None:
        validity = f"{cert.not_before_utc:%Y-%m-%d %H:%M:%SZ} … {cert.not_after_utc:%Y-%m-%d %H:%M:%SZ}"
    fields = [
        ("subject", cert.subject_rfc4514 or "(empty subject)"), ("issuer", cert.issuer_rfc4514 or "(empty issuer)"),
        ("serial", cert.serial_hex), ("validity", validity), ("sha256", cert.sha256_hex),
        ("public key", cert.public_key),
        ("signature", cert.signature_algorithm), ("extended key usage", ", ".join(cert.extended_key_usage) or "-"),
        ("key usage", ", ".join(cert.key_usage) if cert.key_usage is not None else "-"),
        ("subject alt names", ", ".join(cert.subject_alt_names) or "-"),
    ]
    if cert.parse_error:
        fields.append(("partly unreadable", cert.parse_error))
    rows = "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in fields)
    status = f' <span class="bad">{h(mark)}</span>' if mark else ""
    subject = h(cert.subject_rfc4514 or "(empty subject)")
    return f"<div><b>[{index}]</b> {subject}{status}<dl class=\"cert\">{rows}</dl></div>"


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
        write(PAGE_START + "\n".join(part for part in head if part) + "\n")
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
              f"\n<script>{SCRIPT}</script></body></html>\n")
        self._rows.close()
        self._articles.close()


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
