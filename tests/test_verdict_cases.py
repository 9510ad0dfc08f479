"""Cases where a finding used to mislead, each checked on a real capture or one built by the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import Report
from tlscap.pki.truststore import load_truststore
from tlscap.report.html_ladder import ladder_arrows
from tlscap.report.html_report import render_html
from tlscap.tls.keylog import load_keylog_file, parse_keylog

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
VERDICT = SAMPLES / "verdict"


def test_a_capture_cut_mid_file_blames_the_file_not_the_routing(tmp_path):
    data = (SAMPLES / "tls12-unlisted-ca.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:3000])  # inside record 8, the client's Certificate flight
    report = analyze_capture(str(cut))
    assert [e.code for e in report.errors] == ["truncated-file"]
    (conn,) = report.connections
    (incomplete,) = [f for f in conn.findings if f.code == "handshake-incomplete"]
    assert "capture file stops in the middle" in incomplete.message and "routing" not in incomplete.message
    d = conn.diagnosis
    assert (d.cause, d.side, d.certainty) == ("capture-incomplete", "capture", "certain")
    assert "truncated-file" in d.summary and d.frames == (6,)  # the last frame with a handshake message


def test_decryption_failed_names_the_client_hello_not_the_syn():
    # The key log has this connection's application secrets but not its handshake secrets: a secret
    # exists and cannot open the handshake.
    lines = (SAMPLES / "tls13-expired-client-cert.keylog").read_text().splitlines()
    partial = parse_keylog("\n".join(line for line in lines if "HANDSHAKE" not in line) + "\n")
    (conn,) = analyze_capture(str(SAMPLES / "tls13-expired-client-cert.pcap"),
                              AnalysisOptions(keylog=partial)).connections
    (f,) = [f for f in conn.findings if f.code == "decryption-failed"]
    assert f.frames == (4,)  # tshark: frame 4 is the ClientHello, frame 1 the SYN


def test_harmless_alerts_are_not_drawn_as_failures():
    """close_notify after the data, and TLS 1.2 encrypted alerts that end a successful exchange, are plain
    arrows; a fatal alert is red."""
    (ok,) = analyze_capture(str(SAMPLES / "tls12-success.pcap"),
                            AnalysisOptions(keylog=load_keylog_file(SAMPLES / "tls12-success.keylog"))).connections
    assert [a.kind for a in ladder_arrows(ok) if any("Alert" in t for t in a.items)] == ["plain"]
    (enc,) = analyze_capture(str(SAMPLES / "tls12-success.pcap")).connections
    assert [a.kind for a in ladder_arrows(enc) if any("Alert" in t for t in a.items)] == ["plain"]
    (fatal,) = analyze_capture(str(SAMPLES / "tls12-alert-unlisted-ca.pcap")).connections
    assert [a.kind for a in ladder_arrows(fatal) if any("Alert" in t for t in a.items)] == ["alert"]
    page = render_html(Report(captures=[analyze_capture(str(SAMPLES / "tls12-alert-unlisted-ca.pcap"))]))
    assert "verdict: <code>client-cert-wrong-ca</code>" in page and "tcp.stream == 0" in page


def test_foreign_ca_with_a_roots_only_truststore_is_not_told_to_send_an_intermediate():
    store = load_truststore([str(SAMPLES / "pki" / "trust-root-only.pem")])
    (conn,) = analyze_capture(str(SAMPLES / "tls12-unlisted-ca.pcap"), AnalysisOptions(truststore=store)).connections
    untrusted = next(f for f in conn.findings if f.code == "client-cert-untrusted")
    assert "must send" not in untrusted.message and "intermediate" not in untrusted.fix
    assert conn.diagnosis.cause == "client-cert-wrong-ca"


def test_configured_truststore_puts_the_reload_first():
    store = load_truststore([str(VERDICT / "pki" / "trust-g1-g2.pem")])
    (conn,) = analyze_capture(str(VERDICT / "tls12-stale-truststore.pcap"),
                              AnalysisOptions(truststore=store)).connections
    assert conn.diagnosis.cause == "server-ca-not-loaded" and conn.diagnosis.certainty == "certain"
    first = conn.findings[0]
    assert first.code == "client-cert-issuer-not-requested" and "reload" in first.fix
    assert "send the intermediate" not in first.fix


def test_scan_causes_table_counts_each_connection_once(tmp_path):
    """The text report of a scan opens with the causes table; its connections add up to the failing
    connections, and symptoms (nginx's 400, alerts) are not causes."""
    out = subprocess.run([sys.executable, "-m", "tlscap", "scan", str(SAMPLES / "multi-connection.pcap"),
                          "--keylog", str(SAMPLES / "multi-connection.keylog"), "--format", "text", "--quiet",
                          "--fail-on", "never"], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    assert out.startswith("verdicts: 4 TLS connections, 1 ok, 3 failing or not visible\n")
    table = out.split("causes (each failing connection counted once, under its verdict)\n")[1].split("\n\n")[0]
    rows = table.splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["client-cert-expired", "client-cert-not-sent", "client-cert-wrong-ca"]
    assert sum(int(r.split()[3]) for r in rows) == 3
    # One client address, one server, one capture; each cause's client sent one certificate (or none).
    assert [r.split()[4:8] for r in rows] == [["1", "1", "1", "1"]] * 3
    assert "http-error-after-handshake" not in table and "handshake-alert" not in table


def test_an_empty_ca_list_is_not_said_to_be_reached(tmp_path):
    """A CertificateRequest naming no CA (the server takes any CA it trusts): an established connection is
    not described as reaching 'a listed CA'."""
    import adversarial as A

    chain = A.make_chain(2)
    path = tmp_path / "no-names.pcap"
    with A.PcapWriter(path) as writer:
        A.mtls12_handshake(A.Conversation(writer), server_chain=chain[1:], ca_names=[], client_chain=chain)
    (conn,) = analyze_capture(str(path)).connections
    assert conn.certificate_request is not None and conn.certificate_request.ca_names == ()
    d = conn.diagnosis
    assert (d.cause, d.certainty) == ("ok", "likely")
    assert "listed CA" not in d.summary and "without naming any CA" in d.summary


def test_a_decrypted_dtls_connection_is_not_told_to_get_a_key_log():
    """DTLS 1.2 between openssl s_server -Verify and s_client, with the client's key log: the key log was
    given and there is no HTTP answer to read; what is left to settle is the server's own view."""
    keylog = load_keylog_file(SAMPLES / "dtls" / "dtls12-success.keylog")
    (conn,) = analyze_capture(str(SAMPLES / "dtls" / "dtls12-success.pcap"), AnalysisOptions(keylog=keylog)).connections
    assert conn.decrypted and conn.dtls
    d = conn.diagnosis
    assert (d.cause, d.certainty) == ("ok", "likely")
    assert d.decide_with is not None and "--keylog" not in d.decide_with and "server's own log" in d.decide_with
