"""Finished connections, from either engine: built, kept a moment for trailing segments, judged, handed on.

A finished connection waits up to GRACE_NS of capture time for a trailing ACK/FIN/RST, and goes out
in stream order (after every lower stream that is still open), unless more than MAX_WAITING wait.
It is judged when it goes out, with the certificates the capture showed so far (a missing
intermediate may stand in another connection). Memory: the open connections and at most
MAX_WAITING finished ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from tlscap.analysis.builder import build_connection
from tlscap.analysis.context import RuleContext
from tlscap.analysis.model import Connection, TcpEndEntry
from tlscap.analysis.rules import apply_rules
from tlscap.analysis.tracker import ConnectionTracker
from tlscap.pki.certificate import CertificateSummary, summarize_certificate

ConnectionSink = Callable[[Connection], None]
GRACE_NS = 5_000_000_000
MAX_WAITING = 512
# Distinct certificates remembered per capture, so a missing intermediate can be found elsewhere.
MAX_CAPTURE_CERTIFICATES = 10_000
# CA certificates of a capture handed to a scan, for the other captures' verdicts.
MAX_CA_CERTIFICATES_SHARED = 256


class ConnectionCollector:
    """See the module docstring. `opened`/`finalize` bracket a connection; `hand_on` is called often."""

    def __init__(self, options: object, emit: ConnectionSink) -> None:
        self.options = options  # an AnalysisOptions (filters, at, truststore)
        self.emit = emit
        self.open: set[int] = set()
        self._open_ids: list[int] = []  # heap of `open`, with some closed since (removed lazily)
        self.waiting: dict[int, Connection] = {}
        self._waiting_ids: list[int] = []  # heap of the keys of `waiting`
        self.certificates: dict[str, CertificateSummary] = {}
        for der in getattr(options, "known_certificates", ()):  # seen in other captures of a scan
            known = summarize_certificate(der)
            self.certificates.setdefault(known.sha256, known)
        self.ca_seen: list[bytes] = []  # DER of the CA certificates this capture showed
        self.now_ns = 0
        # Set when the file ended early: connections finalized from then on were still open at its end.
        self.capture_cut: str | None = None
        # The rules' context is the same for every connection (the certificates fill in as they come).
        self._context = RuleContext(at=getattr(options, "at", None), truststore=getattr(options, "truststore", None),
                                    capture_certificates=self.certificates)

    def opened(self, stream: int) -> None:
        self.open.add(stream)
        heapq.heappush(self._open_ids, stream)

    def finalize(self, tracker: ConnectionTracker) -> bool:
        """Build the connection's report (freeing the tracker's state is the caller's). Returns whether
        the connection was TLS (a non-TLS conversation leaves nothing behind)."""
        self.open.discard(tracker.stream)
        tracker.finish()
        if not tracker.session.tls_seen:
            return False
        conn = build_connection(tracker)
        conn.capture_cut = self.capture_cut
        if selected(conn, self.options):
            self.waiting[conn.id] = conn
            heapq.heappush(self._waiting_ids, conn.id)
            for info in [*conn.server_certificates, *conn.client_certificates]:
                for cert in info.chain:
                    if len(self.certificates) < MAX_CAPTURE_CERTIFICATES and cert.sha256 not in self.certificates:
                        self.certificates[cert.sha256] = cert
                        if (cert.basic_constraints_ca or cert.self_issued) and \
                                len(self.ca_seen) < MAX_CA_CERTIFICATES_SHARED:
                            self.ca_seen.append(cert.der)
        return True

    def late_segment(self, stream: int, *, frame: int, time_ns: int, src: tuple[str, int], fin: bool,
                     rst: bool) -> None:
        """A segment of a finalized connection: it only extends the span (and a late FIN/RST shows)."""
        conn = self.waiting.get(stream)
        if conn is None:
            return
        conn.last_frame = frame
        conn.last_time_ns = time_ns
        if fin or rst:
            sender = "client" if src == (conn.client.ip, conn.client.port) else "server"
            conn.tcp_ends.append(TcpEndEntry(frame=frame, sender=sender, kind="RST" if rst else "FIN"))
            conn.frame_times_ns.setdefault(frame, time_ns)

    def hand_on(self, *, everything: bool = False) -> None:
        """Judge and hand on the waiting connections that are due, in stream order."""
        lowest_open = self._lowest_open()
        while self._waiting_ids:
            stream = self._waiting_ids[0]
            conn = self.waiting[stream]
            due = everything or len(self.waiting) > MAX_WAITING or (
                (lowest_open is None or stream < lowest_open) and conn.last_time_ns + GRACE_NS <= self.now_ns)
            if not due:
                return
            heapq.heappop(self._waiting_ids)
            del self.waiting[stream]
            apply_rules(conn, self._context)
            self.emit(conn)

    def _lowest_open(self) -> int | None:
        heap = self._open_ids
        while heap and heap[0] not in self.open:
            heapq.heappop(heap)
        return heap[0] if heap else None


def selected(conn: Connection, options: object) -> bool:
    """Whether the connection passes --host, --port and --sni."""
    host = getattr(options, "host", None)
    port = getattr(options, "port", None)
    sni = getattr(options, "sni", None)
    if host and host not in (conn.client.ip, conn.server.ip):
        return False
    if port and port not in (conn.client.port, conn.server.port):
        return False
    return not (sni and (conn.sni or "").lower() != sni.lower())
