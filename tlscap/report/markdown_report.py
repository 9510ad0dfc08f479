"""Markdown for tickets: counts, the causes and groups, per cause a table and example walkthroughs.

Strings from captures are escaped for CommonMark/GFM: control and bidi characters become visible escapes
(`safe`), then every Markdown-active character (`\\ ` * _ { } [ ] ( ) < > # + ! | ~ & $`) gets a backslash,
so a subject like `*[x](javascript:…)|<b>` stays literal text and never splits a table cell. Walkthroughs
go in fenced code blocks whose fence is longer than any backtick run inside them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from tlscap import limits
from tlscap.analysis.model import CaptureReport, Connection, Report
from tlscap.report.grouping import (
    Cause,
    CauseFacts,
    CauseTally,
    GroupKey,
    ca_names_label,
    cause_facts,
    certificate_label,
    servers_label,
    time_label,
)
from tlscap.report.safe_text import safe
from tlscap.report.spool import TextSpool
from tlscap.report.text_report import render_connection
from tlscap.report.writer import excluded_note, write_report

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


def _counts(captures: int, connections: int, with_findings: int, errors: int) -> str:
    parts = [f"**{captures}** capture{'s' if captures != 1 else ''}",
             f"**{connections}** TLS connection{'s' if connections != 1 else ''}",
             f"**{with_findings}** with findings"]
    if errors:
        parts.append(f"**{errors}** capture error{'s' if errors != 1 else ''}")
    return " · ".join(parts)


def _causes_section(causes: list[Cause]) -> list[str]:
    rows = [[f"`{c.code}`", c.side, c.certainty_label, str(c.connections), str(c.distinct("clients")),
             str(c.client_certs),
             str(c.distinct("servers")), str(c.distinct("captures")), md(time_label(c.first_ns)),
             md(time_label(c.last_ns))] for c in causes]
    groups = [[f"`{g.code}`", str(g.connections), str(len(g.clients)), md(certificate_label(g)), md(servers_label(g)),
               md(ca_names_label(g.ca_names)), md(time_label(g.first_ns)), md(time_label(g.last_ns))]
              for c in causes for g in c.groups]
    return [
        "## Causes", "",
        "Each connection whose verdict is not ok, counted once under its verdict's cause.", "",
        *_table(["cause", "side", "certainty", "connections", "clients", "client certificates", "servers",
                 "captures", "first seen", "last seen"], rows, frozenset({3, 4, 5, 6, 7})),
        "", "## Groups", "",
        "Failing connections with the same cause, client certificate and advertised CA names.", "",
        *_table(["cause", "connections", "clients", "client certificate", "servers", "advertised CA names",
                 "first seen", "last seen"], groups, frozenset({1, 2})),
    ]


@dataclass(slots=True)
class _GroupSamples:
    """What a cause's section shows of one group: the rows of its first connections, and its first
    connection's walkthrough as an example."""

    rows: list[list[str]] = field(default_factory=list)
    example: list[str] = field(default_factory=list)


def _cause_section(cause: Cause, samples: dict[GroupKey, _GroupSamples]) -> list[str]:
    n = cause.connections
    plural = "s" if n != 1 else ""
    out = ["", f"## `{cause.code}` ({cause.side} side, {cause.certainty_label}) — {n} connection{plural}", ""]
    rows = [row for g in cause.groups for row in samples[g.key].rows][:limits.MAX_ROWS_PER_CAUSE]
    out.extend(_table(["capture", "conn", "client", "server", "SNI", "frames", "verdict"], rows, frozenset({1})))
    if n > limits.MAX_ROWS_PER_CAUSE:
        out.extend(["", f"… and {n - limits.MAX_ROWS_PER_CAUSE} more connections (the JSON or CSV report lists all)."])
    for g in cause.groups[:MAX_EXAMPLES_PER_CAUSE]:
        out.extend(samples[g.key].example)
    return out


def _sample_row(path: str, conn: Connection) -> list[str] | None:
    d = conn.diagnosis
    if d is None:
        return None
    return [md(path), str(conn.id), md(conn.client), md(conn.server), md(conn.sni or "-"),
            " ".join(str(x) for x in d.frames), md(d.summary)]


def _example(path: str, conn: Connection, at: datetime | None) -> list[str]:
    fix = conn.diagnosis.fix if conn.diagnosis is not None else ""
    out = ["", f"Example: capture {md(path)}, connection {conn.id}", "", *_fence(render_connection(conn, at))]
    if fix:
        out.extend(["", f"**Fix:** {md(fix)}"])
    return out


def _errors_section(captures: list[CaptureReport]) -> list[str]:
    rows = [[md(cap.path), f"`{err.code}`", md(err.message)] for cap in captures for err in cap.errors]
    if not rows:
        return []
    return ["", "## Capture errors", "", *_table(["capture", "error", "message"], rows)]


_CONNECTION_HEADERS = ["capture", "conn", "client", "server", "SNI", "version", "outcome", "cause", "side",
                       "certainty", "findings"]


def _connection_row(path: str, conn: Connection) -> list[str]:
    codes = ", ".join(f"`{code}`" for code in dict.fromkeys(f.code for f in conn.findings)) or "-"
    d = conn.diagnosis
    verdict = [f"`{d.cause}`", d.side, d.certainty] if d is not None else ["-", "-", "-"]
    return [md(path), str(conn.id), md(conn.client), md(conn.server), md(conn.sni or "-"),
            md(conn.version or "-"), conn.outcome, *verdict, codes]


@dataclass(frozen=True, slots=True)
class ConnectionMd:
    """What the Markdown report takes from one connection: whether it has findings, the facts the cause
    tables count, per failing cause (in `causes.worst` order) its row for the cause's section and, when
    asked for, its example; and its row of the connections table when it is shown. Small and picklable:
    a scan worker makes it and sends it instead of the connection."""

    has_findings: bool
    causes: CauseFacts | None
    samples: tuple[tuple[tuple[str, ...] | None, tuple[str, ...] | None], ...]
    row: str | None


def connection_md(conn: Connection, *, path: str, show_all: bool, at: datetime | None,
                  wants_example: Callable[[GroupKey], bool]) -> ConnectionMd:
    """The connection's part of the report. An example walkthrough is rendered for the causes whose
    group `wants_example` (the first connection of each group is the example)."""
    facts = cause_facts(conn)
    samples = []
    if facts is not None:
        for code, _severity in facts.worst:
            row = _sample_row(path, conn)
            wanted = wants_example((code, facts.client_cert, facts.ca_names))
            samples.append((None if row is None else tuple(row),
                            tuple(_example(path, conn, at)) if wanted else None))
    shown = show_all or bool(conn.findings) or facts is not None
    return ConnectionMd(has_findings=bool(conn.findings), causes=facts, samples=tuple(samples),
                        row="| " + " | ".join(_connection_row(path, conn)) + " |\n" if shown else None)


class MarkdownWriter:
    """Writes the Markdown report once every connection has been seen, keeping only what it shows: counts,
    the cause tally, per group the rows and example its cause's section shows, and the rows of the
    connections table (in a `TextSpool`), not the connections."""

    def __init__(self, out: TextIO, *, show_all: bool = False, at: datetime | None = None,
                 filters: str | None = None) -> None:
        self.out, self.show_all, self.at = out, show_all, at
        self.filters = filters
        self.captures: list[CaptureReport] = []
        self.connections = self.with_findings = 0
        self.tally = CauseTally()
        self._samples: dict[GroupKey, _GroupSamples] = {}
        self._rows = TextSpool()  # the connections table's rows, each ending in a newline
        self._path = ""

    def begin_capture(self, path: str) -> None:
        self._path = path

    def connection(self, conn: Connection) -> None:
        self.add(connection_md(conn, path=self._path, show_all=self.show_all, at=self.at,
                               wants_example=self._wants_example))

    def _wants_example(self, key: GroupKey) -> bool:
        samples = self._samples.get(key)
        return samples is None or not samples.example

    def add(self, item: ConnectionMd) -> None:
        """A connection's `connection_md`, made here or by a scan worker."""
        self.connections += 1
        self.with_findings += item.has_findings
        if item.causes is not None:
            for group, (row, example) in zip(self.tally.add_facts(self._path, item.causes), item.samples,
                                             strict=True):
                samples = self._samples.setdefault(group.key, _GroupSamples())
                if not samples.example and example is not None:
                    samples.example = list(example)
                if row is not None and len(samples.rows) < limits.MAX_ROWS_PER_CAUSE:
                    samples.rows.append(list(row))
        if item.row is not None:
            self._rows.write(item.row)

    def end_capture(self, cap: CaptureReport) -> None:
        self.captures.append(cap)

    def finish(self, report: Report) -> None:
        causes = self.tally.causes()
        errors = sum(len(c.errors) for c in self.captures)
        out = ["# tlscap report", "", _counts(len(self.captures), self.connections, self.with_findings, errors), ""]
        excluded = excluded_note(report, self.filters)
        if excluded is not None:
            out[-1:-1] = ["", md(excluded)]
        if causes:
            out.extend(_causes_section(causes))
            for cause in causes:
                out.extend(_cause_section(cause, self._samples))
        else:
            out.append("Every connection's verdict is ok.")
        out.extend(_errors_section(self.captures))
        self.out.write("\n".join(out) + "\n")
        if not self._rows.empty:
            title = "## All connections" if self.show_all else "## Connections with findings"
            self.out.write("\n".join(["", title, "", *_table(_CONNECTION_HEADERS, [], frozenset({1}))]) + "\n")
            self._rows.copy_to(self.out)
        self._rows.close()


def render_markdown(report: Report, *, show_all: bool = False, at: datetime | None = None,
                    filters: str | None = None) -> str:
    """The whole report as Markdown."""
    buf = io.StringIO()
    write_report(MarkdownWriter(buf, show_all=show_all, at=at, filters=filters), report)
    return buf.getvalue()
