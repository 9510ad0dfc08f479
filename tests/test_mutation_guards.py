"""Behaviours that a mutation run showed no test held: each test below fails when its behaviour is removed.

- the text report marks a certificate that is not yet valid at capture time;
- the walkthrough lists the CA names of every CertificateRequest, a renegotiation's second one too;
- with no ClientHello and no SYN seen, and no well-known port, the higher port is the client's;
- BoringSSL's TLS 1.3 experiments (0x7e01-0x7e03) are TLS 1.3;
- a record whose version says 3.4 is still read as a TLS record.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from connection_pieces import handshake_entry

from tlscap.analysis.builder import client_side_of
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CertificateRequestInfo, Connection, Endpoint
from tlscap.report.text_report import walkthrough
from tlscap.side import Side
from tlscap.tls.constants import HandshakeType, is_tls13
from tlscap.tls.records import Record, RecordReader, looks_like_record_start

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_text_marks_a_certificate_not_yet_valid() -> None:
    """samples/verdict/tls12-not-yet-valid.pcap: the client's certificate starts after the capture
    (samples/verdict/MANIFEST.tsv)."""
    report = analyze_capture(str(SAMPLES / "verdict" / "tls12-not-yet-valid.pcap"), AnalysisOptions())
    lines = walkthrough(report.connections[0])
    assert any("NOT YET VALID at capture time" in line for line in lines)
    assert not any("EXPIRED" in line for line in lines)


def _request(frame: int, names: tuple[str, ...]) -> CertificateRequestInfo:
    return CertificateRequestInfo(frame=frame, frames=(frame,), ca_names=names, ca_names_der=(),
                                  signature_algorithms=(), signature_algorithm_codes=(), certificate_types=(),
                                  certificate_type_codes=())


def test_walkthrough_lists_the_names_of_a_second_certificate_request() -> None:
    first, second = ("CN=First CA",), ("CN=Renegotiation CA A", "CN=Renegotiation CA B")
    conn = Connection(
        id=0, client=Endpoint(ip="10.0.0.1", port=50000), server=Endpoint(ip="10.0.0.2", port=443), first_frame=1,
        last_frame=20, first_time_ns=0, last_time_ns=0,
        handshake=[handshake_entry(4, "server", HandshakeType.CERTIFICATE_REQUEST),
                   handshake_entry(15, "server", HandshakeType.CERTIFICATE_REQUEST)],
        certificate_requests=[_request(4, first), _request(15, second)],
    )
    text = "\n".join(walkthrough(conn))
    assert "1 acceptable CA name:" in text and "2 acceptable CA names:" in text
    for name in (*first, *second):
        assert name in text


@pytest.mark.parametrize(("ports", "client_side"), [((50000, 40000), Side.FIRST), ((40000, 50000), Side.SECOND)])
def test_without_hello_or_syn_the_higher_port_is_the_client(ports: tuple[int, int], client_side: Side) -> None:
    tracker = SimpleNamespace(session=SimpleNamespace(client_side=None), syn_side=None,
                              endpoints={Side.FIRST: ("10.0.0.1", ports[0]), Side.SECOND: ("10.0.0.2", ports[1])})
    assert client_side_of(tracker) is client_side  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0x7E01, 0x7E02, 0x7E03])
def test_boringssl_experiments_are_tls13(version: int) -> None:
    assert is_tls13(version)


def test_record_version_3_4_is_a_record_and_3_5_is_not() -> None:
    """A handshake record (a ServerHelloDone) whose header says version 3.4 is read; 3.5 is no TLS."""
    def records(minor: int) -> list[object]:
        data = b"\x16\x03" + bytes([minor]) + b"\x00\x04" + b"\x0e\x00\x00\x00"
        return [e for e in RecordReader().feed(data, 1, 1) if isinstance(e, Record)]

    assert looks_like_record_start(b"\x16\x03\x04\x00\x04\x0e\x00\x00\x00", first=True)
    assert len(records(4)) == 1
    assert records(5) == []


@pytest.mark.parametrize("version", [0x0304, 0xFEFC, 0x7F1C, 0xFB1A, 0x7E02, 0x0303, 0x7E07, 0xFEFD])
def test_a_connection_and_the_parsers_agree_on_tls13(version: int) -> None:
    """One answer to "is this TLS 1.3?": the connection's, which the rules use, is the parsers' own."""
    conn = Connection(id=0, client=Endpoint(ip="10.0.0.1", port=50000), server=Endpoint(ip="10.0.0.2", port=443),
                      first_frame=1, last_frame=1, first_time_ns=0, last_time_ns=0, version_code=version)
    assert conn.tls13 == is_tls13(version) == (version in (0x0304, 0xFEFC, 0x7F1C, 0xFB1A, 0x7E02))


# --------------------------------------------------------------------------- survivors of tests/mutation_run.py


def test_the_text_report_counts_the_failing_connections() -> None:
    """samples/multi-connection.pcap: client-alice (ok), client-markw (expired), client-bob (unlisted CA), no
    certificate, as samples/README.md says it was made."""
    from tlscap.analysis.model import Report
    from tlscap.report.text_report import render_text

    report = Report(captures=[analyze_capture(str(SAMPLES / "multi-connection.pcap"))])
    assert "verdicts: 4 TLS connections, 1 ok, 3 failing or not visible" in render_text(report, show_all=True)


def test_the_html_report_says_when_a_connection_has_no_finding_and_names_each_certificate() -> None:
    from tlscap.analysis.model import Report
    from tlscap.report.html_report import render_html
    from tlscap.tls.keylog import load_keylog_file

    keylog = load_keylog_file(SAMPLES / "tls12-success.keylog")
    report = Report(captures=[analyze_capture(str(SAMPLES / "tls12-success.pcap"), AnalysisOptions(keylog=keylog))])
    page = render_html(report, show_all=True)
    assert "No findings." in page
    assert "<b>[0]</b> CN=client-alice,O=Capture Lab,C=US" in page  # the client's leaf (samples/pki)
    assert "(empty subject)" not in page


def test_a_malformed_client_hello_is_a_finding(tmp_path: Path) -> None:
    """A ClientHello whose body stops inside its random: the parser's error reaches the report."""
    import adversarial as A

    path = tmp_path / "malformed.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.handshake(1, b"\x03\x03" + b"\x11" * 10)))
        conv.close()
    (conn,) = analyze_capture(str(path)).connections
    (finding,) = [f for f in conn.findings if f.code == "malformed-message"]
    assert "ClientHello" in finding.message and "malformed" in finding.message


def test_an_sslv2_server_hello_is_a_record_start() -> None:
    """SSL 2.0 ServerHello (draft-hickman-netscape-ssl-00): 2-byte length with the high bit, type 4,
    session-id-hit 0 or 1, certificate type 1 (X.509)."""
    from tlscap.tls.records import looks_like_sslv2_hello

    hello = bytes([0x80, 11, 4, 0, 1]) + bytes(9)
    assert looks_like_sslv2_hello(hello)
    assert not looks_like_sslv2_hello(bytes([0x80, 11, 4, 2, 1]) + bytes(9))  # session-id-hit is 0 or 1
    assert not looks_like_sslv2_hello(bytes([0x80, 11, 4, 0, 2]) + bytes(9))  # certificate type must be X.509
    assert not looks_like_sslv2_hello(bytes([0x80, 10, 4, 0, 1]) + bytes(9))  # shorter than a ServerHello


@pytest.mark.parametrize(("code", "key_length"), [
    # RFC 6655 / 7251 / 8442 / 8492: the CCM_8 suites carry an 8-byte tag
    (0xC0A0, 16), (0xC0A2, 16), (0xC0A8, 16), (0xC0AA, 16), (0xC0AE, 16), (0xD003, 16),
    (0xC0A1, 32), (0xC0A3, 32), (0xC0A9, 32), (0xC0AB, 32), (0xC0AF, 32),
])
def test_ccm_8_suites_have_an_eight_byte_tag(code: int, key_length: int) -> None:
    from tlscap.tls.keyschedule import tls12_suite_params

    params = tls12_suite_params(code)
    assert params is not None and params.mode == "ccm"
    assert (params.key_length, params.tag_length) == (key_length, 8)


def test_tls13_record_sizes_apply_to_tls13_suites_only() -> None:
    """RFC 8446 B.4: 0x1302 hashes with SHA-384, 0x1305 (AES-128-CCM-8) has an 8-byte tag; a TLS 1.2 suite
    has no TLS 1.3 record sizes."""
    from tlscap.tls.record_sizes import sizes_for

    assert sizes_for(None) is None and sizes_for(0xC02F) is None
    s1301, s1302, s1305 = sizes_for(0x1301), sizes_for(0x1302), sizes_for(0x1305)
    assert s1301 is not None and (s1301.tag, s1301.hash) == (16, 32)
    assert s1302 is not None and (s1302.tag, s1302.hash) == (16, 48)
    assert s1305 is not None and (s1305.tag, s1305.hash) == (8, 32)


def _tls12_until_client_finished(conv) -> None:  # noqa: ANN001 - adversarial.Conversation
    import adversarial as A

    chain = A.make_chain(2)
    conv.open()
    conv.send(True, A.records(22, A.client_hello()))
    conv.send(False, A.records(22, A.server_hello() + A.certificate(chain[1:]) + A.certificate_request([])
                               + A.SERVER_HELLO_DONE))
    conv.send(True, A.records(22, A.certificate(chain) + A.client_key_exchange()) + A.CHANGE_CIPHER_SPEC
              + A.encrypted_finished())


def test_a_server_reset_after_the_clients_finished_is_its_refusal(tmp_path: Path) -> None:
    """TLS 1.2: the server answers the client's certificate and Finished with a reset, no Finished of its own:
    the verdict names the reset as the server's refusal."""
    import adversarial as A

    path = tmp_path / "reset.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        _tls12_until_client_finished(conv)
        reset = writer.write(conv._frame(False, A.RST | A.ACK))
    (conn,) = analyze_capture(str(path)).connections
    d = conn.diagnosis
    assert f"its reset (frame {reset})" in d.summary and reset in d.frames


def test_bytes_that_stop_looking_like_tls_after_the_handshake_are_not_capture_damage(tmp_path: Path) -> None:
    """A full TLS 1.2 handshake, then plaintext: what follows a finished handshake is not a damaged handshake."""
    import adversarial as A

    path = tmp_path / "after.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        _tls12_until_client_finished(conv)
        conv.send(False, A.CHANGE_CIPHER_SPEC + A.encrypted_finished())
        conv.send(True, b"GET / HTTP/1.1\r\nHost: plaintext.example\r\n\r\n")
        conv.close()
    (conn,) = analyze_capture(str(path)).connections
    assert conn.client_finished and conn.server_finished
    assert conn.damage == []
    assert not [f for f in conn.findings if f.code in ("capture-gap", "handshake-incomplete")]


def test_the_first_record_of_a_direction_is_judged_by_its_first_message_length() -> None:
    """Before any TLS is seen, a handshake record whose first 4 message bytes are in hand is judged by the
    message's length too: a ClientHello declaring 16 MiB is not TLS; with only the type in hand, the type
    decides."""
    from tlscap.tls.records import looks_like_record_start

    header = b"\x16\x03\x01\x00\x40"
    assert looks_like_record_start(header + b"\x01\x00\x00\x40", first=True)
    assert not looks_like_record_start(header + b"\x01\xff\xff\xff", first=True)
    assert looks_like_record_start(header + b"\x01\xff\xff", first=True)  # 3 bytes: the type alone decides
    assert not looks_like_record_start(header + b"\x63\x00\x00", first=True)


def test_a_draft_tls13_server_hello_with_the_special_random_is_a_hello_retry_request() -> None:
    """TLS 1.3 drafts up to 21 (0x7f15) lay the ServerHello out without session_id and compression; a
    HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3)."""
    import hashlib

    from tlscap.tls.messages import parse_server_hello

    special = hashlib.sha256(b"HelloRetryRequest").digest()
    for random, retry in ((special, True), (b"\x22" * 32, False)):
        body = b"\x7f\x15" + random + b"\x13\x01" + b"\x00\x00"
        assert parse_server_hello(body).is_hello_retry_request is retry


def test_the_ladder_draws_an_http_error_red_and_a_success_plain() -> None:
    """nginx answered the expired certificate with 400 and the valid one with 200 (samples/README.md)."""
    from tlscap.report.html_ladder import ladder_arrows
    from tlscap.tls.keylog import load_keylog_file

    kinds = {}
    for name in ("tls12-expired-client-cert", "tls12-success"):
        keylog = load_keylog_file(SAMPLES / f"{name}.keylog")
        (conn,) = analyze_capture(str(SAMPLES / f"{name}.pcap"), AnalysisOptions(keylog=keylog)).connections
        (http,) = [a for a in ladder_arrows(conn) if any(item.startswith("HTTP ") for item in a.items)]
        kinds[name] = http.kind
    assert kinds == {"tls12-expired-client-cert": "alert", "tls12-success": "plain"}


def test_an_sslv2_exchange_names_its_client_and_its_server_hello() -> None:
    """An SSL 2.0 ClientHello from one side, an SSL 2.0 ServerHello (message type 4) from the other: the
    session takes the first side for the client, the version from the ServerHello."""
    from tlscap.tls.events import HandshakeEvent
    from tlscap.tls.session import TlsSession

    challenge = b"\x33" * 16
    client_hello_body = b"\x01\x00\x02" + (3).to_bytes(2, "big") + b"\x00\x00" + (16).to_bytes(2, "big") \
        + b"\x01\x00\x80" + challenge
    client_hello = bytes([0x80 | (len(client_hello_body) >> 8), len(client_hello_body) & 0xFF]) + client_hello_body
    server_hello_body = b"\x04\x00\x01\x00\x02" + (0).to_bytes(2, "big") + (0).to_bytes(2, "big") \
        + (16).to_bytes(2, "big") + b"\x44" * 16
    server_hello = bytes([0x80 | (len(server_hello_body) >> 8), len(server_hello_body) & 0xFF]) + server_hello_body
    session = TlsSession()
    session.feed(Side.SECOND, client_hello, 4, 4)
    session.feed(Side.FIRST, server_hello, 5, 5)
    names = [(e.side, e.name) for e in session.events if isinstance(e, HandshakeEvent)]
    assert names == [(Side.SECOND, "ClientHello"), (Side.FIRST, "ServerHello")]
    assert session.client_side is Side.SECOND and session.version == 0x0002


def test_a_syn_ack_without_its_syn_names_the_server(tmp_path: Path) -> None:
    """A capture that starts at the server's SYN/ACK (the SYN lost), then data both ways and no hello: the
    SYN/ACK's sender is the server, whatever the ports."""
    import adversarial as A

    path = tmp_path / "synack.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer, client=("10.0.0.1", 50000), server=("10.0.0.2", 40000))
        writer.write(conv._frame(False, A.SYN | A.ACK))
        conv.seq[False] += 1
        conv.seq[True] += 1
        conv.send(True, A.records(23, b"\x17" * 40))
        conv.send(False, A.records(23, b"\x18" * 40))
        conv.close()
    (conn,) = analyze_capture(str(path)).connections
    assert (conn.client.ip, conn.client.port) == ("10.0.0.1", 50000)


def _hello_and_server_flight(conv) -> None:  # noqa: ANN001 - adversarial.Conversation
    import adversarial as A

    chain = A.make_chain(2)
    conv.open()
    conv.send(True, A.records(22, A.client_hello()))
    conv.send(False, A.records(22, A.server_hello() + A.certificate(chain[1:]) + A.certificate_request([])
                               + A.SERVER_HELLO_DONE))


@pytest.mark.parametrize("closer", ["client", "server"])
def test_a_client_that_closes_after_the_servers_flight_gave_up(tmp_path: Path, closer: str) -> None:
    """After the server's flight, a FIN with no alert: from the client it gave up on the handshake; from the
    server it is not the client giving up."""
    import adversarial as A

    path = tmp_path / "gave-up.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        _hello_and_server_flight(conv)
        fin = writer.write(conv._frame(closer == "client", A.FIN | A.ACK))
    (conn,) = analyze_capture(str(path)).connections
    d = conn.diagnosis
    gave_up = f"The client closed the connection (FIN, frame {fin})"
    if closer == "client":
        assert (d.cause, d.certainty) == ("handshake-failed", "likely") and gave_up in d.summary
    else:
        assert gave_up not in d.summary and "client closed" not in d.summary


def test_a_retired_conversation_keeps_its_state_whatever_its_timestamp() -> None:
    """A conversation retired at a capture time far outside any real clock (a damaged pcapng timestamp) is
    unpacked with its stream and state intact."""
    from tlscap.tcp.streams import Conversation, StreamTable

    table: StreamTable[str] = StreamTable()
    key = ((), ("10.0.0.1", 40000), ("10.0.0.2", 443))
    for time_ns in (1 << 80, -(1 << 80), 0, 1_700_000_000_123_456_789):
        conv = Conversation(stream=7, first_base=100, second_base=None, state="closed", key=key)
        conv.quiet_since, conv.quiet_frame = time_ns, 12
        back = table._unpack(key, table._pack(conv))
        assert (back.stream, back.first_base, back.second_base, back.state) == (7, 100, None, "closed")


def test_the_ladder_names_the_truststore_cas_the_server_did_not_advertise() -> None:
    """samples/stale-truststore: nginx loaded bundle-A (Capture Lab Root CA); bundle-AB, which adds the
    Partner Root CA, was the configured file (samples/README.md)."""
    from tlscap.pki.truststore import load_truststore
    from tlscap.report.html_ladder import ladder_arrows

    folder = SAMPLES / "stale-truststore"
    options = AnalysisOptions(truststore=load_truststore([str(folder / "bundle-AB.pem")]))
    (conn,) = analyze_capture(str(folder / "stale-truststore.pcap"), options).connections
    hover = "\n".join(line for arrow in ladder_arrows(conn) for line in arrow.details)
    assert "in the truststore but not advertised" in hover
    missing = hover.split("in the truststore but not advertised")[1]
    assert "CN=Partner Root CA" in missing and "Capture Lab Root CA" not in missing


@pytest.mark.parametrize(("code", "key_length"), [
    # RFC 6655 / 7251 / 8442 / 8492: AES-CCM with the full 16-byte tag
    (0xC09C, 16), (0xC09E, 16), (0xC0A4, 16), (0xC0A6, 16), (0xC0AC, 16), (0xC0B2, 16), (0xD005, 16),
    (0xC09D, 32), (0xC09F, 32), (0xC0A5, 32), (0xC0A7, 32), (0xC0AD, 32),
])
def test_ccm_suites_have_a_sixteen_byte_tag(code: int, key_length: int) -> None:
    from tlscap.tls.keyschedule import tls12_suite_params

    params = tls12_suite_params(code)
    assert params is not None and params.mode == "ccm"
    assert (params.key_length, params.tag_length) == (key_length, 16)


def test_the_text_report_says_when_every_failing_connection_met_a_stale_ca_list() -> None:
    """samples/stale-truststore with the configured bundle-AB: its one failing connection met a server
    whose advertised list lacks the Partner Root CA (samples/README.md)."""
    from tlscap.analysis.model import Report
    from tlscap.pki.truststore import load_truststore
    from tlscap.report.text_report import render_text

    folder = SAMPLES / "stale-truststore"
    options = AnalysisOptions(truststore=load_truststore([str(folder / "bundle-AB.pem")]))
    report = Report(captures=[analyze_capture(str(folder / "stale-truststore.pcap"), options)])
    text = " ".join(render_text(report, show_all=True).split())
    assert "Every failing connection (1) met a server whose advertised CA list lacks CAs" in text


def test_tls_rsa_with_null_md5_has_no_cipher_and_an_md5_mac() -> None:
    """RFC 5246 A.5: TLS_RSA_WITH_NULL_MD5 = {0x00, 0x01}."""
    from tlscap.tls.keyschedule import tls12_suite_params

    params = tls12_suite_params(0x0001)
    assert params is not None
    assert (params.code, params.cipher, params.key_length, params.mac) == (0x0001, "null", 0, "md5")


@pytest.mark.parametrize("code", [0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF, 0xC072, 0xC074, 0xC076, 0xC078])
def test_camellia_128_cbc_sha256_suites(code: int) -> None:
    """RFC 5932 (0x00BA-0x00BF) and RFC 6367 (0xC072, 0xC074, 0xC076, 0xC078): *_WITH_CAMELLIA_128_CBC_SHA256."""
    from tlscap.tls.keyschedule import tls12_suite_params

    params = tls12_suite_params(code)
    assert params is not None
    assert (params.code, params.mode, params.cipher, params.key_length, params.mac) == (code, "cbc", "camellia", 16,
                                                                                          "sha256")


def test_markdown_lists_capture_errors_only_when_there_are_some(tmp_path: Path) -> None:
    """A capture cut in the middle of a record has a truncated-file error; the whole one has none."""
    from tlscap.analysis.model import Report
    from tlscap.report.markdown_report import render_markdown

    whole = SAMPLES / "tls12-unlisted-ca.pcap"
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:3000])
    with_error = render_markdown(Report(captures=[analyze_capture(str(cut))]), show_all=True)
    clean = render_markdown(Report(captures=[analyze_capture(str(whole))]), show_all=True)
    assert "## Capture errors" in with_error and "`truncated-file`" in with_error
    assert "## Capture errors" not in clean
