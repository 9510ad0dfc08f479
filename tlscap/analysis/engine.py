"""The analysis of one capture: frames → segments → connections → TLS events → report model.

This is the only place that wires the layers together; `capture/` is the only one that reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tlscap.analysis.builder import build_connection
from tlscap.analysis.model import CaptureReport, Connection
from tlscap.analysis.rules import apply_rules
from tlscap.analysis.tracker import ConnectionTracker
from tlscap.capture.linktypes import link_type_title
from tlscap.capture.reader import open_capture
from tlscap.decode.decoder import Decoder
from tlscap.errors import CaptureIssue, CaptureOpenError
from tlscap.tcp.streams import StreamTable

SOCKS_PORT = 1080


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOptions:
    """What the user asked for: filters and the time at which validity is judged."""

    host: str | None = None
    port: int | None = None
    sni: str | None = None
    at: datetime | None = None


def analyze_capture(path: str, options: AnalysisOptions | None = None) -> CaptureReport:
    """Analyze one capture file. Never raises for bad data; an unreadable file gives `unreadable`."""
    options = options or AnalysisOptions()
    report = CaptureReport(path=str(path))
    try:
        reader = open_capture(path)
    except CaptureOpenError as exc:
        report.unreadable = True
        report.errors.append(CaptureIssue(code="unreadable", message=exc.reason))
        return report
    table: StreamTable[ConnectionTracker] = StreamTable()
    trackers: list[ConnectionTracker] = []
    decoder = Decoder()
    with reader:
        for frame in reader:
            seg = decoder.decode(frame)
            if seg is None:
                continue
            conv, side, _ = table.lookup(seg)
            tracker = conv.state
            if tracker is None:
                tracker = ConnectionTracker(
                    stream=conv.stream,
                    endpoints={side: (seg.src_ip, seg.src_port), not side: (seg.dst_ip, seg.dst_port)},
                    tunnel=seg.tunnel,
                    first_frame=seg.frame,
                    first_time_ns=seg.timestamp_ns,
                    socks_port=SOCKS_PORT in (seg.src_port, seg.dst_port),
                )
                conv.state = tracker
                trackers.append(tracker)
            tracker.on_segment(seg, side)
            if tracker.socks_port and not tracker.socks_counted and tracker.session.is_tls:
                # Wireshark's SOCKS dissector opens a conversation for the proxied connection when the
                # first data after the SOCKS exchange arrives; that takes a tcp.stream index too.
                tracker.socks_counted = True
                table.count += 1
        info = reader.info
    report.format = info.format
    report.link_types = list(info.link_types)
    report.link_titles = [link_type_title(n) for n in info.link_type_numbers]
    report.frames = info.frames
    report.first_time_ns = info.first_time_ns
    report.last_time_ns = info.last_time_ns
    report.errors.extend(info.issues)
    for tracker in trackers:
        tracker.finish()
        if not tracker.session.is_tls:
            continue
        conn = build_connection(tracker)
        if not _selected(conn, options):
            continue
        apply_rules(conn, options.at)
        report.connections.append(conn)
    return report


def _selected(conn: Connection, options: AnalysisOptions) -> bool:
    if options.host and options.host not in (conn.client.ip, conn.server.ip):
        return False
    if options.port and options.port not in (conn.client.port, conn.server.port):
        return False
    if options.sni and (conn.sni or "").lower() != options.sni.lower():
        return False
    return True
