"""The report model: what tlscap found in a capture, before it is rendered in any format."""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap.analysis.server_log import LogMessage
from tlscap.errors import CaptureIssue
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.verify import CaListComparison, PathResult
from tlscap.tls.client_stacks import StackMatch
from tlscap.tls.constants import is_tls13
from tlscap.tls.fingerprint import ClientFingerprint
from tlscap.tls.record_sizes import SizedRecord, Tls13Inference

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
# Verdicts that a CA certificate seen elsewhere (another capture of a scan) may settle or change.
MORE_CERTIFICATES_MAY_SETTLE = frozenset({
    "client-chain-incomplete", "client-cert-wrong-ca", "server-ca-not-loaded", "client-cert-issuer-not-requested",
    "ca-rekeyed",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeEntry:
    """A handshake message (or ChangeCipherSpec record) as the report lists it.

    `msg_type` is what rules match: the message's HandshakeType (HELLO_RETRY_REQUEST for a ServerHello that
    is one), None for a ChangeCipherSpec record or an encrypted message of unknown type. `message` is its
    name in the report ("ClientHello", "ChangeCipherSpec", "EncryptedHandshakeMessage").
    """

    frame: int
    frames: tuple[int, ...]
    sender: str  # "client" | "server"
    message: str
    msg_type: int | None = None
    encrypted: bool = False
    damaged: str | None = None
    count: int = 1  # identical ChangeCipherSpec records in a row, up to `last_frame`
    last_frame: int | None = None
    retransmission: bool = False  # DTLS: a copy of a message listed before (not parsed again)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequestInfo:
    frame: int
    frames: tuple[int, ...]
    ca_names: tuple[str, ...]
    ca_names_der: tuple[bytes, ...]
    signature_algorithms: tuple[str, ...]
    signature_algorithm_codes: tuple[int, ...]
    certificate_types: tuple[str, ...]
    certificate_type_codes: tuple[int, ...]
    tls13: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateChainInfo:
    frame: int
    frames: tuple[int, ...]
    sender: str
    chain: tuple[CertificateSummary, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEntry:
    frame: int
    frames: tuple[int, ...]
    sender: str
    level: str | None
    description: str | None
    encrypted: bool
    level_code: int | None = None
    description_code: int | None = None
    inferred: bool = False  # TLS 1.3 without keys: an alert-sized record (tls.record_sizes)
    count: int = 1  # identical alerts in a row, up to `last_frame`
    last_frame: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpEndEntry:
    """A FIN or RST that closed (one side of) the connection."""

    frame: int
    sender: str
    kind: str  # "FIN" | "RST"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    frame: int
    status: int
    title: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    code: str
    severity: str
    frames: tuple[int, ...]
    message: str
    fix: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """The one verdict on a connection (DESIGN.md, "Diagnosis"): its cause, who has to act, how sure it is.

    `evidence` indexes the connection's findings that support the cause or follow from it; `alternatives`
    are the other causes still possible (empty when certain); `decide_with` says what would settle it.
    """

    cause: str
    side: str  # client | server | capture | none | unknown
    certainty: str  # certain | likely | undecided
    summary: str
    fix: str
    frames: tuple[int, ...] = ()
    evidence: tuple[int, ...] = ()
    alternatives: tuple[str, ...] = ()
    decide_with: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureDamage:
    """Bytes of the handshake missing from the capture (`truncated`: cut by the snap length)."""

    frame: int
    sender: str
    message: str | None
    detail: str
    truncated: bool


@dataclass(slots=True, kw_only=True)
class Connection:
    """One TLS connection, with every fact the rules and the reports need."""

    id: int
    client: Endpoint
    server: Endpoint
    first_frame: int
    last_frame: int
    first_time_ns: int
    last_time_ns: int
    sni: str | None = None
    version: str | None = None
    version_code: int | None = None
    cipher_suite: str | None = None
    decrypted: bool = False
    tunnel: tuple[str, ...] = ()
    handshake: list[HandshakeEntry] = field(default_factory=list)
    certificate_requests: list[CertificateRequestInfo] = field(default_factory=list)
    client_certificates: list[CertificateChainInfo] = field(default_factory=list)
    server_certificates: list[CertificateChainInfo] = field(default_factory=list)
    alerts: list[AlertEntry] = field(default_factory=list)
    tcp_ends: list[TcpEndEntry] = field(default_factory=list)
    damage: list[CaptureDamage] = field(default_factory=list)
    frame_times_ns: dict[int, int] = field(default_factory=dict)
    http: HttpResponse | None = None
    outcome: str = "unknown"
    findings: list[Finding] = field(default_factory=list)
    client_finished: bool = False
    server_finished: bool = False
    client_app_data_frames: list[int] = field(default_factory=list)
    server_app_data_frames: list[int] = field(default_factory=list)
    # Messages that could not be parsed, and limits that cut what was kept: (frame, what was seen).
    malformed: list[tuple[int, str]] = field(default_factory=list)
    limited: list[tuple[int, str]] = field(default_factory=list)
    key_problem: str | None = None  # why a key log given could not decrypt this connection
    key_problem_frame: int | None = None
    # With --truststore: the advertised CA names against the truststore (pki.verify.CaListComparison).
    ca_list_check: CaListComparison | None = None
    # With --truststore: the client's first chain verified against it (pki.verify.PathResult).
    chain_check: PathResult | None = None
    # Why the capture file ended before this connection did (it was still open at a cut-off file's end).
    capture_cut: str | None = None
    diagnosis: Diagnosis | None = None
    cipher_suite_code: int | None = None
    client_alpn: tuple[str, ...] = ()  # the protocols the client's (first) ClientHello offered
    # The client's (first) ClientHello: its JA4/JA3, and the TLS stack they identify (client_stacks).
    client_fingerprint: ClientFingerprint | None = None
    client_stack: StackMatch | None = None
    # The server's own log lines about this connection's client certificate (--server-log).
    server_log: tuple[LogMessage, ...] = ()
    # TLS 1.3 without keys: the first encrypted records, and what their sizes say (tls.record_sizes).
    encrypted_records: list[SizedRecord] = field(default_factory=list)
    record_inference: Tls13Inference | None = None
    transport: str = "tcp"  # "udp" for DTLS; `id` is then Wireshark's udp.stream

    @property
    def dtls(self) -> bool:
        return self.transport == "udp"

    @property
    def tls13(self) -> bool:
        return self.version_code is not None and is_tls13(self.version_code)

    @property
    def certificate_request(self) -> CertificateRequestInfo | None:
        return self.certificate_requests[0] if self.certificate_requests else None

    @property
    def client_certificate(self) -> CertificateChainInfo | None:
        return self.client_certificates[0] if self.client_certificates else None

    @property
    def server_certificate(self) -> CertificateChainInfo | None:
        return self.server_certificates[0] if self.server_certificates else None


@dataclass(slots=True, kw_only=True)
class ConnectionStats:
    """Counts over a capture's connections, kept as they are handed on (so streaming keeps them too)."""

    connections: int = 0
    with_findings: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    by_cause: dict[str, int] = field(default_factory=dict)
    worst_rank: int = 0
    # Verdicts that certificates from other captures could settle (see diagnosis.MORE_CERTIFICATES_MAY_SETTLE).
    open_to_certificates: int = 0
    # Connections a key log had secrets for (decrypted, or a secret that failed: `decryption-failed`).
    keyed: int = 0

    def add(self, conn: Connection) -> None:
        self.connections += 1
        d = conn.diagnosis
        if d is not None:
            self.by_cause[d.cause] = self.by_cause.get(d.cause, 0) + 1
            if d.certainty != "certain" and d.cause in MORE_CERTIFICATES_MAY_SETTLE:
                self.open_to_certificates += 1
        if conn.decrypted or conn.key_problem is not None:
            self.keyed += 1
        if conn.findings:
            self.with_findings += 1
        for f in conn.findings:
            self.by_code[f.code] = self.by_code.get(f.code, 0) + 1
            self.worst_rank = max(self.worst_rank, SEVERITY_RANK[f.severity])


@dataclass(slots=True, kw_only=True)
class CaptureReport:
    path: str
    format: str | None = None
    link_types: list[str] = field(default_factory=list)
    link_titles: list[str] = field(default_factory=list)
    frames: int = 0
    first_time_ns: int | None = None
    last_time_ns: int | None = None
    errors: list[CaptureIssue] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    stats: ConnectionStats = field(default_factory=ConnectionStats)
    unreadable: bool = False
    ca_certificates: list[bytes] = field(default_factory=list)  # DER, for the other captures of a scan
    excluded: int = 0  # TLS connections that --host, --port or --sni left out


@dataclass(slots=True, kw_only=True)
class Report:
    captures: list[CaptureReport] = field(default_factory=list)
    # With --server-log: ServerLog.summary() (messages, matched, unmatched, not_kept).
    server_log: dict[str, int] | None = None

    def connections(self) -> list[Connection]:
        return [c for cap in self.captures for c in cap.connections]

    def worst_severity(self) -> str | None:
        rank = max((cap.stats.worst_rank for cap in self.captures), default=0)
        return {v: k for k, v in SEVERITY_RANK.items()}.get(rank)
