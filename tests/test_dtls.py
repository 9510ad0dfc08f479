"""DTLS over UDP: records, reassembly, flows, and the diagnosis on captures written here (their expected
values come from how they were made)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import adversarial as A
import dtls_pieces as D
import pki_factory as P
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlscap import limits
from tlscap.analysis.engine import analyze_capture
from tlscap.dtls.reassembly import HandshakeReassembler, Incomplete, Message, Retransmission
from tlscap.dtls.records import classify, split_datagram, starts_dtls
from tlscap.dtls.session import DtlsSession
from tlscap.report.json_report import connection_dict
from tlscap.report.text_report import connection_title
from tlscap.side import Side

# --------------------------------------------------------------------------- records


def test_several_records_in_one_datagram_keep_epoch_and_sequence():
    payload = D.record(22, b"a" * 5, sequence=7) + D.record(20, b"\x01", sequence=8) + D.record(
        22, b"b" * 9, epoch=1, sequence=0)
    datagram = split_datagram(payload)
    assert datagram.stopped is None
    assert [(r.content_type, r.epoch, r.sequence, r.length) for r in datagram.records] == [
        (22, 0, 7, 5), (20, 0, 8, 1), (22, 1, 0, 9)]
    assert [r.protected for r in datagram.records] == [False, False, True]


def test_dtls13_unified_header_with_a_connection_id_is_read_as_a_header_only():
    cid = b"\xaa\xbb\xcc\xdd"
    # 0b001 C=1 S=1 L=1 EE=10: connection ID, 16-bit sequence, length, epoch 2
    unified = bytes([0b00111110]) + cid + A.u16(0x1234) + A.u16(5) + b"\x99" * 5
    second = bytes([0b00100111]) + b"\x01" + A.u16(3) + b"xyz"  # no CID, 8-bit sequence, length, epoch 3
    records = split_datagram(unified, cid_length=4).records
    assert (records[0].unified, records[0].connection_id, records[0].sequence, records[0].epoch,
            records[0].length) == (True, cid, 0x1234, 2, 5)
    assert records[0].content_type is None and records[0].protected
    guessed = split_datagram(unified + second).records  # the connection ID's length guessed from the lengths
    assert [r.connection_id for r in guessed] == [cid, None]


def test_capwap_header_and_rfc7983_first_bytes():
    hello = D.record(22, D.fragments(D.client_hello(), 0)[0])
    assert starts_dtls(hello) and starts_dtls(b"\x01\x00\x00\x00" + hello)  # CAPWAP's DTLS header (RFC 5415)
    assert split_datagram(b"\x01\x00\x00\x00" + hello).capwap
    assert classify(b"\x00\x01") == "stun" and classify(b"\x80") == "rtp" and classify(hello) == "dtls"
    assert not starts_dtls(b"\x00\x01\x00\x08" + b"\x21\x12\xa4\x42" + b"\0" * 12)  # a STUN binding request
    assert not starts_dtls(hello[:-1])  # the record claims more than the datagram holds


def test_random_bytes_never_raise():
    rng = random.Random(20)
    seed = D.record(22, D.fragments(D.client_hello(), 0)[0]) + D.record(21, b"\x02\x28", epoch=0)
    for _ in range(3000):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randint(0, len(data))]
        session = DtlsSession()
        session.feed_datagram(Side.FIRST, bytes(data), 1)
        session.finish()


# --------------------------------------------------------------------------- reassembly


def test_fragments_out_of_order_complete_at_the_last_frame():
    message = A.certificate([b"\x30" * 900])
    parts = D.fragments(message, 2, size=300)
    r = HandshakeReassembler()
    assert r.feed(parts[2], 10) == [] and r.feed(parts[0], 11) == []
    (done,) = [e for p, f in zip(parts[1:2] + parts[3:], (12, 13), strict=False) for e in r.feed(p, f)]
    assert isinstance(done, Message) and done.frame == 13 and done.frames == (10, 11, 12, 13)
    assert done.body == message[4:] and done.message_seq == 2


def test_a_retransmitted_message_is_listed_not_parsed_again():
    hello = D.fragments(D.client_hello(), 0)[0]
    r = HandshakeReassembler()
    assert isinstance(r.feed(hello, 1)[0], Message)
    (again,) = r.feed(hello, 4)
    assert isinstance(again, Retransmission) and (again.frame, again.first_frame) == (4, 1)


def test_a_lost_fragment_is_incomplete_at_the_end():
    parts = D.fragments(A.certificate([b"\x30" * 500]), 1, size=200)
    r = HandshakeReassembler()
    r.feed(parts[0], 5)
    r.feed(parts[2], 7)
    (gap,) = r.finish()
    assert isinstance(gap, Incomplete) and gap.frames == (5, 7) and "bytes 200-399" in gap.detail


def test_fragmented_messages_past_the_limit_are_not_held(monkeypatch):
    monkeypatch.setattr(limits, "MAX_DTLS_PENDING_MESSAGES", 2)
    r = HandshakeReassembler()
    events = [e for seq in range(4) for e in r.feed(D.fragments(A.certificate([b"\x30" * 100]), seq, 50)[0], seq)]
    assert [type(e).__name__ for e in events] == ["Incomplete", "Incomplete"]


# --------------------------------------------------------------------------- whole captures

def _pki(expired: bool):
    root = P.issue(P.name("DTLS Lab Root CA"), ca=True)
    server = P.issue(P.name("dtls-server"), root)
    client = P.issue(P.name("device-17"), root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
                     key_usage={"digital_signature": True},
                     not_before=datetime(2020, 1, 1, tzinfo=UTC),
                     not_after=(datetime(2021, 1, 1, tzinfo=UTC) if expired else datetime(2099, 1, 1, tzinfo=UTC)))
    return root, server, client


def _der(issued) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return issued.cert.public_bytes(Encoding.DER)


def write_mutual_dtls(path, *, expired: bool = False, resend_server_flight: bool = False,
                      lose_client_fragment: bool = False) -> dict:
    """A DTLS 1.2 mutual-auth handshake: a DNS query first (udp.stream 0), then on the DTLS flow (udp.stream
    1) a STUN request, the ClientHello, HelloVerifyRequest, the second ClientHello, the server's flight with
    a CertificateRequest (its Certificate in 300-byte fragments), the client's flight."""
    root, server, client = _pki(expired)
    frames: dict = {}
    with A.PcapWriter(path) as writer:
        writer.write(D.udp_frame("10.0.0.1", "10.0.0.53", 53001, 53, b"\x12\x34\x01\x00" + b"\0" * 8))
        flow = D.Flow(writer)
        flow.datagram(True, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x07" * 12)  # STUN binding request
        frames["hello"] = flow.flight(True, [D.client_hello()])[0][0]
        frames["hvr"] = flow.flight(False, [D.hello_verify_request()])[0][0]
        flow.message_seq[False] = 1  # RFC 6347: the server's ServerHello is message_seq 1 after a HelloVerifyRequest
        frames["hello2"] = flow.flight(True, [D.client_hello(cookie=b"\xc0" * 20)])[0][0]
        server_frames, server_datagrams = flow.flight(
            False, [D.server_hello(), A.certificate([_der(server), _der(root)]),
                    A.certificate_request([P.name_der(root.cert.subject)]), A.SERVER_HELLO_DONE],
            size=300, per_datagram=700)
        frames["server_flight"] = server_frames
        if resend_server_flight:
            frames["resent"] = [flow.datagram(False, d) for d in server_datagrams]
        client_frames, client_datagrams = flow.flight(
            True, [A.certificate([_der(client)]), A.client_key_exchange(), A.handshake(15, b"\x01" * 72)],
            size=200, per_datagram=250)
        frames["client_flight"] = client_frames
        if lose_client_fragment:
            frames["lost"] = client_frames[1]
        frames["client_finished"] = flow.change_cipher_spec_and_finished(True)
        frames["server_finished"] = flow.change_cipher_spec_and_finished(False)
    if lose_client_fragment:
        _drop_frame(path, frames["lost"])
        frames = {k: (_renumber(v, frames["lost"])) for k, v in frames.items()}
    return frames


def _drop_frame(path, number: int) -> None:
    """Rewrite the pcap without frame `number` (the capture lost it)."""
    import struct
    data = path.read_bytes()
    out, pos, n = bytearray(data[:24]), 24, 0
    while pos < len(data):
        length = struct.unpack_from("<I", data, pos + 8)[0]
        n += 1
        if n != number:
            out += data[pos : pos + 16 + length]
        pos += 16 + length
    path.write_bytes(bytes(out))


def _renumber(value, lost: int):
    if isinstance(value, list):
        return [_renumber(v, lost) for v in value if v != lost]
    return value - 1 if value > lost else value


def _only_dtls(path):
    report = analyze_capture(str(path))
    (conn,) = [c for c in report.connections if c.transport == "udp"]
    return report, conn


def test_mutual_dtls_with_an_expired_client_certificate(tmp_path):
    path = tmp_path / "dtls-expired.pcap"
    frames = write_mutual_dtls(path, expired=True)
    report, conn = _only_dtls(path)
    assert conn.id == 1  # udp.stream: the DNS query's flow came first
    assert conn.version == "DTLS 1.2" and conn.client.port == 50000 and conn.outcome == "established"
    names = [(h.frame, h.sender, h.message) for h in conn.handshake]
    assert (frames["hello"], "client", "ClientHello") in names
    assert (frames["hvr"], "server", "HelloVerifyRequest") in names
    assert (frames["hello2"], "client", "ClientHello") in names
    (cr,) = conn.certificate_requests
    assert cr.ca_names == ("CN=DTLS Lab Root CA,O=Test Lab,C=US",)
    (sent,) = conn.client_certificates
    assert sent.chain[0].subject_rfc4514 == "CN=device-17,O=Test Lab,C=US"
    assert sent.frame == frames["client_flight"][-1] or sent.frame in frames["client_flight"]
    assert conn.diagnosis is not None and conn.diagnosis.cause == "client-cert-expired"
    assert conn.diagnosis.side == "client"
    data = connection_dict(conn)
    assert data["transport"] == "udp" and data["wireshark_filter"] == "udp.stream == 1"
    assert "DTLS 1.2 over UDP" in connection_title(conn)


def test_mutual_dtls_that_works_is_ok(tmp_path):
    path = tmp_path / "dtls-ok.pcap"
    write_mutual_dtls(path)
    _, conn = _only_dtls(path)
    assert conn.diagnosis is not None and conn.diagnosis.cause == "ok"


def test_a_resent_flight_is_listed_at_its_frames_and_read_once(tmp_path):
    path = tmp_path / "dtls-resent.pcap"
    frames = write_mutual_dtls(path, resend_server_flight=True)
    _, conn = _only_dtls(path)
    again = [h for h in conn.handshake if h.retransmission]
    assert {h.frame for h in again} <= set(frames["resent"]) and len(again) == 4
    assert {h.message for h in again} == {"ServerHello", "Certificate", "CertificateRequest", "ServerHelloDone"}
    assert len(conn.server_certificates) == 1 and len(conn.certificate_requests) == 1
    entry = next(h for h in connection_dict(conn)["handshake"] if h.get("retransmission"))
    assert entry["message"] in {"ServerHello", "Certificate", "CertificateRequest", "ServerHelloDone"}


def test_a_lost_fragment_is_a_capture_gap_not_a_crash(tmp_path):
    path = tmp_path / "dtls-lost.pcap"
    write_mutual_dtls(path, lose_client_fragment=True)
    _, conn = _only_dtls(path)
    assert "capture-gap" in [f.code for f in conn.findings]
    assert not conn.client_certificates


@pytest.mark.parametrize("expired", [False, True])
def test_json_report_of_a_dtls_capture(tmp_path, expired):
    path = tmp_path / "d.pcap"
    write_mutual_dtls(path, expired=expired)
    report, conn = _only_dtls(path)
    text = json.dumps(connection_dict(conn))
    assert '"transport": "udp"' in text



def test_a_known_connection_id_longer_than_the_datagram_stops_reading():
    # Found by tests/test_fuzz_dtls.py: the length field was read past the datagram's end.
    payload = D.record(25, b"")[:11] + b"\xcc" * 3
    datagram = split_datagram(payload, cid_length=30)
    assert datagram.records == () and "cut short" in (datagram.stopped or "")
