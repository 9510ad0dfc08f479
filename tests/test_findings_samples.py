"""Each real sample capture yields the finding that names its cause, at the frames tshark shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlscap.analysis.engine import analyze_capture

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# sample -> per connection id: {finding code: frames}; frames from samples/README.md (tshark)
EXPECTED: dict[str, dict[int, dict[str, tuple[int, ...]]]] = {
    "tls12-success.pcap": {0: {}},
    "tls12-full-chain.pcap": {0: {}},
    "tls12-expired-client-cert.pcap": {0: {"client-cert-expired": (8,)}},
    "tls12-expired-client-cert-any.pcap": {0: {"client-cert-expired": (8,)}},
    "tls12-expired-client-cert-any-sll.pcap": {0: {"client-cert-expired": (8,)}},
    "tls12-unlisted-ca.pcap": {0: {"client-cert-issuer-not-requested": (6, 8)}},
    "tls12-missing-intermediate.pcap": {0: {"client-cert-issuer-not-requested": (6, 8)}},
    "tls12-no-client-cert.pcap": {0: {"client-cert-not-sent": (6, 8)}},
    "tls12-alert-expired-client-cert.pcap": {0: {"client-cert-expired": (8,), "handshake-alert": (9,)}},
    "tls12-alert-unlisted-ca.pcap": {0: {"client-cert-issuer-not-requested": (6, 8), "handshake-alert": (9,)}},
    "tls12-alert-missing-intermediate.pcap": {
        0: {"client-cert-issuer-not-requested": (6, 8), "handshake-alert": (9,)}},
    "tls12-alert-no-client-cert.pcap": {0: {"client-cert-not-sent": (6, 8), "handshake-alert": (9,)}},
    "multi-connection.pcap": {
        0: {},
        1: {"client-cert-expired": (23,)},
        2: {"client-cert-issuer-not-requested": (36, 38)},
        3: {"client-cert-not-sent": (51, 53)},
    },
    "snaplen-truncated.pcap": {0: {"capture-truncated": (4, 6, 8)}},
}
TLS13 = sorted(p.name for p in SAMPLES.glob("tls13-*.pcap"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_findings(name):
    report = analyze_capture(str(SAMPLES / name))
    assert not report.errors
    found = {c.id: {f.code: f.frames for f in c.findings if f.severity != "info"} for c in report.connections}
    assert found == EXPECTED[name]


def test_alert_descriptions_are_read():
    report = analyze_capture(str(SAMPLES / "tls12-alert-expired-client-cert.pcap"))
    (alert,) = [a for a in report.connections[0].alerts if not a.encrypted]
    assert (alert.frame, alert.sender, alert.level, alert.description) == (9, "server", "fatal", "certificate_expired")
    assert report.connections[0].outcome == "failed"


def test_expired_finding_names_the_certificate_and_dates():
    (conn,) = analyze_capture(str(SAMPLES / "tls12-expired-client-cert.pcap")).connections
    (f,) = [f for f in conn.findings if f.code == "client-cert-expired"]
    assert "CN=client-markw" in f.message and "2025-01-01" in f.message
    assert "new certificate" in f.fix


@pytest.mark.parametrize("name", TLS13)
def test_tls13_without_keys_claims_nothing_it_cannot_see(name):
    """Without keys nothing encrypted is parsed; what the record sizes suggest is said as inferred."""
    (conn,) = analyze_capture(str(SAMPLES / name)).connections
    assert conn.certificate_request is None and conn.client_certificate is None
    assert all(a.inferred and a.encrypted and a.description is None for a in conn.alerts)
    for f in conn.findings:
        assert f.code == "handshake-encrypted" or "inferred from record sizes" in f.message, f
    assert conn.record_inference is not None and conn.record_inference.answered
    assert conn.outcome in ("unknown", "failed")
