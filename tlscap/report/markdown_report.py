"""Markdown for tickets: counts, the causes and groups, per cause a table and example walkthroughs.

Strings from captures are escaped for CommonMark/GFM: control and bidi characters become visible escapes
(`safe`), then every Markdown-active character (`\\ ` * _ { } [ ] ( ) < > # + ! | ~ & $`) gets a backslash,
so a subject like `*[x](javascript:…)|<b>` stays literal text and never splits a table cell. Walkthroughs
go in fenced code blocks whose fence is longer than any backtick run inside them.
"""

from __future__ import annotations

import re
from datetime import datetime

from tlscap.analysis.model import CaptureReport, Connection, Report
from tlscap.report.grouping import (
    Cause,
    ca_names_label,
    certificate_label,
    group_causes,
    servers_label,
    time_label,
)
from tlscap.report.safe_text import safe
from tlscap.report.text_report import render_connection

MAX_ROWS_PER_CAUSE = 50
MAX_EXAMPLES_PER_CAUSE = 2
_ACTIVE = set("\\`*_{}[]()<>#+!|~&$")


def md(text: object) -> str:
    """Escape any string (or value) for use in Markdown text or a table cell."""
    return "".join("\\" + ch if ch in _ACTIVE else ch for ch in safe("" if text is None else str(text)))


def _table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> list[str]:
    align = ["--:" if i in numeric else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


def _fence(lines: list[str]) -> list[str]:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", *lines, fence]


def _counts(report: Report) -> str:
    conns = report.connections()
    errors = sum(len(c.errors) for c in report.captures)
    with_findings = sum(1 for c in conns if c.findings)
    parts = [f"**{len(report.captures)}** capture{'s' if len(report.captures) != 1 else ''}",
             f"**{len(conns)}** TLS connection{'s' if len(conns) != 1 else ''}",
             f"**{with_findings}** with findings"]
    if errors:
        parts.append(f"**{errors}** capture error{'s' if errors != 1 else ''}")
    return " · ".join(parts)


def _causes_section(causes: list[Cause]) -> list[str]:
    rows = [[f"`{c.code}`", c.severity, str(c.connections), str(c.distinct("clients")), str(c.client_certs),
             str(c.distinct("servers")), str(c.distinct("captures")), md(time_label(c.first_ns)),
             md(time_label(c.last_ns))] for c in causes]
    groups = [[f"`{g.code}`", str(g.connections), str(len(g.clients)), md(certificate_label(g)), md(servers_label(g)),
               md(ca_names_label(g.ca_names)), md(time_label(g.first_ns)), md(time_label(g.last_ns))]
              for c in causes for g in c.groups]
    return [
        "## Causes", "",
        *_table(["cause", "severity", "connections", "clients", "client certificates", "servers", "captures",
                 "first seen", "last seen"], rows, frozenset({2, 3, 4, 5, 6})),
        "", "## Groups", "",
        "Failing connections with the same cause, client certificate and advertised CA names.", "",
        *_table(["cause", "connections", "clients", "client certificate", "servers", "advertised CA names",
                 "first seen", "last seen"], groups, frozenset({1, 2})),
    ]


def _cause_section(cause: Cause, at: datetime | None) -> list[str]:
    members = cause.members
    n = len(members)
    out = ["", f"## `{cause.code}` ({cause.severity}) — {n} connection{'s' if n != 1 else ''}", ""]
    rows = []
    for cap, conn in members[:MAX_ROWS_PER_CAUSE]:
        for f in conn.findings:
            if f.code == cause.code:
                rows.append([md(cap.path), str(conn.id), md(conn.client), md(conn.server), md(conn.sni or "-"),
                             " ".join(str(x) for x in f.frames), md(f.message)])
                break
    out.extend(_table(["capture", "conn", "client", "server", "SNI", "frames", "what was seen"], rows, frozenset({1})))
    if n > MAX_ROWS_PER_CAUSE:
        out.extend(["", f"… and {n - MAX_ROWS_PER_CAUSE} more connections (the JSON or CSV report lists all)."])
    examples = [g.members[0] for g in cause.groups][:MAX_EXAMPLES_PER_CAUSE]
    for cap, conn in examples:
        fix = next((f.fix for f in conn.findings if f.code == cause.code), "")
        out.extend(["", f"Example: capture {md(cap.path)}, connection {conn.id}", ""])
        out.extend(_fence(render_connection(conn, at)))
        if fix:
            out.extend(["", f"**Fix:** {md(fix)}"])
    return out


def _errors_section(report: Report) -> list[str]:
    rows = [[md(cap.path), f"`{err.code}`", md(err.message)] for cap in report.captures for err in cap.errors]
    if not rows:
        return []
    return ["", "## Capture errors", "", *_table(["capture", "error", "message"], rows)]


def _connections_section(report: Report, show_all: bool) -> list[str]:
    rows: list[list[str]] = []
    for cap in report.captures:
        rows.extend(_connection_row(cap, c) for c in cap.connections if show_all or c.findings)
    if not rows:
        return []
    title = "## All connections" if show_all else "## Connections with findings"
    headers = ["capture", "conn", "client", "server", "SNI", "version", "outcome", "findings"]
    return ["", title, "", *_table(headers, rows, frozenset({1}))]


def _connection_row(cap: CaptureReport, conn: Connection) -> list[str]:
    codes = ", ".join(f"`{code}`" for code in dict.fromkeys(f.code for f in conn.findings)) or "-"
    return [md(cap.path), str(conn.id), md(conn.client), md(conn.server), md(conn.sni or "-"),
            md(conn.version or "-"), conn.outcome, codes]


def render_markdown(report: Report, *, show_all: bool = False, at: datetime | None = None) -> str:
    """The whole report as Markdown."""
    causes = group_causes(report)
    out = ["# tlscap report", "", _counts(report), ""]
    if causes:
        out.extend(_causes_section(causes))
        for cause in causes:
            out.extend(_cause_section(cause, at))
    else:
        out.append("No connection failed (no finding of severity error or warning).")
    out.extend(_errors_section(report))
    out.extend(_connections_section(report, show_all))
    return "\n".join(out) + "\n"
