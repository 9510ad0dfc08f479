"""With its key log, every TLS 1.3 sample yields the findings of its TLS 1.2 twin, plus the HTTP status."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.tls.keylog import load_keylog_file, parse_keylog

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TWINS = sorted(p.name.removeprefix("tls13-") for p in SAMPLES.glob("tls13-*.pcap")
               if (SAMPLES / p.name.replace("tls13-", "tls12-", 1)).exists())


def with_keylog(name: str, keylog):
    (conn,) = analyze_capture(str(SAMPLES / name), AnalysisOptions(keylog=keylog)).connections
    return conn


def analyzed(name: str, *, keys: bool = True):
    path = SAMPLES / name
    keylog = load_keylog_file(path.with_suffix(".keylog")) if keys else None
    (conn,) = analyze_capture(str(path), AnalysisOptions(keylog=keylog)).connections
    return conn


def cause_codes(conn) -> set[str]:
    return {f.code for f in conn.findings if f.code != "http-error-after-handshake"}


@pytest.mark.parametrize("scenario", TWINS)
def test_tls13_with_keys_matches_its_tls12_twin(scenario):
    tls13 = analyzed("tls13-" + scenario)
    tls12 = analyzed("tls12-" + scenario)
    assert tls13.decrypted and tls13.version == "TLS 1.3"
    assert cause_codes(tls13) == cause_codes(tls12)
    assert "handshake-encrypted" not in cause_codes(tls13)
    assert tls13.certificate_request is not None and tls13.client_certificate is not None
    assert tls13.certificate_request.ca_names == tls12.certificate_request.ca_names
    if tls12.http is not None:
        assert tls13.http is not None and tls13.http.status == tls12.http.status
        assert tls13.http.title == tls12.http.title


@pytest.mark.parametrize("scenario", ["expired-client-cert", "unlisted-ca", "missing-intermediate", "no-client-cert"])
def test_nginx_400_page_is_quoted(scenario):
    conn = analyzed(f"tls13-{scenario}.pcap")
    (f,) = [f for f in conn.findings if f.code == "http-error-after-handshake"]
    assert conn.http.status == 400 and f.frames == (conn.http.frame,)
    assert "400" in f.message and ("The SSL certificate error" in f.message or "No required SSL" in f.message)


def test_decrypted_alert_replaces_encrypted_alert():
    conn = analyzed("tls13-alert-unlisted-ca.pcap")
    (alert,) = [a for a in conn.alerts if a.description != "close_notify"]
    assert (alert.sender, alert.level, alert.description, alert.encrypted) == ("server", "fatal", "unknown_ca", False)
    assert "encrypted-alert" not in {f.code for f in conn.findings}
    assert conn.outcome == "failed"


def test_dsb_sample_needs_no_keylog():
    (conn,) = analyze_capture(str(SAMPLES / "tls13-expired-client-cert-dsb.pcapng")).connections
    assert conn.decrypted and conn.http is not None and conn.http.status == 400
    assert {f.code for f in conn.findings} == {"client-cert-expired", "http-error-after-handshake"}


def test_without_keys_nothing_changes():
    assert not analyzed("tls13-expired-client-cert.pcap", keys=False).decrypted


def test_key_log_for_other_connections_is_no_warning():
    """A key log that has no secret for this connection (one key log given for many captures) is not a
    failure: no decryption-failed; the capture's line on stderr counts what it covered."""
    other = load_keylog_file(SAMPLES / "tls13-success.keylog")
    conn = with_keylog("tls13-expired-client-cert.pcap", other)
    assert not conn.decrypted and conn.key_problem is None
    codes = {f.code for f in conn.findings}
    # what the record sizes say stands: nginx answered curl (ALPN http/1.1) and closed first
    assert codes == {"handshake-encrypted", "inferred-rejection"}


def test_wrong_key_is_reported_once_and_plaintext_analysis_unchanged():
    good = (SAMPLES / "tls12-expired-client-cert.keylog").read_text()
    random_hex = good.split()[1]
    wrong = parse_keylog(f"CLIENT_RANDOM {random_hex} {'11' * 48}\n")
    plain = analyzed("tls12-expired-client-cert.pcap", keys=False)
    conn = with_keylog("tls12-expired-client-cert.pcap", wrong)
    assert not conn.decrypted
    assert [f.code for f in conn.findings if f.code == "decryption-failed"] == ["decryption-failed"]
    assert {f.code for f in conn.findings} - {"decryption-failed"} == {f.code for f in plain.findings}
    assert [(a.frame, a.encrypted) for a in conn.alerts] == [(a.frame, a.encrypted) for a in plain.alerts]


def test_truncated_key_log_is_reported_and_plaintext_analysis_unchanged(tmp_path):
    text = (SAMPLES / "tls13-expired-client-cert.keylog").read_text()
    cut = tmp_path / "cut.keylog"
    cut.write_text(text[: len(text) // 2])
    keylog = load_keylog_file(cut)
    assert keylog.bad_lines == 1 and "secret is" in str(keylog.bad_examples[0])
    conn = with_keylog("tls13-expired-client-cert.pcap", keylog)
    plain = analyzed("tls13-expired-client-cert.pcap", keys=False)
    (f,) = [f for f in conn.findings if f.code == "decryption-failed"]
    assert "lacks" in f.message
    assert [h.message for h in conn.handshake] == [h.message for h in plain.handshake]
    assert {f.code for f in conn.findings} - {"decryption-failed"} == {f.code for f in plain.findings}


def test_renegotiation_with_client_certificate_is_read_with_keys():
    conn = analyzed("tls12-renegotiation-client-cert.pcap")
    assert [h.message for h in conn.handshake].count("ClientHello") == 2
    assert conn.certificate_request.frame == 15 and conn.client_certificate.frame == 16
    assert {f.code for f in conn.findings} == {"client-cert-expired"}


def test_renegotiation_without_keys_shows_only_encrypted_records():
    conn = analyzed("tls12-renegotiation-client-cert.pcap", keys=False)
    assert conn.certificate_request is None and conn.client_certificate is None
    assert any(h.message == "EncryptedHandshakeMessage" for h in conn.handshake)


def test_tls13_post_handshake_authentication_is_judged():
    conn = analyzed("tls13-post-handshake-auth.pcap")
    assert conn.decrypted
    assert conn.certificate_request.frame == 13 and conn.client_certificate.frame == 14
    assert "NewSessionTicket" in [h.message for h in conn.handshake]
    assert {f.code for f in conn.findings} == {"client-cert-expired"}
