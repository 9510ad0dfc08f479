"""The analysis of one capture: frames → segments → connections → TLS events → report model.

This is the only place that wires the layers together; `capture/` is the only one that reads files.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from tlscap import limits
from tlscap.analysis.collector import ConnectionCollector, ConnectionSink
from tlscap.analysis.model import CaptureReport, Connection
from tlscap.analysis.server_log import ServerLog
from tlscap.analysis.tracker import ConnectionTracker, Endpoints
from tlscap.capture.frame import Frame
from tlscap.capture.linktypes import link_type_title
from tlscap.capture.reader import CaptureInfo, open_capture
from tlscap.decode.datagram import Datagram
from tlscap.decode.decoder import FIXED_LINK_HEADERS, Decoder, bulk_fields_v4, bulk_fields_v6, flow_bytes
from tlscap.decode.segment import Segment
from tlscap.dtls.flows import DtlsTracker, UdpFlows
from tlscap.errors import CaptureIssue, CaptureOpenError
from tlscap.pki.truststore import Truststore
from tlscap.side import Side
from tlscap.tcp.reassembly import BufferBudget, DirectionReassembler
from tlscap.tcp.streams import Conversation, StreamTable
from tlscap.tls.keylog import KeyLog, parse_keylog
from tlscap.tls.session import TlsSession

SOCKS_PORT = 1080
# A direction that frames reach on the bulk path: (stream, tracker, side, the decoder's bulk_fields_v4
# or _v6 for its IP version).
BulkEntry = tuple[int, ConnectionTracker, Side, Callable[[bytes, int, int], "tuple[int, int, int] | None"]]
# Whether frames of known flows may take _Run.on_bulk (tests turn it off to compare with the general path).
BULK_PATH = True
# How often (in frames) idle connections are finished and quiet conversations forgotten.
SWEEP_INTERVAL = 1024
# Text that marks a pcapng comment as holding NSS key-log lines.
KEYLOG_MARKERS = ("CLIENT_RANDOM ", "_TRAFFIC_SECRET")


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOptions:
    """What the user asked for: filters and the time at which validity is judged."""

    host: str | None = None
    port: int | None = None
    sni: str | None = None
    at: datetime | None = None
    keylog: KeyLog | None = None  # from --keylog files; each capture adds its own DSB/comment secrets
    truststore: Truststore | None = None  # from --truststore
    # DER certificates of CAs seen elsewhere (other captures of a scan): evidence for the verdict only.
    known_certificates: tuple[bytes, ...] = ()
    # Whether key-log material inside the capture (pcapng DSBs, comments) is used.
    embedded_secrets: bool = True
    # The server's error logs (--server-log): their client-certificate messages, matched to connections.
    server_log: ServerLog | None = None


# Container allocations between two runs of the cycle collector's youngest generation (Python: 700).
GC_GEN0_THRESHOLD = 100_000


def tune_gc() -> None:
    """For a process that analyzes captures: the analysis makes millions of short-lived objects without
    cycles, and at Python's default the cycle collector runs every 700 of them (2-3 % of the run time
    on the benchmark). Run it less often; memory is unchanged. Called by the CLI and the scan workers,
    not on import: a library user's process keeps its own settings."""
    gc.set_threshold(GC_GEN0_THRESHOLD)


def analyze_capture(
    path: str, options: AnalysisOptions | None = None, *, on_connection: ConnectionSink | None = None,
    report: CaptureReport | None = None,
) -> CaptureReport:
    """Analyze one capture file. Never raises for bad data; an unreadable file gives `unreadable`.

    Without `on_connection`, the connections are collected in the report (in stream order). With it,
    each connection is handed over as soon as it is finished and judged, and not kept: memory stays
    bounded by the connections open at once, whatever the file's size. `report.stats` counts them.
    `report`, when given, is the report filled (and returned): a caller that may interrupt the analysis
    with an exception of its own (scan's --file-timeout) keeps in it what was read before: the capture's
    facts (frames, format, errors) are recorded on the way out too.
    """
    options = options or AnalysisOptions()
    report = CaptureReport(path=str(path)) if report is None else report
    try:
        reader = open_capture(path)
    except CaptureOpenError as exc:
        report.unreadable = True
        report.errors.append(CaptureIssue(code="unreadable", message=exc.reason))
        return report
    sink = on_connection or report.connections.append
    run = _Run(options, lambda conn: _count_and_pass(report, conn, sink))
    with reader:
        reader.on_idle(run.idle)
        info = reader.info
        secrets, comments = info.secrets, info.comments  # grow as a pcapng is read
        decode, on_segment = run.decoder.decode, run.on_segment
        bulk, bulk_v6, on_bulk, links = run.bulk, run.bulk_v6, run.on_bulk, FIXED_LINK_HEADERS
        try:
            for frame in reader:
                if len(secrets) + len(comments) != run.embedded_seen and options.embedded_secrets:
                    run.take_embedded_secrets(secrets, comments)
                if bulk or bulk_v6:
                    # A frame of a known flow that may only continue bulk data (see _Run.on_bulk).
                    fixed = links.get(frame.link_type)
                    if fixed is not None:
                        # The flow_bytes an IPv4 frame carries, else an IPv6 one's (each entry checks
                        # its frames' IP version).
                        data, ip = frame.data, fixed[0]
                        entry = bulk.get(data[ip + 12 : ip + 24])
                        if entry is None and bulk_v6:
                            entry = bulk_v6.get(data[ip + 8 : ip + 44])
                        if entry is not None and on_bulk(entry, frame, fixed):
                            continue
                seg = decode(frame)
                if seg is not None:
                    on_segment(seg)
        except Exception as exc:  # a bug must not cost the user what was read before it
            frame_number = info.frames
            report.errors.append(CaptureIssue(
                code="internal-error", frame=frame_number,
                message=f"tlscap stopped at frame {frame_number} on an internal error ({type(exc).__name__}: "
                        f"{exc}); the frames before it are analyzed. Please report this capture.",
            ))
        except BaseException:  # interrupted by the caller: what was read is the caller's to report
            record_capture_info(report, reader.info)
            raise
        info = reader.info
    record_capture_info(report, info)
    run.collector.capture_cut = run.udp_collector.capture_cut = capture_cut(report)
    run.finish()
    report.excluded = run.collector.excluded + run.udp_collector.excluded
    report.ca_certificates = list(run.collector.ca_seen) + list(run.udp_collector.ca_seen)
    report.errors.extend(run.issues)
    return report


def record_capture_info(report: CaptureReport, info: CaptureInfo) -> None:
    """The capture's own facts (format, link types, frames, time span, damage) into its report."""
    report.format = info.format
    report.link_types = list(info.link_types)
    report.link_titles = [link_type_title(n) for n in info.link_type_numbers]
    report.frames = info.frames
    report.first_time_ns = info.first_time_ns
    report.last_time_ns = info.last_time_ns
    report.errors.extend(info.issues)


# Capture issues after which the file holds no more frames: the connections still open end with it.
CUT_CODES = ("truncated-file", "bad-block", "read-error", "bad-gzip", "decompression-limit")


def capture_cut(report: CaptureReport) -> str | None:
    """Why the file stopped before its end, when it did (for the connections still open there)."""
    issue = next((e for e in report.errors if e.code in CUT_CODES), None)
    return None if issue is None else f"{issue.code}: {issue.message}"


def _count_and_pass(report: CaptureReport, conn: Connection, sink: ConnectionSink) -> None:
    report.stats.add(conn)
    sink(conn)


def _endpoints(conv: Conversation[ConnectionTracker | _Closed], seg: Segment, side: Side) -> Endpoints:
    """The endpoints of each side, indexed by side: the conversation key's own tuples (key[1] is side
    FIRST), so that the 16,384 trackers open at once do not each hold a copy."""
    key = conv.key
    if key is not None:
        return key[2], key[1]
    here, there = (seg.src_ip, seg.src_port), (seg.dst_ip, seg.dst_port)
    return (there, here) if side is Side.FIRST else (here, there)


class _Closed(Enum):
    """The state of a conversation whose TLS connection was finalized (late segments go to the collector)."""

    CLOSED = "closed"


_CLOSED = _Closed.CLOSED


def _open_tracker(conv: Conversation[ConnectionTracker | _Closed]) -> ConnectionTracker:
    tracker = conv.state
    assert isinstance(tracker, ConnectionTracker)
    return tracker


class _Run:
    """The state of one capture's analysis: the conversations, and the collector of finished connections."""

    def __init__(self, options: AnalysisOptions, emit: ConnectionSink) -> None:
        self.options = options
        self.decoder = Decoder()
        self.table: StreamTable[ConnectionTracker | _Closed] = StreamTable()
        # The open connections' conversations by stream, least recently active first (a conversation's
        # state is its tracker while it is open).
        self.open: OrderedDict[int, Conversation[ConnectionTracker | _Closed]] = OrderedDict()
        self.collector = ConnectionCollector(options, emit)
        # DTLS connections are numbered by udp.stream: a collector of their own, sharing the certificates.
        self.udp_collector = ConnectionCollector(options, emit, certificates=self.collector.certificates)
        self.udp = UdpFlows(self._finalize_udp)
        self.decoder.on_datagram = self.on_datagram
        self.issues: list[CaptureIssue] = []
        self.evicted = 0
        self._next_sweep = 0  # the frame number of the next sweep for idle connections
        self.budget = BufferBudget()  # out-of-order bytes held by all connections together
        self.keylog = KeyLog()
        if options.keylog is not None:
            self.keylog.merge(options.keylog)
        self.udp.keylog = self.keylog  # DTLS flows decrypt with the same secrets
        self.embedded_seen = 0
        # The open connections' directions that frames can reach without a Segment (see on_bulk): the
        # bytes of their IP addresses and ports (decoder.flow_bytes) -> BulkEntry, IPv4 and IPv6 apart.
        self.bulk: dict[bytes, BulkEntry] = {}
        self.bulk_v6: dict[bytes, BulkEntry] = {}
        self.bulk_keys: dict[int, list[bytes]] = {}  # stream -> its keys in `bulk` or `bulk_v6`
        self._secrets_seen = 0
        self._comments_seen = 0

    def take_embedded_secrets(self, secrets: list[bytes], comments: list[str]) -> None:
        """Key-log material inside the capture: pcapng Decryption Secrets Blocks, and key-log lines
        that some captures keep in their comments."""
        for secret in secrets[self._secrets_seen :]:
            self.keylog.merge(parse_keylog(secret, source="pcapng DSB"))
        for comment in comments[self._comments_seen :]:
            if any(label in comment for label in KEYLOG_MARKERS):
                self.keylog.merge(parse_keylog(comment, source="pcapng comment"))
        self._secrets_seen, self._comments_seen = len(secrets), len(comments)
        self.embedded_seen = len(secrets) + len(comments)

    def idle(self) -> None:
        """Standard input was silent for a while (a live pipe): hand on every connection that has
        finished, without waiting for later packets to move capture time past its grace period or for
        lower streams still open (so `tcpdump -U -w - | tlscap analyze - --format jsonl` reports each
        connection when it closes)."""
        self.collector.hand_on(everything=True)

    def on_datagram(self, datagram: Datagram) -> None:
        self.udp_collector.now_ns = datagram.timestamp_ns
        if datagram.frame >= self._next_sweep:
            self._sweep(datagram.timestamp_ns, datagram.frame)
        self.udp.on_datagram(datagram)

    def _finalize_udp(self, tracker: DtlsTracker) -> None:
        self.udp_collector.opened(tracker.stream)
        self.udp_collector.finalize(tracker)  # type: ignore[arg-type]  # a tracker of the same shape
        self.udp_collector.hand_on()

    def on_segment(self, seg: Segment) -> None:
        self.collector.now_ns = seg.timestamp_ns
        if seg.frame >= self._next_sweep:
            self._sweep(seg.timestamp_ns, seg.frame)
        if seg.quoted:
            self.table.lookup_quoted(seg)
            return
        conv, side, is_new = self.table.lookup(seg)
        if is_new and not seg.tunnel and (self.bulk or self.bulk_v6):
            # A new conversation on the endpoints of an older one (port reuse): its frames are its own.
            for key in (flow_bytes(seg.src_ip, seg.dst_ip, seg.src_port, seg.dst_port),
                        flow_bytes(seg.dst_ip, seg.src_ip, seg.dst_port, seg.src_port)):
                older = self._bulk_map(key).get(key) if key is not None else None
                if older is not None:
                    self._drop_bulk_keys(older[0], older[1])
        tracker = conv.state
        if tracker is _CLOSED:
            self.table.touch(conv, seg.timestamp_ns, seg.frame)
            self.collector.late_segment(conv.stream, frame=seg.frame, time_ns=seg.timestamp_ns,
                                        src=(seg.src_ip, seg.src_port), fin=seg.fin, rst=seg.rst)
            return
        if tracker is None:
            tracker = ConnectionTracker(
                stream=conv.stream,
                endpoints=_endpoints(conv, seg, side),
                tunnel=seg.tunnel,
                first_frame=seg.frame,
                first_time_ns=seg.timestamp_ns,
                socks_port=SOCKS_PORT in (seg.src_port, seg.dst_port),
                session=TlsSession(self.keylog if len(self.keylog) else None),
                reassembly=(DirectionReassembler(self.budget), DirectionReassembler(self.budget)),
            )
            conv.state = tracker
            conv.quiet_since = None
            self.open[conv.stream] = conv
            self.collector.opened(conv.stream)
            if len(self.open) > limits.MAX_TRACKED_CONNECTIONS:
                self._evict_least_recent()
                self.collector.hand_on()  # keeps the judged-early connections within limits.MAX_WAITING
        else:
            self.open.move_to_end(conv.stream)  # most recently active last
        tracker.on_segment(seg, side)
        if tracker.socks_port and not tracker.socks_counted and tracker.session.tls_seen:
            # Wireshark's SOCKS dissector opens a conversation for the proxied connection when the
            # first data after the SOCKS exchange arrives; that takes a tcp.stream index too.
            tracker.socks_counted = True
            self.table.count += 1
        if tracker.closed or tracker.given_up:
            self._finalize(conv, tracker)
            self.collector.hand_on()
        elif (BULK_PATH and tracker.session.tls_seen and not seg.tunnel and not tracker.socks_port
              and conv.first_base is not None and conv.second_base is not None):
            # Only TLS: a plaintext connection's data never takes on_bulk, so trying would only cost. Only
            # once both sides were seen: the up to 16,384 connections open that a scanner's or a one-way
            # capture's half-open ones make would each hold keys for a bulk that never comes.
            keys = self.bulk_keys.setdefault(conv.stream, [])
            if len(keys) < 2 and not tracker.reassembly[0].pending and not tracker.reassembly[1].pending:
                self._add_bulk_key(keys, tracker, seg, side)

    def _add_bulk_key(self, keys: list[bytes], tracker: ConnectionTracker, seg: Segment, side: Side) -> None:
        """Let the next frames of this direction take on_bulk: the table knows this side's base sequence
        number now, so looking a non-SYN segment of it up again would change nothing."""
        key = flow_bytes(seg.src_ip, seg.dst_ip, seg.src_port, seg.dst_port)
        if key is None:
            keys.extend((b"", b""))  # not an address: always the general path
        elif key not in keys:
            keys.append(key)
            fields_of = bulk_fields_v6 if len(key) > 12 else bulk_fields_v4
            self._bulk_map(key)[key] = (tracker.stream, tracker, side, fields_of)

    def on_bulk(self, entry: BulkEntry, frame: Frame, fixed: tuple[int, int]) -> bool:
        """`on_segment` for a frame of a known direction that is a bare ACK or continues, in order, an
        application-data record being skipped: the same changes without decoding a Segment or looking up
        its conversation (ConnectionTracker.on_bulk). False, having changed nothing, for anything else,
        and on the frames that sweep."""
        number = frame.number
        if number >= self._next_sweep:
            return False
        stream, tracker, side, fields_of = entry
        second, first = tracker.reassembly
        if second.pending or first.pending:
            # Data held out of order: nothing of this connection takes the bulk path until it is
            # delivered (a later segment registers it again), so reordered traffic does not pay for
            # trying at every frame.
            self._drop_bulk_keys(stream, tracker)
            return False
        fields = fields_of(frame.data, fixed[0], fixed[1])
        if fields is None:
            return False
        seq, ack, length = fields
        time_ns = frame.timestamp_ns
        if not tracker.on_bulk(side, number, time_ns, seq, ack, length):
            return False
        self.collector.now_ns = time_ns
        self.open.move_to_end(stream)  # most recently active last
        return True

    def _drop_bulk_keys(self, stream: int, tracker: ConnectionTracker) -> None:
        """The connection's frames take the general path again (those of a newer conversation on the
        same endpoints are left alone)."""
        for key in self.bulk_keys.pop(stream, ()):
            bulk = self._bulk_map(key)
            entry = bulk.get(key)
            if entry is not None and entry[1] is tracker:
                del bulk[key]

    def _bulk_map(self, key: bytes) -> dict[bytes, BulkEntry]:
        """The map of `key`'s IP version (an IPv6 flow_bytes is 36 bytes long, an IPv4 one 12)."""
        return self.bulk_v6 if len(key) > 12 else self.bulk

    def _evict_least_recent(self) -> None:
        """Too many connections open at once: finish the least recently active one as it stands."""
        conv = next(iter(self.open.values()))
        tracker = _open_tracker(conv)
        self._finalize(conv, tracker)
        self.evicted += 1

    def _sweep(self, now_ns: int, frame: int) -> None:
        """Every SWEEP_INTERVAL frames: finish the connections idle for limits.IDLE_CONNECTION_NS of
        capture time and limits.IDLE_CONNECTION_FRAMES frames, and forget the finished conversations
        quiet for as long (`StreamTable.forget_quiet`)."""
        self._next_sweep = frame + SWEEP_INTERVAL
        idle_ns = now_ns - limits.IDLE_CONNECTION_NS
        idle_frame = frame - limits.IDLE_CONNECTION_FRAMES
        while self.open:
            conv = next(iter(self.open.values()))  # least recently active first
            tracker = _open_tracker(conv)
            if tracker.last_frame > idle_frame or tracker.last_time_ns > idle_ns:
                break
            self._finalize(conv, tracker)
        self.collector.hand_on()
        self.table.forget_quiet(now_ns, frame)
        self.udp.sweep(now_ns)

    def _finalize(self, conv: Conversation[ConnectionTracker | _Closed], tracker: ConnectionTracker) -> None:
        del self.open[tracker.stream]
        self._drop_bulk_keys(tracker.stream, tracker)
        # A non-TLS conversation leaves nothing: a reused or revived connection starts afresh; but one
        # given up as another protocol stays dropped (as the tshark engine drops it), or its next
        # 256 KiB would be read again, and again.
        tls = self.collector.finalize(tracker)
        conv.state = _CLOSED if tls or tracker.given_up else None
        self.table.retire(conv, tracker.last_time_ns, tracker.last_frame)

    def finish(self) -> None:
        # In stream order, handing on as soon as more than limits.MAX_WAITING wait: up to MAX_TRACKED_CONNECTIONS
        # are still open here, and their judged connections all at once would double the peak memory. The
        # lowest waiting stream is then always below every one still open, so the order is kept.
        for conv in sorted(self.open.values(), key=lambda conv: conv.stream):
            self._finalize(conv, _open_tracker(conv))
            if len(self.collector.waiting) > limits.MAX_WAITING:
                self.collector.hand_on()
        self.collector.hand_on(everything=True)
        self.udp.finish()
        self.udp_collector.hand_on(everything=True)
        self.evicted += self.udp.evicted
        if self.evicted:
            self.issues.append(CaptureIssue(
                code="too-many-connections",
                message=(f"more than {limits.MAX_TRACKED_CONNECTIONS:,} TCP connections were open at once; the "
                         f"one least recently active was finished early {self.evicted:,} times, judged as far as "
                         "it had come"),
            ))
