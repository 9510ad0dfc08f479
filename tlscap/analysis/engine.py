"""The analysis of one capture: frames → segments → connections → TLS events → report model.

This is the only place that wires the layers together; `capture/` is the only one that reads files.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tlscap.analysis.builder import build_connection
from tlscap.analysis.context import RuleContext
from tlscap.analysis.model import CaptureReport, Connection, TcpEndEntry
from tlscap.analysis.rules import apply_rules
from tlscap.analysis.tracker import ConnectionTracker
from tlscap.capture.linktypes import link_type_title
from tlscap.capture.reader import open_capture
from tlscap.decode.decoder import Decoder
from tlscap.decode.segment import Segment
from tlscap.errors import CaptureIssue, CaptureOpenError
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.truststore import Truststore
from tlscap.tcp.streams import Conversation, StreamTable
from tlscap.tls.keylog import KeyLog, parse_keylog
from tlscap.tls.session import TlsSession

SOCKS_PORT = 1080
_KEYLOG_LABELS = ("CLIENT_RANDOM ", "_TRAFFIC_SECRET")


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOptions:
    """What the user asked for: filters and the time at which validity is judged."""

    host: str | None = None
    port: int | None = None
    sni: str | None = None
    at: datetime | None = None
    keylog: KeyLog | None = None  # from --keylog files; each capture adds its own DSB/comment secrets
    truststore: Truststore | None = None  # from --truststore


ConnectionSink = Callable[[Connection], None]
# Finished connections wait this long (capture time) for a trailing ACK/FIN/RST before they are
# handed on, and at most this many wait; then they go out even if a lower stream id is still open.
GRACE_NS = 5_000_000_000
MAX_WAITING = 512
# Distinct certificates remembered per capture, so a missing intermediate can be found elsewhere.
MAX_CAPTURE_CERTIFICATES = 10_000


def analyze_capture(
    path: str, options: AnalysisOptions | None = None, *, on_connection: ConnectionSink | None = None
) -> CaptureReport:
    """Analyze one capture file. Never raises for bad data; an unreadable file gives `unreadable`.

    Without `on_connection`, the connections are collected in the report (in stream order). With it,
    each connection is handed over as soon as it is finished and judged, and not kept: memory stays
    bounded by the connections open at once, whatever the file's size. `report.stats` counts them.
    """
    options = options or AnalysisOptions()
    report = CaptureReport(path=str(path))
    try:
        reader = open_capture(path)
    except CaptureOpenError as exc:
        report.unreadable = True
        report.errors.append(CaptureIssue(code="unreadable", message=exc.reason))
        return report
    sink = on_connection or report.connections.append
    run = _Run(options, lambda conn: _count_and_pass(report, conn, sink))
    frame_number = 0
    with reader:
        try:
            for frame in reader:
                frame_number = frame.number
                if len(reader.info.secrets) + len(reader.info.comments) != run.embedded_seen:
                    run.take_embedded_secrets(reader.info.secrets, reader.info.comments)
                seg = run.decoder.decode(frame)
                if seg is not None:
                    run.on_segment(seg)
        except Exception as exc:  # a bug must not cost the user what was read before it
            report.errors.append(CaptureIssue(
                code="internal-error", frame=frame_number,
                message=f"tlscap stopped at frame {frame_number} on an internal error ({type(exc).__name__}: "
                        f"{exc}); the frames before it are analyzed. Please report this capture.",
            ))
        info = reader.info
    report.format = info.format
    report.link_types = list(info.link_types)
    report.link_titles = [link_type_title(n) for n in info.link_type_numbers]
    report.frames = info.frames
    report.first_time_ns = info.first_time_ns
    report.last_time_ns = info.last_time_ns
    report.errors.extend(info.issues)
    run.finish()
    return report


def _count_and_pass(report: CaptureReport, conn: Connection, sink: ConnectionSink) -> None:
    report.stats.add(conn)
    sink(conn)


class _Closed:
    """A finalized TLS conversation: its Connection while it waits to be handed on, then nothing."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection | None) -> None:
        self.connection = connection


class _Run:
    """The state of one capture's analysis: conversations open, connections waiting to be handed on."""

    def __init__(self, options: AnalysisOptions, emit: ConnectionSink) -> None:
        self.options = options
        self.emit = emit
        self.decoder = Decoder()
        self.table: StreamTable[ConnectionTracker | _Closed] = StreamTable()
        self.open: dict[int, tuple[Conversation[ConnectionTracker | _Closed], ConnectionTracker]] = {}
        self.waiting: dict[int, tuple[_Closed, Connection]] = {}
        self.waiting_ids: list[int] = []  # heap of the keys of `waiting`
        self.open_ids: list[int] = []  # heap of the keys of `open`, and of some closed since (lazy)
        self.now_ns = 0
        self.certificates: dict[str, CertificateSummary] = {}
        self.keylog = KeyLog()
        if options.keylog is not None:
            self.keylog.merge(options.keylog)
        self.embedded_seen = 0
        self._secrets_seen = 0
        self._comments_seen = 0

    def take_embedded_secrets(self, secrets: list[bytes], comments: list[str]) -> None:
        """Key-log material inside the capture: pcapng Decryption Secrets Blocks, and key-log lines
        that some captures keep in their comments."""
        for secret in secrets[self._secrets_seen :]:
            self.keylog.merge(parse_keylog(secret, source="pcapng DSB"))
        for comment in comments[self._comments_seen :]:
            if any(label in comment for label in _KEYLOG_LABELS):
                self.keylog.merge(parse_keylog(comment, source="pcapng comment"))
        self._secrets_seen, self._comments_seen = len(secrets), len(comments)
        self.embedded_seen = len(secrets) + len(comments)

    def on_segment(self, seg: Segment) -> None:
        self.now_ns = seg.timestamp_ns
        if seg.quoted:
            self.table.lookup_quoted(seg)
            return
        conv, side, _ = self.table.lookup(seg)
        state = conv.state
        if isinstance(state, _Closed):
            if state.connection is not None:
                _after_close(state.connection, seg)
            return
        tracker = state
        if tracker is None:
            tracker = ConnectionTracker(
                stream=conv.stream,
                endpoints={side: (seg.src_ip, seg.src_port), not side: (seg.dst_ip, seg.dst_port)},
                tunnel=seg.tunnel,
                first_frame=seg.frame,
                first_time_ns=seg.timestamp_ns,
                socks_port=SOCKS_PORT in (seg.src_port, seg.dst_port),
                session=TlsSession(self.keylog if len(self.keylog) else None),
            )
            conv.state = tracker
            self.open[conv.stream] = (conv, tracker)
            heapq.heappush(self.open_ids, conv.stream)
        tracker.on_segment(seg, side)
        if tracker.socks_port and not tracker.socks_counted and tracker.session.tls_seen:
            # Wireshark's SOCKS dissector opens a conversation for the proxied connection when the
            # first data after the SOCKS exchange arrives; that takes a tcp.stream index too.
            tracker.socks_counted = True
            self.table.count += 1
        if tracker.closed or tracker.given_up:
            self._finalize(conv, tracker)
            self._hand_on()

    def _finalize(self, conv: Conversation[ConnectionTracker | _Closed], tracker: ConnectionTracker) -> None:
        """Build the finished connection's report and free its reassembly and TLS state."""
        del self.open[tracker.stream]
        tracker.finish()
        if not tracker.session.is_tls:
            conv.state = None  # nothing kept; a reused or revived connection starts afresh
            return
        conn = build_connection(tracker)
        if not _selected(conn, self.options):
            conv.state = _Closed(None)
            return
        closed = _Closed(conn)
        conv.state = closed
        self.waiting[conn.id] = (closed, conn)
        heapq.heappush(self.waiting_ids, conn.id)
        for info in [*conn.server_certificates, *conn.client_certificates]:
            for cert in info.chain:
                if len(self.certificates) < MAX_CAPTURE_CERTIFICATES:
                    self.certificates.setdefault(cert.sha256, cert)

    def _lowest_open(self) -> int | None:
        heap = self.open_ids
        while heap and heap[0] not in self.open:
            heapq.heappop(heap)  # closed since it was pushed
        return heap[0] if heap else None

    def _hand_on(self, *, everything: bool = False) -> None:
        """Judge and hand on the waiting connections that are due, in stream order."""
        lowest_open = self._lowest_open()
        while self.waiting_ids:
            stream = self.waiting_ids[0]
            closed, conn = self.waiting[stream]
            due = everything or len(self.waiting) > MAX_WAITING or (
                (lowest_open is None or stream < lowest_open) and conn.last_time_ns + GRACE_NS <= self.now_ns)
            if not due:
                return
            heapq.heappop(self.waiting_ids)
            del self.waiting[stream]
            closed.connection = None
            apply_rules(conn, RuleContext(at=self.options.at, truststore=self.options.truststore,
                                          capture_certificates=self.certificates))
            self.emit(conn)

    def finish(self) -> None:
        for conv, tracker in list(self.open.values()):
            self._finalize(conv, tracker)
        self._hand_on(everything=True)


def _after_close(conn: Connection, seg: Segment) -> None:
    """Late segments of a finalized connection only extend its span (and a late FIN/RST shows)."""
    conn.last_frame = seg.frame
    conn.last_time_ns = seg.timestamp_ns
    if seg.fin or seg.rst:
        sender = "client" if (seg.src_ip, seg.src_port) == (conn.client.ip, conn.client.port) else "server"
        conn.tcp_ends.append(TcpEndEntry(frame=seg.frame, sender=sender, kind="RST" if seg.rst else "FIN"))
        conn.frame_times_ns.setdefault(seg.frame, seg.timestamp_ns)


def _selected(conn: Connection, options: AnalysisOptions) -> bool:
    if options.host and options.host not in (conn.client.ip, conn.server.ip):
        return False
    if options.port and options.port not in (conn.client.port, conn.server.port):
        return False
    if options.sni and (conn.sni or "").lower() != options.sni.lower():
        return False
    return True
