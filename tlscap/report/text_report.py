"""The text walkthrough: per connection, one line per frame that matters, then findings and fixes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from tabulate import tabulate

from tlscap.analysis.model import CaptureReport, Connection, Finding, Report
from tlscap.analysis.timeline import frame_time_ns
from tlscap.pki.certificate import CertificateSummary
from tlscap.report.safe_text import safe
from tlscap.timefmt import short_time, utc_datetime

ARROW = {"client": "C→S", "server": "S→C"}
MARK = {"error": "✗", "warning": "!", "info": "i"}
DETAIL_INDENT = " " * 28


@dataclass(slots=True)
class _Line:
    frame: int
    sender: str
    items: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def capture_header(cap: CaptureReport) -> str:
    links = ", ".join(dict.fromkeys(cap.link_titles)) or "unknown link type"
    same_day = (cap.first_time_ns is not None and cap.last_time_ns is not None
                and short_time(cap.first_time_ns)[:10] == short_time(cap.last_time_ns)[:10])
    span = f"{short_time(cap.first_time_ns)} … {short_time(cap.last_time_ns, with_date=not same_day)}"
    return f"capture {safe(cap.path)} — {links}, {cap.frames} frames, {span}"


def connection_header(conn: Connection) -> str:
    parts = [f"connection {conn.id}", f"{conn.client} → {conn.server}"]
    if conn.sni:
        parts.append(f"SNI {safe(conn.sni)}")
    parts.append(conn.version or "version unknown")
    parts.append(f"outcome: {conn.outcome}")
    if conn.tunnel:
        parts.append("via " + " / ".join(safe(t) for t in conn.tunnel))
    return "   ".join(parts)


def _cert_details(cert: CertificateSummary, index: int, when: datetime | None) -> list[str]:
    out = [f"[{index}] {safe(cert.subject) or '(empty subject)'}" + (" (self-signed)" if cert.self_issued else "")]
    pad = " " * (len(str(index)) + 3)
    if not cert.self_issued:
        out.append(f"{pad}issued by {safe(cert.issuer) or '(empty issuer)'}")
    if cert.not_before is not None and cert.not_after is not None:
        mark = ""
        if when is not None and cert.not_after < when:
            mark = "  EXPIRED at capture time"
        elif when is not None and cert.not_before > when:
            mark = "  NOT YET VALID at capture time"
        out.append(f"{pad}valid {cert.not_before:%Y-%m-%d} … {cert.not_after:%Y-%m-%d}{mark}")
    if cert.parse_error:
        out.append(f"{pad}(partly unreadable: {safe(cert.parse_error)})")
    return out


def walkthrough(conn: Connection, at: datetime | None = None) -> list[str]:
    """The frame-by-frame lines of one connection."""
    events: list[tuple[int, int, str, str, list[str]]] = []  # frame, order, sender, text, details
    order = 0
    cr_frame = conn.certificate_request.frame if conn.certificate_request else None
    cc = conn.client_certificate
    for h in conn.handshake:
        order += 1
        details: list[str] = []
        text = h.message
        if h.damaged:
            text += f" (incomplete: {h.damaged})"
        if h.message == "CertificateRequest" and h.frame == cr_frame and conn.certificate_request:
            names = conn.certificate_request.ca_names
            text += f" — {len(names)} acceptable CA name{'s' if len(names) != 1 else ''}" + (":" if names else "")
            details = [f"{i}. {safe(n)}" for i, n in enumerate(names, 1)]
            cr_frame = None
        elif h.message == "Certificate" and h.sender == "client" and cc is not None and h.frame == cc.frame:
            when = at or utc_datetime(frame_time_ns(conn, h.frame))
            text += f" — chain of {len(cc.chain)}:" if cc.chain else " — empty: no client certificate sent"
            for i, cert in enumerate(cc.chain):
                details.extend(_cert_details(cert, i, when))
            cc = None
        elif h.encrypted:
            text += " (encrypted)"
        events.append((h.frame, order, h.sender, text, details))
    for a in conn.alerts:
        order += 1
        text = "Alert (encrypted)" if a.encrypted else f"Alert: {a.level} {a.description}"
        events.append((a.frame, order, a.sender, text, []))
    if conn.http is not None:
        order += 1
        title = f" “{safe(conn.http.title)}”" if conn.http.title else ""
        events.append((conn.http.frame, order, "server", f"HTTP {conn.http.status}{title}", []))
    for e in conn.tcp_ends:
        order += 1
        events.append((e.frame, order, e.sender, e.kind, []))
    events.sort(key=lambda e: (e[0], e[1]))
    lines: list[_Line] = []
    standalone = False
    for frame, _, sender, text, details in events:
        last = lines[-1] if lines else None
        # The CertificateRequest and the client's Certificate get a line of their own, with their details.
        alone = bool(details) or " — " in text
        if last is not None and last.frame == frame and last.sender == sender and not standalone and not alone:
            last.items.append(text)
        else:
            lines.append(_Line(frame, sender, [text], details))
        standalone = alone
    width = max((len(str(ln.frame)) for ln in lines), default=1)
    out = []
    for ln in lines:
        dt = (frame_time_ns(conn, ln.frame) - conn.first_time_ns) / 1e9
        out.append(f"  frame {ln.frame:>{width}}  +{dt:.3f}  {ARROW[ln.sender]}  {', '.join(ln.items)}")
        out.extend(DETAIL_INDENT + d for d in ln.details)
    return out


def finding_lines(f: Finding) -> list[str]:
    frames = ", ".join(str(x) for x in f.frames)
    label = "frame" if len(f.frames) == 1 else "frames"
    return [f"  {MARK[f.severity]} {f.code} ({label} {frames}): {safe(f.message)}", f"      fix: {safe(f.fix)}"]


def render_connection(conn: Connection, at: datetime | None = None) -> list[str]:
    out = [connection_header(conn), *walkthrough(conn, at)]
    if conn.findings:
        out.append("")
        for f in conn.findings:
            out.extend(finding_lines(f))
    return out


def summary_table(report: Report) -> str:
    rows = []
    for cap in report.captures:
        for c in cap.connections:
            worst = Counter(f.severity for f in c.findings)
            codes = ", ".join(dict.fromkeys(f.code for f in c.findings if f.severity != "info")) or "-"
            rows.append([safe(cap.path), c.id, str(c.client), str(c.server), safe(c.sni or "-"),
                         c.version or "-", c.outcome, worst.get("error", 0), worst.get("warning", 0), codes])
    headers = ["capture", "conn", "client", "server", "SNI", "version", "outcome", "errors", "warnings",
               "findings"]
    return tabulate(rows, headers=headers, tablefmt="simple") if rows else "no TLS connections found"


def render_text(report: Report, *, show_all: bool = False, at: datetime | None = None) -> str:
    out: list[str] = []
    for cap in report.captures:
        out.append(capture_header(cap))
        for err in cap.errors:
            out.append(f"  capture error ({err.code}): {safe(err.message)}")
        shown = [c for c in cap.connections if show_all or c.findings]
        hidden = len(cap.connections) - len(shown)
        for conn in shown:
            out.append("")
            out.extend(render_connection(conn, at))
        if hidden:
            out.append("")
            out.append(f"  ({hidden} connection{'s' if hidden != 1 else ''} without findings not shown; "
                       "--all shows them)")
        out.append("")
    out.append("summary")
    out.append(summary_table(report))
    return "\n".join(out) + "\n"
