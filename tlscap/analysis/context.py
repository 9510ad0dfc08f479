"""What the rules know besides the connection: the time to judge at, the truststore, other certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.truststore import Truststore


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleContext:
    """`at` replaces the capture's time for validity (`--at`); `truststore` is what the server is meant to
    trust (`--truststore`); `capture_certificates` are all certificates seen in the capture, by SHA-256,
    so a missing intermediate can be found in another connection."""

    at: datetime | None = None
    truststore: Truststore | None = None
    capture_certificates: dict[str, CertificateSummary] = field(default_factory=dict)
