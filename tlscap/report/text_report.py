"""The text walkthrough: per connection, one line per frame that matters, then findings and fixes."""

from __future__ import annotations

import io
import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from tabulate import tabulate

from tlscap import limits
from tlscap.analysis.model import CaptureReport, Connection, Diagnosis, Finding, Report
from tlscap.analysis.timeline import JudgedCertificate, TimelineItem, connection_timeline
from tlscap.report.grouping import CauseFacts, CauseTally, cause_facts, cause_severity, render_cause_tables
from tlscap.report.json_report import stream_field, wireshark_filter
from tlscap.report.safe_text import safe
from tlscap.report.spool import TextSpool
from tlscap.report.writer import excluded_note, write_report
from tlscap.timefmt import short_time

ARROW = {"client": "C→S", "server": "S→C"}
MARK = {"error": "✗", "warning": "!", "info": "i"}
DETAIL_INDENT = " " * 28


def capture_header(cap: CaptureReport) -> str:
    links = ", ".join(dict.fromkeys(cap.link_titles)) or "unknown link type"
    same_day = (cap.first_time_ns is not None and cap.last_time_ns is not None
                and short_time(cap.first_time_ns)[:10] == short_time(cap.last_time_ns)[:10])
    span = f"{short_time(cap.first_time_ns)} … {short_time(cap.last_time_ns, with_date=not same_day)}"
    return f"capture {safe(cap.path)} — {links}, {cap.frames} frames, {span}"


def connection_title(conn: Connection) -> list[str]:
    """The parts of a connection's heading, as the capture has them (escape them for the output)."""
    parts = [f"connection {conn.id}", f"{conn.client} → {conn.server}"]
    if conn.sni:
        parts.append(f"SNI {conn.sni}")
    if conn.dtls:
        parts.append(f"{conn.version or 'DTLS, version unknown,'} over UDP")
    else:
        parts.append(conn.version or "version unknown")
    parts.append(f"outcome: {conn.outcome}")
    if conn.tunnel:
        parts.append("via " + " / ".join(conn.tunnel))
    return parts


def connection_header(conn: Connection) -> str:
    return "   ".join(safe(part) for part in connection_title(conn))


def _cert_details(judged: JudgedCertificate, index: int) -> list[str]:
    cert = judged.certificate
    out = [f"[{index}] {safe(cert.subject_rfc4514) or '(empty subject)'}"
           + (" (self-signed)" if cert.self_issued else "")]
    pad = " " * (len(str(index)) + 3)
    if not cert.self_issued:
        out.append(f"{pad}issued by {safe(cert.issuer_rfc4514) or '(empty issuer)'}")
    if cert.not_before_utc is not None and cert.not_after_utc is not None:
        mark = judged.validity.mark
        out.append(f"{pad}valid {cert.not_before_utc:%Y-%m-%d} … {cert.not_after_utc:%Y-%m-%d}"
                   f"{'  ' + mark if mark else ''}")
    if cert.parse_error:
        out.append(f"{pad}(partly unreadable: {safe(cert.parse_error)})")
    return out


def item_words(item: TimelineItem) -> str:
    """An item as a walkthrough line says it: its name, what it held, then how often."""
    held = ""
    if item.summary is not None:
        held = f" — {item.summary}" + (":" if item.ca_names or item.chain else "")
    return safe(item.name + held + item.qualifier)


def item_details(item: TimelineItem) -> list[str]:
    """The lines beneath an item: a request's CA names, the client's chain, the client's stack."""
    out = [f"{i}. {safe(ca.name)}{'  ' + ca.mark if ca.mark else ''}" for i, ca in enumerate(item.ca_names, 1)]
    if item.not_advertised:
        out.append("in the truststore but not advertised (not loaded by the server?):")
        out.extend(f"   - {safe(n)}" for n in item.not_advertised)
    for i, cert in enumerate(item.chain):
        out.extend(_cert_details(cert, i))
    out.extend(safe(line) for line in item.lines)
    return out


def walkthrough(conn: Connection, at: datetime | None = None) -> list[str]:
    """The frame-by-frame lines of one connection: one per step of its timeline."""
    steps = connection_timeline(conn, at)
    width = max((len(str(step.frame)) for step in steps), default=1)
    out = []
    for step in steps:
        words = ", ".join(item_words(item) for item in step.items)
        out.append(f"  frame {step.frame:>{width}}  +{step.offset_s:.3f}  {ARROW[step.sender]}  {words}")
        out.extend(DETAIL_INDENT + d for item in step.items for d in item_details(item))
    return out


def finding_lines(f: Finding) -> list[str]:
    frames = ", ".join(str(x) for x in f.frames)
    label = "frame" if len(f.frames) == 1 else "frames"
    return [f"  {MARK[f.severity]} {f.code} ({label} {frames}): {safe(f.message)}", f"      fix: {safe(f.fix)}"]


VERDICT_MARK = {"ok": "✓"}


def verdict_lines(conn: Connection) -> list[str]:
    """The connection's first line (its id and verdict), its endpoints, then the verdict's words."""
    d = conn.diagnosis
    head = f"connection {conn.id}"
    if d is None:
        return [connection_header(conn)]
    mark = VERDICT_MARK.get(d.cause, MARK[cause_severity(d.cause)])
    out = [f"{head}   {mark} {d.cause}   ({verdict_standing(d)})",
           "  " + "   ".join(safe(part) for part in connection_title(conn)[1:])
           + f"   started {short_time(conn.first_time_ns)}"]
    out += [f"  {label}: {safe(text)}" for label, text in verdict_parts(d)]
    out.append(wireshark_line(conn))
    return out


def wireshark_line(conn: Connection) -> str:
    """The connection in Wireshark: its tcp.stream number (its id), the display filter that shows it, and
    the frames its verdict names."""
    d = conn.diagnosis
    frames = f"   (verdict frames {', '.join(map(str, d.frames))})" if d is not None and d.frames else ""
    return f"  {stream_field(conn)} {conn.id}   Wireshark filter: {wireshark_filter(conn)}{frames}"


def verdict_standing(d: Diagnosis) -> str:
    """"client side, certain": who acts (when a side does) and how sure the verdict is."""
    side = "" if d.side in ("none", "unknown") else f"{d.side} side, "
    return side + d.certainty


def verdict_parts(d: Diagnosis) -> list[tuple[str, str]]:
    """The verdict's words under their labels, as every format shows them (each escapes them its own way)."""
    parts = [("verdict", d.summary)]
    if d.cause != "ok":
        parts.append(("fix", d.fix))
    if d.alternatives:
        parts.append(("also possible", ", ".join(d.alternatives)))
    if d.decide_with:
        parts.append(("decide with", d.decide_with))
    return parts


def render_connection(conn: Connection, at: datetime | None = None) -> list[str]:
    out = [*verdict_lines(conn), "", *walkthrough(conn, at)]
    if conn.findings:
        out.append("")
        for f in conn.findings:
            out.extend(finding_lines(f))
    return out


def summary_row(c: Connection) -> list[object]:
    """The connection's row of the summary table, without the capture column (the writer adds it)."""
    worst = Counter(f.severity for f in c.findings)
    codes = ", ".join(dict.fromkeys(f.code for f in c.findings if f.severity != "info")) or "-"
    d = c.diagnosis
    verdict = [d.cause, d.side, d.certainty] if d is not None else ["-", "-", "-"]
    return [c.id, str(c.client), str(c.server), safe(c.sni or "-"), c.version or "-", c.outcome, *verdict,
            worst.get("error", 0), worst.get("warning", 0), codes]


def summary_table(rows: list[list[object]]) -> str:
    headers = ["capture", "conn", "client", "server", "SNI", "version", "outcome", "cause", "side", "certainty",
               "errors", "warnings", "findings"]
    return tabulate(rows, headers=headers, tablefmt="simple") if rows else "no TLS connections found"


@dataclass(frozen=True, slots=True)
class ConnectionText:
    """What the text report takes from one connection, rendered: small, so a scan worker can make it
    and send it instead of the connection."""

    row: list[object]  # its summary_row
    failing: bool  # an error finding
    stale_list: bool  # ... and a CA list that lacks CAs of the truststore given
    walkthrough: str | None  # rendered when shown: it has findings, or every connection is shown
    causes: CauseFacts | None  # for the cause tables; None when nothing fails


def connection_text(conn: Connection, *, show_all: bool = False, at: datetime | None = None) -> ConnectionText:
    failing = any(f.severity == "error" for f in conn.findings)
    shown = show_all or bool(conn.findings) or (conn.diagnosis is not None and conn.diagnosis.cause != "ok")
    return ConnectionText(
        row=summary_row(conn),
        failing=failing,
        stale_list=failing and conn.ca_list_check is not None and bool(conn.ca_list_check.missing),
        walkthrough="\n".join(render_connection(conn, at)) if shown else None,
        causes=cause_facts(conn),
    )


class TextWriter:
    """The text report. The verdicts come first: every capture's part (header, walkthroughs) is kept as text
    in a `TextSpool` (on disk past a few MB) until the end, when the verdict tables are written above it and
    the summary table below. Connections whose verdict is `ok` and that have no findings only count, unless
    `show_all`."""

    def __init__(self, out: TextIO, *, show_all: bool = False, at: datetime | None = None,
                 filters: str | None = None, width: int | None = None) -> None:
        self.out = out
        self.filters = filters
        self.width = width  # wrap walkthroughs and capture headers to it (a terminal's width); None: never
        self.show_all = show_all
        self.at = at
        self.rows: list[list[object]] = []
        self.connections = 0
        self.failing = 0
        self.failing_with_stale_list = 0
        self.causes = CauseTally()
        self.ok = 0
        self._path = ""
        self._body = TextSpool()  # every capture's part, in order
        self._capture: TextSpool | None = None  # the current capture's walkthroughs, until its header is known
        self._hidden = 0

    def begin_capture(self, path: str) -> None:
        self._path, self._hidden = path, 0
        self._capture = TextSpool()

    def connection(self, conn: Connection) -> None:
        self.add(connection_text(conn, show_all=self.show_all, at=self.at))

    def add(self, text: ConnectionText) -> None:
        """A connection already rendered by `connection_text`, with this writer's show_all and at."""
        self.connections += 1
        if len(self.rows) < limits.MAX_SUMMARY_ROWS:  # beyond, counted (JSON lists every connection)
            self.rows.append([safe(self._path), *text.row])
        if text.causes is not None:
            self.causes.add_facts(self._path, text.causes)
        else:
            self.ok += 1
        if text.failing:
            self.failing += 1
            if text.stale_list:
                self.failing_with_stale_list += 1
        if text.walkthrough is not None and self._capture is not None:
            self._capture.write("\n" + wrap_lines(text.walkthrough, self.width) + "\n")
        else:
            self._hidden += 1

    def end_capture(self, cap: CaptureReport) -> None:
        lines = [capture_header(cap)]
        lines += [f"  capture error ({err.code}): {safe(err.message)}" for err in cap.errors]
        self._body.write(wrap_lines("\n".join(lines), self.width) + "\n")
        if self._capture is not None:
            self._capture.copy_to(self._body)
            self._capture.close()
            self._capture = None
        if self._hidden:
            self._body.write(f"\n  ({self._hidden} connection{'s' if self._hidden != 1 else ''} without findings "
                             "not shown; --all shows them)\n")
        self._body.write("\n")

    def finish(self, report: Report) -> None:
        self.out.write(self.verdict_summary(excluded_note(report, self.filters)) + "\n")
        self._body.copy_to(self.out)
        self._body.close()
        self.out.write("summary\n" + summary_table(self.rows) + "\n")
        if self.connections > len(self.rows):
            self.out.write(f"… and {self.connections - len(self.rows)} more connections (the JSON report lists "
                           "them all)\n")
        if report.captures:
            by_code: Counter[str] = Counter()
            for cap in report.captures:
                by_code.update(cap.stats.by_code)
            if by_code and self.connections > len(self.rows):
                self.out.write("findings: " + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) + "\n")
        if self.failing and self.failing_with_stale_list == self.failing:
            self.out.write(
                f"\nEvery failing connection ({self.failing}) met a server whose advertised CA list lacks CAs of the "
                "truststore given: the server most likely runs with an older truststore. Reload or restart it.\n")

    def verdict_summary(self, excluded: str | None = None) -> str:
        """The report's first lines: how many connections, how many ok (how many the filters left out),
        then the cause and group tables."""
        failing = self.connections - self.ok
        head = (f"verdicts: {self.connections} TLS connection{'s' if self.connections != 1 else ''}, "
                f"{self.ok} ok, {failing} failing or not visible")
        if excluded is not None:
            head += f"\n{safe(excluded)}"
        tables = render_cause_tables(self.causes.causes())
        return head + "\n" + ("\n" + tables if tables else "")


# Where a wrapped line's continuation starts: under the text of a walkthrough line (after frame, time and
# direction), after a finding's mark, else four spaces in.
_FRAME_LINE = re.compile(r"^\s*frame\s+\d+\s+\+\S+\s+\S+\s+")
_FINDING_LINE = re.compile(r"^\s*[✗!i] ")


def wrap_lines(text: str, width: int | None) -> str:
    """Lines longer than `width` wrapped at spaces, each continuation indented under its line's text (no
    word is cut: a long name stays whole). `width` None: the text as it is."""
    if width is None:
        return text
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        head = _FRAME_LINE.match(line) or _FINDING_LINE.match(line)
        indent = len(head.group()) if head else len(line) - len(line.lstrip(" ")) + 4
        indent = min(indent, width // 2)
        out.extend(textwrap.wrap(line, width=width, subsequent_indent=" " * indent, break_long_words=False,
                                 break_on_hyphens=False, drop_whitespace=True) or [line])
    return "\n".join(out)


def render_text(report: Report, *, show_all: bool = False, at: datetime | None = None,
                filters: str | None = None) -> str:
    out = io.StringIO()
    write_report(TextWriter(out, show_all=show_all, at=at, filters=filters), report)
    return out.getvalue()
