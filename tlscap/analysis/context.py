"""What the rules know besides the connection: the time to judge at, the truststore, other certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tlscap.analysis.server_log import ServerLog
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.truststore import Truststore


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleContext:
    """`at` replaces the capture's time for validity (`--at`); `truststore` is what the server is meant to
    trust (`--truststore`); `capture_certificates` are all certificates seen in the capture, by SHA-256,
    so a missing intermediate can be found in another connection; `server_log` holds the messages of the
    server's logs given (`--server-log`), handed to each connection as it is judged."""

    at: datetime | None = None
    truststore: Truststore | None = None
    capture_certificates: dict[str, CertificateSummary] = field(default_factory=dict)
    server_log: ServerLog | None = None
