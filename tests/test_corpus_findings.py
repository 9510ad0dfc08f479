"""Findings on the public corpus's mutual-TLS captures make sense (captures by other people and software)."""

from __future__ import annotations

import pytest
from corpus_facts import CORPUS

from tlscap.analysis.engine import analyze_capture

# capture -> {connection id: set of finding codes}
EXPECTED = {
    # CertificateRequest with an empty CA list, client sends its chain: a successful mTLS handshake.
    "files/zeek/client-certificate.pcap": {0: {"ca-list-empty"}},
    # POP3 STLS: the client answers the CertificateRequest with an empty Certificate.
    "files/zeek/pop3-starttls.pcap": {0: {"client-cert-not-sent", "ca-list-empty"}},
    # MySQL over TLS 1.1, empty client Certificate.
    "files/zeek/encrypted.pcap": {0: {"client-cert-not-sent", "ca-list-empty"}},
    # PostgreSQL on RDS: the CertificateRequest lists the RDS CA; the client sends nothing.
    "files/zeek/psql-aws-ssl-require.pcap": {0: {"client-cert-not-sent"}},
    # AMQPS: one CA listed, empty client Certificate.
    "files/wireshark-notes/amqps.pcapng": {0: {"client-cert-not-sent"}},
    # Successful mTLS with one listed CA that issued the client's certificate: nothing to report.
    "files/suricata-verify/tls-client-auth.pcap": {0: set()},
    "files/snet/mTLS1_2_RSA.pcap": {0: set()},
    "files/snet/mTLS1_2_ECDSA.pcap": {0: set()},
    "files/snet/mTLS1_2_DSA.pcap": {0: set()},
    "files/arkime/ssl-selfsign.pcap": {0: set()},
    # TLS 1.3 mTLS without keys: only that the handshake is encrypted.
    "files/snet/mTLS1_3_RSA.pcap": {0: {"handshake-encrypted"}},
    # FTP AUTH TLS with an empty client Certificate.
    "files/nDPI/ftp-start-tls.pcap": {0: {"client-cert-not-sent", "ca-list-empty"}},
}


@pytest.mark.parametrize("capture", sorted(EXPECTED))
def test_corpus_mtls_findings(capture):
    report = analyze_capture(str(CORPUS / capture))
    found = {c.id: {f.code for f in c.findings} for c in report.connections if c.id in EXPECTED[capture]}
    assert found == EXPECTED[capture]


def test_not_sent_finding_names_both_frames():
    report = analyze_capture(str(CORPUS / "files/zeek/pop3-starttls.pcap"))
    (f,) = [f for f in report.connections[0].findings if f.code == "client-cert-not-sent"]
    assert f.frames == (13, 15) and f.severity == "error"
    assert "frame 13" in f.message and "frame 15" in f.message
