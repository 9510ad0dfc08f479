"""Finished connections, from either engine: built, kept a moment for trailing segments, judged, handed on.

A finished connection waits up to GRACE_NS of capture time for a trailing ACK/FIN/RST, and goes out
in stream order (after every lower stream that is still open), unless more than limits.MAX_WAITING wait.
It is judged when it goes out, with the certificates the capture showed so far (a missing
intermediate may stand in another connection). Memory: the open connections and at most
limits.MAX_WAITING finished ones, and up to limits.MAX_CAPTURE_CERTIFICATES certificates.
"""

from __future__ import annotations

import fnmatch
import heapq
import ipaddress
from collections.abc import Callable

from tlscap import limits
from tlscap.analysis.builder import build_connection
from tlscap.analysis.context import RuleContext
from tlscap.analysis.model import Connection, TcpEndEntry
from tlscap.analysis.rules import apply_rules
from tlscap.analysis.tracker import ConnectionTracker
from tlscap.pki.certificate import CertificateSummary, summarize_certificate

ConnectionSink = Callable[[Connection], None]
GRACE_NS = 5_000_000_000


class ConnectionCollector:
    """See the module docstring. `opened`/`finalize` bracket a connection; `hand_on` is called often."""

    def __init__(self, options: object, emit: ConnectionSink, *,
                 certificates: dict[str, CertificateSummary] | None = None) -> None:
        self.options = options  # an AnalysisOptions (filters, at, truststore)
        self.emit = emit
        self.open: set[int] = set()
        self._open_ids: list[int] = []  # heap of `open`, with some closed since (removed lazily)
        self.waiting: dict[int, Connection] = {}
        self._waiting_ids: list[int] = []  # heap of the keys of `waiting`
        # Shared with another collector of the same capture when given (TCP and UDP connections).
        self.certificates: dict[str, CertificateSummary] = {} if certificates is None else certificates
        for der in getattr(options, "known_certificates", ()):  # seen in other captures of a scan
            known = summarize_certificate(der)
            self.certificates.setdefault(known.sha256_hex, known)
        self.ca_seen: list[bytes] = []  # DER of the CA certificates this capture showed
        self.excluded = 0  # TLS connections --host, --port or --sni left out
        self._filter = ConnectionFilter.of(options)
        self.now_ns = 0
        # Set when the file ended early: connections finalized from then on were still open at its end.
        self.capture_cut: str | None = None
        # The rules' context is the same for every connection (the certificates fill in as they come).
        self._context = RuleContext(at=getattr(options, "at", None), truststore=getattr(options, "truststore", None),
                                    capture_certificates=self.certificates,
                                    server_log=getattr(options, "server_log", None))

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
        if self._filter.selects(conn):
            self.waiting[conn.id] = conn
            heapq.heappush(self._waiting_ids, conn.id)
            certificates = self.certificates
            for info in [*conn.server_certificates, *conn.client_certificates]:
                for cert in info.chain:
                    if len(certificates) < limits.MAX_CAPTURE_CERTIFICATES and cert.sha256_hex not in certificates:
                        certificates[cert.sha256_hex] = cert
                        if (cert.basic_constraints_ca or cert.self_issued) and \
                                len(self.ca_seen) < limits.MAX_CA_CERTIFICATES_PER_CAPTURE:
                            self.ca_seen.append(cert.der)
        else:
            self.excluded += 1
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
            due = everything or len(self.waiting) > limits.MAX_WAITING or (
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


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def host_network(text: str) -> IpNetwork:
    """`--host`: an IPv4 or IPv6 address, or a CIDR prefix (host bits allowed: 10.1.2.3/8 is 10.0.0.0/8).
    ValueError for anything else (a host name is not resolved: the capture has addresses)."""
    return ipaddress.ip_network(text.strip(), strict=False)


def sni_matches(pattern: str, sni: str | None) -> bool:
    """`--sni`: the ClientHello's server name equals the pattern, ignoring case and a trailing dot;
    `*` and `?` match as in shell patterns (`*.example.com` matches every name under example.com,
    not example.com itself). A connection without SNI never matches."""
    if not sni:
        return False
    name, wanted = sni.lower().rstrip("."), pattern.lower().rstrip(".")
    if "*" in wanted or "?" in wanted:
        return fnmatch.fnmatchcase(name, wanted.replace("[", "[[]"))
    return name == wanted


class ConnectionFilter:
    """--host, --port and --sni, parsed once per capture."""

    def __init__(self, host: str | None, port: int | None, sni: str | None) -> None:
        self.network = host_network(host) if host else None
        self.port = port
        self.sni = sni

    @classmethod
    def of(cls, options: object) -> ConnectionFilter:
        return cls(getattr(options, "host", None), getattr(options, "port", None), getattr(options, "sni", None))

    def selects(self, conn: Connection) -> bool:
        if self.network is not None and not any(_in(ip, self.network) for ip in (conn.client.ip, conn.server.ip)):
            return False
        if self.port and self.port not in (conn.client.port, conn.server.port):
            return False
        return not self.sni or sni_matches(self.sni, conn.sni)


def _in(ip: str, network: IpNetwork) -> bool:
    try:
        return ipaddress.ip_address(ip) in network
    except ValueError:
        return False


def selected(conn: Connection, options: object) -> bool:
    """Whether the connection passes --host, --port and --sni."""
    return ConnectionFilter.of(options).selects(conn)
