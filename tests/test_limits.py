"""Every limit of tlscap.limits, lowered to a small value, hit with bytes made here, and what the user sees.

Each test lowers its limit with monkeypatch and builds the input that crosses it, so code that kept its own
copy of a limit (instead of reading `limits.NAME` when it runs) fails here. `LIMIT_TESTS`, at the end,
names the test of every constant in limits.py; `test_every_limit_has_a_test` fails when one is added
without a test.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import ipaddress
import json
import struct
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import adversarial as A
import dtls_pieces as D
import pki_factory as P
import pytest
from helpers_capture import epb, idb, pcap_file, shb

from tlscap import limits
from tlscap.analysis import engine
from tlscap.analysis.collector import ConnectionCollector
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.http import parse_http_response
from tlscap.analysis.issuer import INCOMPLETE, assess_unlisted
from tlscap.analysis.model import CaptureReport
from tlscap.capture.frame import Frame
from tlscap.capture.reader import open_capture
from tlscap.cli import main
from tlscap.cli_options import load_keylogs
from tlscap.cli_server_log import load_server_log, server_log_note
from tlscap.decode.decoder import Decoder
from tlscap.decode.ip import FragmentReassembler
from tlscap.decode.segment import ACK, SYN, Segment
from tlscap.dtls.reassembly import HandshakeReassembler, Incomplete, Message, Retransmission
from tlscap.pki.truststore import Truststore, TruststoreError, load_truststore
from tlscap.pki.verify import verify_chain
from tlscap.report.text_report import walkthrough
from tlscap.scan.together import CaPool
from tlscap.tcp.streams import StreamTable
from tlscap.tls import messages as M
from tlscap.tls.handshake import HandshakeReader
from tlscap.tls.keylog import load_keylog_file
from tlscap.tls.openvpn import OpenVpnChannel, OpenVpnReader
from tlscap.tls.records import Record

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _only(report: CaptureReport):
    assert len(report.connections) == 1, [c.id for c in report.connections]
    return report.connections[0]


def _codes(conn) -> list[str]:
    return [f.code for f in conn.findings]


def _finding(conn, code: str):
    found = [f for f in conn.findings if f.code == code]
    assert len(found) == 1, conn.findings
    return found[0]


def _server_flight(tmp_path: Path, flight: bytes) -> Path:
    """A connection: the client's ClientHello, then `flight` from the server, then the close."""
    path = tmp_path / "flight.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, flight)
        conv.close()
    return path


def test_the_limits_module_documents_every_constant():
    doc = limits.__doc__ or ""
    missing = [name for name in _constants() if f"`{name}`" not in doc]
    assert missing == [], f"limits without an entry in tlscap/limits.py's docstring: {missing}"


# --------------------------------------------------------------------------- TLS records and messages


def test_record_length(tmp_path, monkeypatch):
    """A record header claiming more than MAX_RECORD_LENGTH is not TLS: in a handshake, a capture-gap
    finding quoting the header. A record of exactly the limit is read."""
    monkeypatch.setattr(limits, "MAX_RECORD_LENGTH", 100)
    hello = A.server_hello()
    at_limit = A.records(22, hello + A.handshake(22, b"\0" * (100 - len(hello) - 4)))
    conn = _only(analyze_capture(str(_server_flight(tmp_path, at_limit + A.records(22, A.SERVER_HELLO_DONE)))))
    assert [h.message for h in conn.handshake if h.sender == "server"] == [
        "ServerHello", "CertificateStatus", "ServerHelloDone"]
    assert "capture-gap" not in _codes(conn)

    over = A.records(22, A.SERVER_HELLO_DONE + b"\0" * 97)  # 101 bytes
    conn = _only(analyze_capture(str(_server_flight(tmp_path, A.records(22, hello) + over))))
    assert "not a TLS record header: 1603030065" in _finding(conn, "capture-gap").message


def test_record_at_the_rfc_limit_is_read_and_one_byte_over_desyncs(tmp_path):
    """The default is RFC 5246's 2^14 + 2048."""
    hello = A.server_hello()
    filler = A.handshake(22, b"\0" * (limits.MAX_RECORD_LENGTH - len(hello) - 4))
    at_limit = b"\x16\x03\x03" + A.u16(limits.MAX_RECORD_LENGTH) + hello + filler
    conn = _only(analyze_capture(str(_server_flight(tmp_path, at_limit + A.records(22, A.SERVER_HELLO_DONE)))))
    assert "capture-gap" not in _codes(conn)
    over = b"\x16\x03\x03" + A.u16(limits.MAX_RECORD_LENGTH + 1) + b"\0" * (limits.MAX_RECORD_LENGTH + 1)
    conn = _only(analyze_capture(str(_server_flight(tmp_path, A.records(22, hello) + over))))
    assert "not a TLS record header: 1603034801" in _finding(conn, "capture-gap").message


def test_handshake_message(tmp_path, monkeypatch):
    """A message declaring more than MAX_HANDSHAKE_MESSAGE bytes is reported damaged and passed over; the
    messages after it are read."""
    monkeypatch.setattr(limits, "MAX_HANDSHAKE_MESSAGE", 1000)
    at_limit = A.handshake(11, A.vec24(b"\0" * 997))  # a body of 1,000 bytes
    over = A.handshake(11, A.vec24(b"\0" * 998))
    conn = _only(analyze_capture(str(_server_flight(
        tmp_path, A.records(22, A.server_hello() + at_limit + A.SERVER_HELLO_DONE)))))
    assert not [h for h in conn.handshake if h.damaged] and "capture-gap" not in _codes(conn)

    conn = _only(analyze_capture(str(_server_flight(tmp_path, A.records(22, A.server_hello() + over
                                                                         + A.SERVER_HELLO_DONE)))))
    server = [h for h in conn.handshake if h.sender == "server"]
    assert [h.message for h in server] == ["ServerHello", "Certificate", "ServerHelloDone"]
    assert server[1].damaged is not None and "limit of 1000 bytes" in server[1].damaged
    gap = _finding(conn, "capture-gap")
    assert "more than tlscap's limit" in gap.message and str(server[1].frame) in gap.message


def test_handshake_message_at_the_default_limit_is_read():
    reader = HandshakeReader()
    message = A.handshake(22, b"\x00" * limits.MAX_HANDSHAKE_MESSAGE)
    out = []
    for start in range(0, len(message), 16384):
        piece = message[start : start + 16384]
        frame = start // 16384 + 1
        out += reader.feed(Record(content_type=22, version=0x0303, length=len(piece), fragment=piece, frame=frame,
                                  frames=(frame,)))
    assert len(out) == 1 and out[0].damaged is None and len(out[0].body) == limits.MAX_HANDSHAKE_MESSAGE
    assert not reader.pending


def test_over_long_message_inside_one_record_goes_on_after_it():
    reader = HandshakeReader(max_message=8)
    data = A.handshake(11, b"x" * 9) + A.SERVER_HELLO_DONE
    out = reader.feed(Record(content_type=22, version=0x0303, length=len(data), fragment=data, frame=1,
                             frames=(1,)))
    assert [(m.msg_type, m.damaged is not None) for m in out] == [(11, True), (14, False)]


def test_chain_certificates(tmp_path, monkeypatch):
    """The first MAX_CHAIN_CERTIFICATES certificates of a Certificate message are kept; the rest are a
    limit-exceeded finding."""
    monkeypatch.setattr(limits, "MAX_CHAIN_CERTIFICATES", 2)
    chain = A.make_chain(3)
    tls13 = M.parse_certificate(b"\x00" + A.vec24(b"".join(A.vec24(d) + b"\0\0" for d in chain)), tls13=True)
    assert (tls13.certificates, len(tls13.entry_extensions), tls13.omitted) == (chain[:2], 2, 1)
    path = tmp_path / "chain.pcap"
    A.long_chain(path, chain=chain)
    conn = _only(analyze_capture(str(path)))
    assert [c.sha256_hex for c in conn.client_certificate.chain] == [hashlib.sha256(d).hexdigest() for d in chain[:2]]
    finding = _finding(conn, "limit-exceeded")
    assert conn.client_certificate.frame in finding.frames
    assert "holds 3 certificates; past tlscap's limit of 2, 1 were not read" in finding.message

    monkeypatch.setattr(limits, "MAX_CHAIN_CERTIFICATES", 3)
    conn = _only(analyze_capture(str(path)))
    assert len(conn.client_certificate.chain) == 3 and "limit-exceeded" not in _codes(conn)


def test_ca_names(tmp_path, monkeypatch):
    """The first MAX_CA_NAMES names of a CertificateRequest are kept; the rest are a limit-exceeded finding."""
    monkeypatch.setattr(limits, "MAX_CA_NAMES", 3)
    names = A.small_names(4)
    extension = A.u16(47) + A.vec16(A.vec16(b"".join(A.vec16(n) for n in names)))
    tls13 = M.parse_certificate_request(b"\x00" + A.vec16(extension), 0x0304)
    assert (tls13.ca_names, tls13.ca_names_omitted) == (names[:3], 1)
    path = tmp_path / "names.pcap"
    A.many_ca_names(path, 4)
    conn = _only(analyze_capture(str(path)))
    assert conn.certificate_request.ca_names == ("CN=0", "CN=1", "CN=2")
    finding = _finding(conn, "limit-exceeded")
    assert conn.certificate_request.frame in finding.frames
    assert "lists 4 CA names; past tlscap's limit of 3, 1 were not read" in finding.message

    A.many_ca_names(path, 3)
    conn = _only(analyze_capture(str(path)))
    assert len(conn.certificate_request.ca_names) == 3 and "limit-exceeded" not in _codes(conn)


def test_malformed_certificate_request_is_a_finding(tmp_path):
    broken = A.handshake(13, b"\x01\x40" + A.vec16(A.u16(0x0403)) + A.u16(200) + b"\x00\x05short")
    flight = A.records(22, A.server_hello() + broken + A.SERVER_HELLO_DONE)
    conn = _only(analyze_capture(str(_server_flight(tmp_path, flight))))
    frame = next(h.frame for h in conn.handshake if h.message == "CertificateRequest")
    finding = _finding(conn, "malformed-message")
    assert frame in finding.frames and "CertificateRequest" in finding.message


def _expired_sample():
    """The nginx sample whose server answers, encrypted, '400 The SSL certificate error', read with its keys."""
    keys = load_keylog_file(SAMPLES / "tls12-expired-client-cert.keylog")
    return _only(analyze_capture(str(SAMPLES / "tls12-expired-client-cert.pcap"), AnalysisOptions(keylog=keys)))


def test_app_plaintext(monkeypatch):
    """Decrypted application data past MAX_APP_PLAINTEXT is not kept: an HTTP title after it is not read."""
    conn = _expired_sample()
    assert (conn.http.status, conn.http.title) == (400, "400 The SSL certificate error")
    monkeypatch.setattr(limits, "MAX_APP_PLAINTEXT", 40)  # the status line and a header or two
    conn = _expired_sample()
    assert (conn.http.status, conn.http.title) == (400, None)


def test_http_title(monkeypatch):
    """An HTML <title> longer than MAX_HTTP_TITLE characters is cut."""
    monkeypatch.setattr(limits, "MAX_HTTP_TITLE", 3)
    head = parse_http_response(b"HTTP/1.1 400 Bad Request\r\n\r\n<title>400 The SSL certificate error</title>")
    assert head is not None and head.title == "400"
    assert _expired_sample().http.title == "400"


def test_app_data_events(tmp_path, monkeypatch):
    """Past MAX_APP_DATA_EVENTS application-data records per direction, later ones are counted, not listed."""
    path = tmp_path / "data.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello() + A.SERVER_HELLO_DONE))
        conv.send(True, A.CHANGE_CIPHER_SPEC + A.encrypted_finished())
        conv.send(False, A.CHANGE_CIPHER_SPEC + A.encrypted_finished())
        frames = [conv.send(False, A.records(23, b"\x17" * 100))[0] for _ in range(5)]
        conv.close()
    assert _only(analyze_capture(str(path))).server_app_data_frames == frames
    monkeypatch.setattr(limits, "MAX_APP_DATA_EVENTS", 2)
    assert _only(analyze_capture(str(path))).server_app_data_frames == frames[:2]


def test_events_per_connection(tmp_path, monkeypatch):
    """Past MAX_EVENTS_PER_CONNECTION TLS events, later ones are counted, not kept: a limit-exceeded finding
    says how many. (A run of identical records is one event: here they alternate.)"""
    monkeypatch.setattr(limits, "MAX_EVENTS_PER_CONNECTION", 5)
    path = tmp_path / "events.pcap"
    warning = A.records(21, b"\x01\x5a")  # a warning alert (user_canceled)
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello()) + (A.CHANGE_CIPHER_SPEC + warning) * 10)
        conv.close()
    conn = _only(analyze_capture(str(path)))
    assert len(conn.handshake) + len(conn.alerts) == 5
    finding = _finding(conn, "limit-exceeded")
    assert finding.message.startswith("the connection carried more than 5 TLS events; ")
    assert "later ones were counted, not kept" in finding.message


def test_tcp_ends_per_connection(tmp_path, monkeypatch):
    """Past MAX_TCP_ENDS_PER_CONNECTION FIN/RST entries, later ones are not listed."""
    path = tmp_path / "fins.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        fins = [writer.write(conv._frame(True, A.FIN | A.ACK)) for _ in range(6)]
    assert [e.frame for e in _only(analyze_capture(str(path))).tcp_ends] == fins
    monkeypatch.setattr(limits, "MAX_TCP_ENDS_PER_CONNECTION", 3)
    assert [e.frame for e in _only(analyze_capture(str(path))).tcp_ends] == fins[:3]


def _openvpn_packet(opcode: int, packet_id: int, payload: bytes = b"") -> bytes:
    """An OpenVPN-over-TCP control packet without tls-auth: length, opcode, session id, no acks, packet-id."""
    packet = bytes([opcode << 3]) + b"\x5e" * 8 + b"\x00" + packet_id.to_bytes(4, "big") + payload
    return A.u16(len(packet)) + packet


def _openvpn_reader() -> OpenVpnReader:
    reader = OpenVpnReader(OpenVpnChannel())
    assert reader.feed(_openvpn_packet(7, 0), 1) == []  # P_CONTROL_HARD_RESET_CLIENT_V2: no tls-auth
    return reader


def test_openvpn_packet(monkeypatch):
    """A packet length over MAX_OPENVPN_PACKET means the stream is not OpenVPN: it is not read further."""
    monkeypatch.setattr(limits, "MAX_OPENVPN_PACKET", 40)
    reader = _openvpn_reader()
    assert reader.feed(_openvpn_packet(4, 1, b"\x16" * 26), 2) == [(b"\x16" * 26, 2)]  # 40 bytes
    assert reader.feed(_openvpn_packet(4, 2, b"\x16" * 27), 3) == []
    assert reader.channel.broken == "bad OpenVPN packet length 41"


def test_openvpn_message(monkeypatch):
    """A control message sent in 100-byte fragments is handed on whole, or once it passes MAX_OPENVPN_MESSAGE."""
    fragments = [_openvpn_packet(4, n + 1, bytes([n]) * 100) for n in range(3)]
    reader = _openvpn_reader()
    assert [reader.feed(f, n) for n, f in enumerate(fragments)] == [[], [], []]  # waits for a shorter one
    monkeypatch.setattr(limits, "MAX_OPENVPN_MESSAGE", 150)
    reader = _openvpn_reader()
    out = [reader.feed(f, n) for n, f in enumerate(fragments)]
    assert out == [[], [(b"\x00" * 100 + b"\x01" * 100, 1)], []]


def test_openvpn_pending(monkeypatch):
    """Up to MAX_OPENVPN_PENDING control packets wait out of order; past it, packets ahead are dropped (the
    one expected next is always taken)."""
    def delivered() -> list[bytes]:
        reader = _openvpn_reader()
        for packet_id in (3, 4, 5, 2):  # packet 1 is late: 3, 4, 5 wait, then 2 (expected after 1)
            assert reader.feed(_openvpn_packet(4, packet_id, bytes([packet_id])), packet_id) == []
        return [data for data, _ in reader.feed(_openvpn_packet(4, 1, b"\x01"), 6)]

    assert delivered() == [b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"]
    monkeypatch.setattr(limits, "MAX_OPENVPN_PENDING", 2)
    assert delivered() == [b"\x01"]  # 5 and 2 came with 2 waiting: dropped, until sent again


# --------------------------------------------------------------------------- capture files


def test_pcapng_block(tmp_path, monkeypatch):
    """A block longer than MAX_PCAPNG_BLOCK is an impossible length: capture error bad-block."""
    monkeypatch.setattr(limits, "MAX_PCAPNG_BLOCK", 200)
    path = tmp_path / "blocks.pcapng"
    path.write_bytes(shb() + idb(1) + epb(0, 1, b"\xff" * 60) + epb(0, 2, b"\xee" * 200))
    report = analyze_capture(str(path))
    assert report.frames == 1
    assert [(e.code, "impossible length 232" in e.message) for e in report.errors] == [("bad-block", True)]


def test_large_unread_pcapng_block_is_passed_over_without_holding_it(tmp_path):
    big = 24 * limits.MIB
    path = tmp_path / "skip.pcapng"
    with open(path, "wb") as out:
        out.write(shb() + idb(1) + epb(0, 1, b"\xff" * 60))
        out.write(struct.pack("<II", 5, 12 + big) + b"\0" * big + struct.pack("<I", 12 + big))  # statistics
        out.write(epb(0, 2, b"\xee" * 60))
    tracemalloc.start()
    try:
        with open_capture(path) as reader:
            frames = [f.data[:1] for f in reader]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert frames == [b"\xff", b"\xee"] and reader.info.issues == []
    assert peak < 8 * limits.MIB, peak


def test_large_unread_pcapng_block_cut_by_the_end_of_file(tmp_path):
    path = tmp_path / "cut.pcapng"
    path.write_bytes(shb() + idb(1) + epb(0, 1, b"\xff" * 60) + struct.pack("<II", 5, 12 + 8 * limits.MIB)
                     + b"\0" * (3 * limits.MIB))
    with open_capture(path) as reader:
        assert len(list(reader)) == 1
    assert [i.code for i in reader.info.issues] == ["truncated-file"]
    assert "ends inside a block" in reader.info.issues[0].message


def test_many_interfaces_with_distinct_link_types_stay_linear(tmp_path):
    """100,000 interfaces with 65,536 link types: link-type bookkeeping stays linear (it was a list scan)."""
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(shb() + b"".join(idb(n % 65536) for n in range(100_000)) + epb(0, 1, b"\xff" * 60))
    with open_capture(path) as reader:
        assert len(list(reader)) == 1
    assert len(reader.info.link_type_numbers) > 65000  # a few numbers are aliases of others


def _pcap_records(tmp_path: Path, snaplen: int, *sizes: int) -> CaptureReport:
    path = tmp_path / "records.pcap"
    path.write_bytes(pcap_file([(1, n, b"\xff" * size) for n, size in enumerate(sizes)], snaplen=snaplen))
    return analyze_capture(str(path))


def test_pcap_record(tmp_path, monkeypatch):
    """A record longer than MAX_PCAP_RECORD (and than the snap length) is capture error bad-block."""
    monkeypatch.setattr(limits, "MAX_PCAP_RECORD", 100)
    report = _pcap_records(tmp_path, 64, 100, 101, 60)
    assert report.frames == 1 and [e.code for e in report.errors] == ["bad-block"]
    assert "101" in report.errors[0].message
    assert _pcap_records(tmp_path, 150, 100, 101, 60).errors == []  # the snap length says more


def test_hard_max_pcap_record(tmp_path, monkeypatch):
    """A snap length raises the record limit up to HARD_MAX_PCAP_RECORD, not beyond."""
    monkeypatch.setattr(limits, "MAX_PCAP_RECORD", 100)
    monkeypatch.setattr(limits, "HARD_MAX_PCAP_RECORD", 200)
    assert _pcap_records(tmp_path, 65535, 200, 60).errors == []
    report = _pcap_records(tmp_path, 65535, 200, 201, 60)
    assert report.frames == 1 and [e.code for e in report.errors] == ["bad-block"]


def _bomb(path: Path, output: int) -> None:
    """A gzip-compressed pcap of about `output` bytes: one real frame, then 64 KiB frames of zeros."""
    frame = A.tcp_frame("10.0.0.1", "10.0.0.2", 1000, 443, 1, 0, A.SYN)
    zeros = struct.pack("<IIII", 1, 0, 65535, 65535) + b"\0" * 65535
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(pcap_file([(1, 0, frame)], snaplen=65535))
        for _ in range(output // len(zeros)):
            out.write(zeros)


def test_gzip_max_ratio(tmp_path, monkeypatch):
    """Past GZIP_RATIO_FLOOR of output, a stream expanding more than GZIP_MAX_RATIO times is a bomb:
    capture error decompression-limit; the frames before it are read."""
    monkeypatch.setattr(limits, "GZIP_RATIO_FLOOR", 1 * limits.MIB)
    path = tmp_path / "bomb.pcap.gz"
    _bomb(path, 4 * limits.MIB)
    ratio = 4 * limits.MIB // path.stat().st_size
    monkeypatch.setattr(limits, "GZIP_MAX_RATIO", 2 * ratio)
    assert analyze_capture(str(path)).errors == []
    monkeypatch.setattr(limits, "GZIP_MAX_RATIO", ratio // 2)
    report = analyze_capture(str(path))
    assert [e.code for e in report.errors] == ["decompression-limit"]
    message = report.errors[0].message
    assert "decompression bombs" in message and f"more than {ratio // 2}×" in message
    assert 1 <= report.frames < 1 + 4 * limits.MIB // 65551


def test_gzip_ratio_floor(tmp_path, monkeypatch):
    """Below GZIP_RATIO_FLOOR of output the ratio is not judged: small well-compressed files are read whole."""
    path = tmp_path / "small.pcap.gz"
    _bomb(path, 4 * limits.MIB)  # a ratio far above 64
    assert path.stat().st_size * limits.GZIP_MAX_RATIO < 4 * limits.MIB
    report = analyze_capture(str(path))
    assert report.errors == [] and report.frames == 1 + 4 * limits.MIB // 65551
    monkeypatch.setattr(limits, "GZIP_RATIO_FLOOR", 1 * limits.MIB)
    assert [e.code for e in analyze_capture(str(path)).errors] == ["decompression-limit"]


def test_gzip_max_output(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "GZIP_MAX_OUTPUT", 4 * limits.MIB)
    path = tmp_path / "big.pcap.gz"
    _bomb(path, 6 * limits.MIB)
    report = analyze_capture(str(path))
    assert [e.code for e in report.errors] == ["decompression-limit"]
    assert "more than 4 MiB decompressed" in report.errors[0].message


def test_comment_chars(tmp_path, monkeypatch):
    """Past MAX_COMMENT_CHARS of pcapng comments: capture error too-many-comments; later ones are ignored."""
    monkeypatch.setattr(limits, "MAX_COMMENT_CHARS", 1000)
    path = tmp_path / "comments.pcapng"
    path.write_bytes(shb(comment="x" * 600) + idb(1) + epb(0, 1, b"\xff" * 60, comment="y" * 600))
    with open_capture(path) as reader:
        list(reader)
    assert reader.info.comments == ["x" * 600]
    assert [i.code for i in reader.info.issues] == ["too-many-comments"]


# --------------------------------------------------------------------------- decoding


class _WrappingWriter(A.PcapWriter):
    """A PcapWriter that rewrites each Ethernet/IPv4 frame with `wrap` before writing it."""

    def __init__(self, path: Path, wrap: Callable[[bytes], bytes]) -> None:
        super().__init__(path)
        self.wrap = wrap

    def write(self, frame: bytes, *, step_us: int = 100) -> int:
        return super().write(self.wrap(frame), step_us=step_us)


def _connections_when_wrapped(tmp_path: Path, wrap: Callable[[bytes], bytes]) -> int:
    """How many TLS connections tlscap finds in a short handshake whose every frame went through `wrap`."""
    path = tmp_path / "wrapped.pcap"
    with _WrappingWriter(path, wrap) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello()))
        conv.close()
    return len(analyze_capture(str(path)).connections)


def _outer_ipv4(protocol: int, payload: bytes) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, protocol, 0,
                         ipaddress.IPv4Address("192.0.2.1").packed, ipaddress.IPv4Address("192.0.2.2").packed)
    return header[:10] + struct.pack(">H", A._checksum(header)) + header[12:] + payload


def _decode(frame: bytes) -> tuple[bool, Counter[str]]:
    decoder = Decoder()
    segment = decoder.decode(Frame(number=1, timestamp_ns=0, link_type=1, data=frame, original_length=len(frame)))
    return segment is not None, decoder.stats


def test_l2_headers(tmp_path, monkeypatch):
    """A frame with more than MAX_L2_HEADERS VLAN tags (or MPLS labels) is not decoded."""
    def vlan3(frame: bytes) -> bytes:
        return frame[:12] + b"\x81\x00\x00\x01" * 3 + frame[12:]

    assert _connections_when_wrapped(tmp_path, vlan3) == 1
    monkeypatch.setattr(limits, "MAX_L2_HEADERS", 3)
    assert _connections_when_wrapped(tmp_path, vlan3) == 0
    assert _decode(vlan3(A.tcp_frame("10.0.0.1", "10.0.0.2", 1, 443, 1, 0, A.SYN))) == (False, Counter({"not-ip": 1}))


def test_tunnel_depth(tmp_path, monkeypatch):
    """Frames in tunnels nested deeper than MAX_TUNNEL_DEPTH are dropped (tunnel-too-deep)."""
    def ip_in_ip_twice(frame: bytes) -> bytes:
        return frame[:14] + _outer_ipv4(4, _outer_ipv4(4, frame[14:]))

    assert _connections_when_wrapped(tmp_path, ip_in_ip_twice) == 1
    monkeypatch.setattr(limits, "MAX_TUNNEL_DEPTH", 1)
    assert _connections_when_wrapped(tmp_path, ip_in_ip_twice) == 0
    syn = A.tcp_frame("10.0.0.1", "10.0.0.2", 1, 443, 1, 0, A.SYN)
    assert _decode(ip_in_ip_twice(syn)) == (False, Counter({"tunnel-too-deep": 1}))


def _gre_with_routes(routes: int) -> Callable[[bytes], bytes]:
    """GRE (RFC 1701) with the routing bit and `routes` source-route entries before the NULL one."""
    def wrap(frame: bytes) -> bytes:
        entries = (A.u16(0x0800) + b"\x00\x04" + b"\x0a\x00\x00\x01") * routes + b"\x00\x00\x00\x00"
        gre = A.u16(0x4000) + A.u16(0x0800) + b"\x00" * 4 + entries
        return frame[:14] + _outer_ipv4(47, gre + frame[14:])
    return wrap


def test_gre_routing_entries(tmp_path, monkeypatch):
    """A GRE header with more than MAX_GRE_ROUTING_ENTRIES source-route entries is malformed."""
    assert _connections_when_wrapped(tmp_path, _gre_with_routes(2)) == 1
    monkeypatch.setattr(limits, "MAX_GRE_ROUTING_ENTRIES", 2)  # two entries and the NULL one: three
    assert _connections_when_wrapped(tmp_path, _gre_with_routes(2)) == 0
    syn = A.tcp_frame("10.0.0.1", "10.0.0.2", 1, 443, 1, 0, A.SYN)
    assert _decode(_gre_with_routes(2)(syn)) == (False, Counter({"gre-malformed": 1}))


def _gtp_with_extensions(count: int) -> Callable[[bytes], bytes]:
    """GTP-U (UDP 2152) with `count` extension headers of 4 bytes each before the inner IP packet."""
    def wrap(frame: bytes) -> bytes:
        extensions = b"".join(b"\x01\x00\x00" + (b"\x85" if n < count - 1 else b"\x00") for n in range(count))
        inner = b"\x00\x00\x00\x85" + extensions + frame[14:]  # sequence number, N-PDU number, next type
        gtp = b"\x34\xff" + A.u16(len(inner)) + b"\x00\x00\x00\x07" + inner
        udp = struct.pack(">HHHH", 2152, 2152, 8 + len(gtp), 0) + gtp
        return frame[:14] + _outer_ipv4(17, udp)
    return wrap


def test_gtp_extensions(tmp_path, monkeypatch):
    """A GTP-U header with more than MAX_GTP_EXTENSIONS extension headers is malformed."""
    assert _connections_when_wrapped(tmp_path, _gtp_with_extensions(2)) == 1
    monkeypatch.setattr(limits, "MAX_GTP_EXTENSIONS", 2)  # two extensions, then the check for a third
    assert _connections_when_wrapped(tmp_path, _gtp_with_extensions(2)) == 0
    syn = A.tcp_frame("10.0.0.1", "10.0.0.2", 1, 443, 1, 0, A.SYN)
    assert _decode(_gtp_with_extensions(2)(syn)) == (False, Counter({"gtp-malformed": 1}))


def test_ip_pending_datagrams(monkeypatch):
    """Past MAX_IP_PENDING_DATAGRAMS incomplete datagrams, the oldest is dropped (fragment-evicted)."""
    monkeypatch.setattr(limits, "MAX_IP_PENDING_DATAGRAMS", 2)
    stats: Counter[str] = Counter()
    reassembler = FragmentReassembler(stats)
    for ident in range(3):
        assert reassembler.add((ident,), 0, True, bytes(8), 6) is None
    assert len(reassembler) == 2 and stats["fragment-evicted"] == 1
    assert reassembler.add((0,), 8, False, bytes(8), 6) is None  # its first half was dropped
    assert reassembler.add((2,), 8, False, bytes(8), 6) == (6, bytes(16))


def test_ip_fragment_bytes(monkeypatch):
    """Past MAX_IP_FRAGMENT_BYTES held, the oldest incomplete datagrams are dropped."""
    monkeypatch.setattr(limits, "MAX_IP_FRAGMENT_BYTES", 1000)
    stats: Counter[str] = Counter()
    reassembler = FragmentReassembler(stats)
    for ident in range(4):
        assert reassembler.add((ident,), 0, True, bytes(300), 6) is None
    assert (len(reassembler), reassembler.pending_bytes, stats["fragment-evicted"]) == (3, 900, 1)


def test_ip_fragments_per_datagram(monkeypatch):
    """A datagram in more than MAX_IP_FRAGMENTS_PER_DATAGRAM fragments is dropped (fragment-too-many)."""
    monkeypatch.setattr(limits, "MAX_IP_FRAGMENTS_PER_DATAGRAM", 3)
    stats: Counter[str] = Counter()
    reassembler = FragmentReassembler(stats)
    for offset in (0, 8, 16):
        assert reassembler.add((1,), offset, True, bytes(8), 6) is None
    assert reassembler.add((1,), 24, False, bytes(8), 6) is None
    assert (len(reassembler), stats["fragment-too-many"]) == (0, 1)
    reassembler = FragmentReassembler(stats)
    for offset in (0, 8):
        reassembler.add((2,), offset, True, bytes(8), 6)
    assert reassembler.add((2,), 16, False, bytes(8), 6) == (6, bytes(24))


def test_ip_datagram(monkeypatch):
    """A fragment ending past MAX_IP_DATAGRAM bytes is dropped (fragment-too-long)."""
    monkeypatch.setattr(limits, "MAX_IP_DATAGRAM", 100)
    stats: Counter[str] = Counter()
    reassembler = FragmentReassembler(stats)
    assert reassembler.add((1,), 0, True, bytes(96), 6) is None
    assert reassembler.add((1,), 96, False, bytes(8), 6) is None
    assert stats["fragment-too-long"] == 1
    assert reassembler.add((1,), 96, False, bytes(4), 6) == (6, bytes(100))


# --------------------------------------------------------------------------- PKI


def test_truststore_file(tmp_path, monkeypatch):
    """A --truststore file larger than MAX_TRUSTSTORE_FILE is refused."""
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp_path / "ca.pem"
    path.write_bytes(P.issue(P.name("Root"), ca=True).cert.public_bytes(Encoding.PEM))
    assert len(load_truststore([path]).anchors) == 1
    monkeypatch.setattr(limits, "MAX_TRUSTSTORE_FILE", path.stat().st_size - 1)
    with pytest.raises(TruststoreError, match="is too large for a truststore"):
        load_truststore([path])


def _deep_chain(intermediates: int) -> tuple[list, Truststore]:
    """A leaf under `intermediates` CAs under a root: the chain sent (leaf first) and a truststore of the root."""
    chain = [P.issue(P.name("Root"), ca=True)]
    for index in range(intermediates):
        chain.append(P.issue(P.name(f"Intermediate {index}"), chain[-1], ca=True))
    chain.append(P.issue(P.name("leaf"), chain[-1]))
    sent = [c.summary for c in reversed(chain[1:])]
    return sent, Truststore.from_certificates([chain[0].summary], source="test")


def test_chain_depth(monkeypatch):
    """The path search stops MAX_CHAIN_DEPTH certificates deep: the chain is unverified, and said so."""
    sent, truststore = _deep_chain(2)
    assert verify_chain(sent, truststore, P.NOW).trusted
    monkeypatch.setattr(limits, "MAX_CHAIN_DEPTH", 2)
    result = verify_chain(sent, truststore, P.NOW)
    assert (result.trusted, result.problem) == (False, "search-limit")
    assert "stopped following the path at CN=Intermediate 0,O=Test Lab,C=US, 3 certificates deep" in result.message


def test_path_search_steps(monkeypatch):
    """The path search stops after MAX_PATH_SEARCH_STEPS paths tried: the chain is unverified, and said so."""
    sent, truststore = _deep_chain(2)
    monkeypatch.setattr(limits, "MAX_PATH_SEARCH_STEPS", 2)
    result = verify_chain(sent, truststore, P.NOW)
    assert (result.trusted, result.problem) == (False, "search-limit")
    assert "(its limits: 12 certificates deep, 2 paths tried)" in result.message


def test_chain_steps_elsewhere(monkeypatch):
    """Certificates seen in other connections are followed MAX_CHAIN_STEPS_ELSEWHERE issuers up from the top
    of the client's chain to find the listed CA it needs."""
    root = P.issue(P.name("Listed Root"), ca=True)
    upper = P.issue(P.name("Upper CA"), root, ca=True)
    lower = P.issue(P.name("Lower CA"), upper, ca=True)
    leaf = P.issue(P.name("device"), lower)
    listed = [root.cert.subject]

    def assess() -> tuple[str, str, list[str]]:
        found = assess_unlisted([leaf.summary], listed, truststore=None, seen=[lower.summary, upper.summary])
        return found.cause, found.certainty, [c.subject_rfc4514 for c in found.missing]

    assert assess() == (INCOMPLETE, "certain", [lower.summary.subject_rfc4514, upper.summary.subject_rfc4514])
    monkeypatch.setattr(limits, "MAX_CHAIN_STEPS_ELSEWHERE", 1)  # Lower CA alone: not issued by the listed root
    assert assess() == (INCOMPLETE, "likely", [])  # judged by the names' likeness


def _intermediate_elsewhere(path: Path) -> None:
    """Two mutual-TLS handshakes: in the first the client sends its intermediate, in the second another
    client leaves it out. The server lists the root."""
    root = P.issue(P.name("Lab Root"), ca=True)
    intermediate = P.issue(P.name("Lab Intermediate"), root, ca=True)
    first, second = (P.issue(P.name(cn), intermediate) for cn in ("first client", "second client"))
    listed = [P.name_der(root.cert.subject)]
    with A.PcapWriter(path) as writer:
        A.mtls12_handshake(A.Conversation(writer, client=("10.0.0.1", 40001)), server_chain=[root.der],
                           ca_names=listed, client_chain=[first.der, intermediate.der])
        A.mtls12_handshake(A.Conversation(writer, client=("10.0.0.3", 40003)), server_chain=[root.der],
                           ca_names=listed, client_chain=[second.der])


def test_capture_certificates(tmp_path, monkeypatch):
    """Up to MAX_CAPTURE_CERTIFICATES certificates of a capture are remembered, so an intermediate one client
    left out is found where another sent it; past the limit, it is not."""
    path = tmp_path / "elsewhere.pcap"
    _intermediate_elsewhere(path)
    second = analyze_capture(str(path)).connections[1].diagnosis
    assert (second.cause, second.certainty) == ("client-chain-incomplete", "certain")
    assert "which another connection (or capture) shows (its signature verifies)" in second.summary
    monkeypatch.setattr(limits, "MAX_CAPTURE_CERTIFICATES", 1)  # the first client's leaf alone
    second = analyze_capture(str(path)).connections[1].diagnosis
    assert (second.cause, second.certainty) == ("client-chain-incomplete", "likely")
    assert "was not sent and is known nowhere here" in second.summary


def test_ca_certificates_per_capture(tmp_path, monkeypatch):
    """Up to MAX_CA_CERTIFICATES_PER_CAPTURE CA certificates of a capture are handed to a scan."""
    path = tmp_path / "elsewhere.pcap"
    _intermediate_elsewhere(path)
    assert len(analyze_capture(str(path)).ca_certificates) == 2  # the root, the intermediate
    monkeypatch.setattr(limits, "MAX_CA_CERTIFICATES_PER_CAPTURE", 1)
    assert len(analyze_capture(str(path)).ca_certificates) == 1


def test_scan_ca_certificates(monkeypatch):
    """A scan keeps up to MAX_SCAN_CA_CERTIFICATES CA certificates of all its captures together."""
    cas = [P.issue(P.name(f"CA {n}"), ca=True).der for n in range(3)]
    capture = CaptureReport(path="a.pcap", ca_certificates=cas)
    pool = CaPool()
    pool.add(capture)
    assert len(pool.certificates) == 3
    monkeypatch.setattr(limits, "MAX_SCAN_CA_CERTIFICATES", 2)
    pool = CaPool()
    assert len(pool.add(capture)) == 3 and len(pool.certificates) == 2  # all the capture's own, 2 kept


# --------------------------------------------------------------------------- TCP reassembly


def _late_retransmission(tmp_path: Path) -> Path:
    """A ClientHello with 10 bytes lost, 11 segments waiting behind the hole (3,200 bytes), then the lost
    bytes retransmitted: read whole unless a limit gave up the hole before the retransmission came."""
    path = tmp_path / "late.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        hello = A.records(22, A.client_hello())
        base = conv.seq[True]
        conv.send(True, hello[:20])
        conv.seq[True] += 10
        waiting = conv.send(True, hello[30:] + A.records(23, b"\x17" * 3000), mss=300)
        assert len(waiting) == 11
        writer.write(conv._frame(True, A.PSH | A.ACK, hello[20:30], seq=base + 20))
        conv.send(False, A.records(22, A.server_hello()))
        conv.close()
    return path


def _hole_given_up(path: Path) -> bool:
    conn = _only(analyze_capture(str(path)))
    assert [h.message for h in conn.handshake] == ["ClientHello", "ServerHello"]
    gaps = [f for f in conn.findings if f.code == "capture-gap"]
    assert all("ClientHello from the client (frame 5: 10 bytes not captured)" in f.message for f in gaps)
    return bool(gaps)


def test_pending_segments(tmp_path, monkeypatch):
    """More than MAX_PENDING_SEGMENTS segments waiting behind a hole: it is declared lost (capture-gap)."""
    path = _late_retransmission(tmp_path)
    assert not _hole_given_up(path)
    monkeypatch.setattr(limits, "MAX_PENDING_SEGMENTS", 10)
    assert _hole_given_up(path)


def test_pending_bytes(tmp_path, monkeypatch):
    """Segments waiting behind a hole costing more than MAX_PENDING_BYTES: it is declared lost (capture-gap)."""
    path = _late_retransmission(tmp_path)
    monkeypatch.setattr(limits, "MAX_PENDING_BYTES", 3000 + 10 * limits.PENDING_SEGMENT_OVERHEAD)
    assert _hole_given_up(path)
    monkeypatch.setattr(limits, "MAX_PENDING_BYTES", 3300 + 11 * limits.PENDING_SEGMENT_OVERHEAD)
    assert not _hole_given_up(path)


def test_pending_segment_overhead(tmp_path, monkeypatch):
    """Each waiting segment costs its bytes and PENDING_SEGMENT_OVERHEAD against MAX_PENDING_BYTES."""
    path = _late_retransmission(tmp_path)
    monkeypatch.setattr(limits, "PENDING_SEGMENT_OVERHEAD", limits.MAX_PENDING_BYTES // 10)
    assert _hole_given_up(path)


def test_buffered_bytes(tmp_path, monkeypatch):
    """Past MAX_BUFFERED_BYTES waiting in all connections together, the reassembler that receives more gives
    up its hole (capture-gap)."""
    path = _late_retransmission(tmp_path)
    monkeypatch.setattr(limits, "MAX_BUFFERED_BYTES", 2000)
    assert _hole_given_up(path)


def test_bytes_buffered_across_connections_stay_within_the_total(tmp_path, monkeypatch):
    """30 connections each holding 1 MB of out-of-order data behind a one-byte hole (each within its own
    limits), with the total lowered to 4 MiB: memory follows the total, not 30 MB."""
    monkeypatch.setattr(limits, "MAX_BUFFERED_BYTES", 4 * limits.MIB)
    path = tmp_path / "held.pcap"
    with A.PcapWriter(path) as writer:
        convs = [A.Conversation(writer, client=("10.0.1.1", 20000 + n)) for n in range(30)]
        for conv in convs:
            conv.open()
            conv.send(True, A.records(22, A.client_hello()))
            conv.seq[True] += 1  # the hole
        for _ in range(250):
            for conv in convs:
                conv.send(True, b"\x17" * 4000, mss=4000)
    tracemalloc.start()
    try:
        report = analyze_capture(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.connections) == 30
    assert peak < 15 * limits.MIB, peak


# --------------------------------------------------------------------------- connections


def _plaintext_then_tls(tmp_path: Path, plaintext: int, *, reuse: bool = False) -> Path:
    """A connection that sends `plaintext` bytes of HTTP before a TLS handshake starts in it; with
    `reuse`, the handshake comes instead in a new connection on the same ports (a new SYN and ISN)."""
    path = tmp_path / "plaintext.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer, server=("10.0.0.2", 8080))
        conv.open()
        conv.send(True, b"POST /upload HTTP/1.1\r\n\r\n" + b"a" * plaintext)
        if reuse:
            conv.close()
            conv = A.Conversation(writer, server=("10.0.0.2", 8080), seq={True: 900_000, False: 70_000})
            conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello()))
        conv.close()
    return path


def test_plaintext_before_tls(tmp_path, monkeypatch):
    """Past MAX_PLAINTEXT_BEFORE_TLS bytes without TLS in a direction, the connection is taken for another
    protocol and dropped for good; below it, TLS after plaintext (STARTTLS-like) is found."""
    monkeypatch.setattr(limits, "MAX_PLAINTEXT_BEFORE_TLS", 1000)
    below = analyze_capture(str(_plaintext_then_tls(tmp_path, 900)))
    assert [h.message for h in _only(below).handshake] == ["ClientHello", "ServerHello"]
    over = analyze_capture(str(_plaintext_then_tls(tmp_path, 1100)))
    assert over.connections == [] and over.errors == []
    conn = _only(analyze_capture(str(_plaintext_then_tls(tmp_path, 1100, reuse=True))))
    assert conn.id == 1 and [h.message for h in conn.handshake] == ["ClientHello", "ServerHello"]


def test_carrier_times(tmp_path, monkeypatch):
    """The times of a connection's first MAX_CARRIER_TIMES payload frames are kept: an event credited to a
    later one, read after it (here an alert held behind a hole until the capture ends), takes the time of
    the connection's last packet instead of its own."""
    path = tmp_path / "late.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello()))
        conv.seq[True] += 10  # the alert waits behind this hole until the capture ends
        (alert,) = conv.send(True, A.records(21, b"\x02\x28"))
        writer.micros += 5_000_000
        writer.write(conv._frame(False, A.ACK))

    def alert_line() -> str:
        """The alert's line in the text report's walkthrough."""
        conn = _only(analyze_capture(str(path)))
        return next(line for line in walkthrough(conn) if f"frame {alert} " in " ".join(line.split()))

    assert "  +0.001  C→S  Alert: fatal handshake_failure" in alert_line()
    monkeypatch.setattr(limits, "MAX_CARRIER_TIMES", 2)  # the ClientHello's and the ServerHello's
    assert "  +5.001  C→S  Alert: fatal handshake_failure" in alert_line()


def test_waiting(tmp_path, monkeypatch):
    """Finished connections wait for the lower streams still open, up to MAX_WAITING of them: past it they go
    out of stream order."""
    path = tmp_path / "order.pcap"
    with A.PcapWriter(path) as writer:
        first = A.Conversation(writer, client=("10.0.0.1", 40000))
        first.open()
        first.send(True, A.records(22, A.client_hello()))  # open until the capture ends
        for n in range(1, 5):
            conv = A.Conversation(writer, client=("10.0.0.1", 40000 + n))
            conv.open()
            conv.send(True, A.records(22, A.client_hello()))
            conv.close()

    def order() -> list[int]:
        seen: list[int] = []
        analyze_capture(str(path), on_connection=lambda conn: seen.append(conn.id))
        return seen

    assert order() == [0, 1, 2, 3, 4]
    monkeypatch.setattr(limits, "MAX_WAITING", 2)
    assert order() == [1, 2, 0, 3, 4]


def test_tracked_connections(tmp_path, monkeypatch):
    """Past MAX_TRACKED_CONNECTIONS open at once, the least recently active is finished early, judged as it
    stands: every connection is still reported, and a capture error says how many times."""
    monkeypatch.setattr(limits, "MAX_TRACKED_CONNECTIONS", 100)
    path = tmp_path / "half-open.pcap"
    A.half_open_connections(path, 300)
    report = analyze_capture(str(path))
    assert len(report.connections) == 300
    (error,) = report.errors
    assert error.code == "too-many-connections"
    assert error.message.startswith("more than 100 TCP connections were open at once")


def test_connections_judged_early_go_out_within_max_waiting(tmp_path, monkeypatch):
    """Connections finished early by MAX_TRACKED_CONNECTIONS go out as they come (they do not wait,
    unbounded, for a connection to close), and the capture error counts them."""
    monkeypatch.setattr(limits, "MAX_TRACKED_CONNECTIONS", 50)
    monkeypatch.setattr(limits, "MAX_WAITING", 20)
    path = tmp_path / "half-open.pcap"
    A.half_open_connections(path, 400)
    waiting: list[int] = []
    seen: list[int] = []
    original = ConnectionCollector.hand_on

    def spy(self, *, everything=False):
        original(self, everything=everything)
        waiting.append(len(self.waiting))

    monkeypatch.setattr(ConnectionCollector, "hand_on", spy)
    report = analyze_capture(str(path), on_connection=lambda conn: seen.append(conn.id))
    assert len(seen) == 400 and max(waiting) == 20
    (error,) = report.errors
    assert error.code == "too-many-connections" and "finished early 750 times" in error.message  # 350 + 400 revived


def _idle_capture(path, *, outlier: bool = False) -> None:
    """Connection A says ClientHello, then B runs 40 frames 700 s later, then A sends an alert."""
    with A.PcapWriter(path) as writer:
        a = A.Conversation(writer, client=("10.0.0.1", 40001))
        a.open()
        a.send(True, A.records(22, A.client_hello()))
        b = A.Conversation(writer, client=("10.0.0.2", 40002))
        writer.micros += 700_000_000 if not outlier else 0
        b.open()
        if outlier:  # one frame with a wild timestamp: time alone must not finish A
            writer.micros += 10**15
            b.send(True, b"x")
            writer.micros -= 10**15
        for _ in range(20):
            b.send(True, b"GET / HTTP/1.1\r\n\r\n")
            b.send(False, b"HTTP/1.1 200 OK\r\n\r\n")
        a.send(True, A.records(21, b"\x01\x00"))


def _idle_finished(path: Path) -> bool:
    """Whether connection A was finished while idle: its late alert is then a late segment, not read."""
    conn = _only(analyze_capture(str(path)))
    if conn.alerts == []:
        return True
    assert [a.frame for a in conn.alerts] == [conn.last_frame]
    return False


def test_idle_connection_frames(tmp_path, monkeypatch):
    """A connection that shows no packet for IDLE_CONNECTION_NS of capture time and IDLE_CONNECTION_FRAMES
    frames is finished and judged as it stands; a later packet of it is a late segment."""
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 8)
    path = tmp_path / "idle.pcap"
    _idle_capture(path)
    assert not _idle_finished(path)  # 40 frames are far from 100,000
    monkeypatch.setattr(limits, "IDLE_CONNECTION_FRAMES", 30)
    assert _idle_finished(path)


def test_idle_connection_ns(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 8)
    monkeypatch.setattr(limits, "IDLE_CONNECTION_FRAMES", 30)
    path = tmp_path / "idle.pcap"
    _idle_capture(path)
    assert _idle_finished(path)  # 700 s > 600 s
    monkeypatch.setattr(limits, "IDLE_CONNECTION_NS", 800 * 10**9)
    assert not _idle_finished(path)


def test_idle_time_alone_does_not_finish_a_connection(tmp_path, monkeypatch):
    """One packet with a wild timestamp makes everything look idle in time: the frame count keeps it."""
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 8)
    monkeypatch.setattr(limits, "IDLE_CONNECTION_FRAMES", 30)
    path = tmp_path / "idle.pcap"
    _idle_capture(path, outlier=True)
    assert not _idle_finished(path)


def _packet_after_a_quiet_spell(path: Path) -> None:
    """Connection A (stream 0) closes; B (stream 1) runs 40 frames 120 s later; then A's endpoints send an
    alert with no SYN."""
    with A.PcapWriter(path) as writer:
        a = A.Conversation(writer, client=("10.0.0.1", 40001))
        a.open()
        a.send(True, A.records(22, A.client_hello()))
        a.send(False, A.records(22, A.server_hello()))
        a.close()
        b = A.Conversation(writer, client=("10.0.0.2", 40002))
        writer.micros += 120_000_000
        b.open()
        for _ in range(20):
            b.send(True, b"GET / HTTP/1.1\r\n\r\n")
            b.send(False, b"HTTP/1.1 200 OK\r\n\r\n")
        writer.write(a._frame(True, A.PSH | A.ACK, A.records(21, b"\x02\x28")))


def _streams_of(path: Path) -> list[int]:
    return [c.id for c in analyze_capture(str(path)).connections]


def test_forget_conversation_ns(tmp_path, monkeypatch):
    """A finished conversation quiet for FORGET_CONVERSATION_NS of capture time and FORGET_CONVERSATION_FRAMES
    frames is forgotten: a later packet with its endpoints starts a new tcp.stream (here a TLS alert: a
    connection of its own)."""
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 8)
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_FRAMES", 30)
    path = tmp_path / "quiet.pcap"
    _packet_after_a_quiet_spell(path)
    assert _streams_of(path) == [0]  # 120 s is less than 600 s: a late segment of stream 0
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_NS", 60 * 10**9)
    assert _streams_of(path) == [0, 2]


def test_forget_conversation_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 8)
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_NS", 60 * 10**9)
    path = tmp_path / "quiet.pcap"
    _packet_after_a_quiet_spell(path)
    assert _streams_of(path) == [0]  # 40 frames are far from 100,000
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_FRAMES", 30)
    assert _streams_of(path) == [0, 2]


def test_quiet_conversations_leave_the_stream_table(tmp_path, monkeypatch):
    """Finished conversations leave the stream table once quiet long enough: it does not grow with the file
    (here 2,000 connections, one after another, 1 s apart in capture time)."""
    from tlscap.analysis.engine import _Run

    monkeypatch.setattr(limits, "FORGET_CONVERSATION_FRAMES", 500)
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_NS", 60 * 10**9)
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 64)
    path = tmp_path / "many.pcap"
    with A.PcapWriter(path) as writer:
        for index in range(2000):
            ip, port = A._host(index)
            conv = A.Conversation(writer, client=(ip, port))
            writer.micros += 1_000_000
            conv.open()
            conv.send(True, A.records(22, A.client_hello()))
            conv.close()
    emitted: list[int] = []
    run = _Run(AnalysisOptions(), lambda conn: emitted.append(conn.id))
    decoder, sizes = Decoder(), []
    with open_capture(path) as reader:
        for frame in reader:
            seg = decoder.decode(frame)
            if seg is not None:
                run.on_segment(seg)
            sizes.append(len(run.table))
    run.finish()
    # Quiet for 60 s (60 connections) and 500 frames (7 a connection: 72), swept every 64 frames: about 82.
    assert 72 <= max(sizes) <= 90 and len(emitted) == len(set(emitted)) == 2000


def _segment(flags: int, frame: int, ns: int) -> Segment:
    return Segment("10.0.0.1", "10.0.0.2", 40000, 443, 1000, 0, flags, b"", 0, (), frame, ns)


def test_a_packet_after_its_conversation_was_forgotten_starts_a_new_stream():
    table: StreamTable[object] = StreamTable()
    conv, _, new = table.lookup(_segment(SYN, 1, 0))
    assert new and conv.stream == 0
    table.retire(conv, 0, 1)
    assert table.forget_quiet(limits.FORGET_CONVERSATION_NS, limits.FORGET_CONVERSATION_FRAMES) == 0  # not yet
    table.touch(conv, 10, 2)  # a late packet postpones it
    assert table.forget_quiet(limits.FORGET_CONVERSATION_NS + 5, limits.FORGET_CONVERSATION_FRAMES + 2) == 0
    later = limits.FORGET_CONVERSATION_NS * 2
    assert table.forget_quiet(later, limits.FORGET_CONVERSATION_FRAMES * 2) == 1 and len(table) == 0
    again, _, new = table.lookup(_segment(ACK, 10**6, later))
    assert new and again.stream == 1


def test_conversation_is_not_forgotten_while_the_clock_is_behind_it():
    """A capture whose clock jumps back: a conversation quiet in frames but not in capture time waits
    (re-queued at the current frame, so it is not looked at on every sweep), then goes."""
    table: StreamTable[object] = StreamTable()
    conv, _, _ = table.lookup(_segment(SYN, 1, 10**15))
    table.retire(conv, 10**15, 1)
    frames = limits.FORGET_CONVERSATION_FRAMES
    assert table.forget_quiet(0, frames + 10) == 0  # the clock went back: not quiet in time
    assert table.forget_quiet(0, frames + 20) == 0 and len(table) == 1
    assert table.forget_quiet(10**15 + limits.FORGET_CONVERSATION_NS + 1, 2 * frames + 11) == 1


# --------------------------------------------------------------------------- DTLS


def _dtls_hello(flow_port: int) -> bytes:
    return D.udp_frame("10.0.0.1", "10.0.0.2", flow_port, 4433,
                       D.record(22, D.fragments(D.client_hello(), 0)[0]))


def _dns(port: int) -> bytes:
    return D.udp_frame("10.0.0.1", "10.0.0.53", port, 53, b"\x12\x34\x01\x00" + b"\0" * 8)


def test_udp_flows(tmp_path, monkeypatch):
    """Past MAX_UDP_FLOWS UDP conversations numbered at once, the least recently active one that is not DTLS
    is forgotten: a later datagram of it takes a new udp.stream."""
    path = tmp_path / "flows.pcap"
    with A.PcapWriter(path) as writer:
        writer.write(D.udp_frame("10.0.0.1", "10.0.0.2", 50000, 4433, b"\x00\x01\x00\x00" + b"\x07" * 16))  # STUN
        writer.write(_dns(53001))
        writer.write(_dns(53002))
        writer.write(_dtls_hello(50000))
    assert _streams_of(path) == [0]
    monkeypatch.setattr(limits, "MAX_UDP_FLOWS", 2)
    assert _streams_of(path) == [3]


def test_dtls_flows(tmp_path, monkeypatch):
    """Past MAX_DTLS_FLOWS open at once, the least recently active is finished early: capture error
    too-many-connections."""
    path = tmp_path / "dtls.pcap"
    with A.PcapWriter(path) as writer:
        for port in (50000, 50001, 50002):
            writer.write(_dtls_hello(port))
    assert analyze_capture(str(path)).errors == []
    monkeypatch.setattr(limits, "MAX_DTLS_FLOWS", 2)
    report = analyze_capture(str(path))
    assert len(report.connections) == 3
    assert [e.code for e in report.errors] == ["too-many-connections"]
    assert "finished early 1 times" in report.errors[0].message


def test_idle_dtls_flow(tmp_path, monkeypatch):
    """A DTLS flow quiet for IDLE_DTLS_FLOW_NS of capture time is finished and judged: a later datagram of it
    is not read."""
    monkeypatch.setattr(engine, "SWEEP_INTERVAL", 1)
    path = tmp_path / "idle.pcap"
    with A.PcapWriter(path) as writer:
        writer.write(_dtls_hello(50000))
        writer.write(_dns(53001), step_us=10_000_000)
        alert = writer.write(D.udp_frame("10.0.0.2", "10.0.0.1", 4433, 50000, D.record(21, b"\x02\x28")))
    assert [a.frame for a in _only(analyze_capture(str(path))).alerts] == [alert]
    monkeypatch.setattr(limits, "IDLE_DTLS_FLOW_NS", 5 * 10**9)
    assert _only(analyze_capture(str(path))).alerts == []


def _first_fragments(count: int, size: int) -> list[bytes]:
    """The first 50-byte fragment of `count` Certificate messages of `size` bytes (message_seq 0, 1, ...)."""
    return [D.fragments(A.certificate([b"\x30" * (size - 10)]), seq, 50)[0] for seq in range(count)]


def test_dtls_pending_messages(monkeypatch):
    """Past MAX_DTLS_PENDING_MESSAGES messages being reassembled, a message's fragments are not held: it is
    reported incomplete (a capture-gap finding)."""
    reassembler = HandshakeReassembler()
    assert [e for n, f in enumerate(_first_fragments(3, 100)) for e in reassembler.feed(f, n)] == []
    monkeypatch.setattr(limits, "MAX_DTLS_PENDING_MESSAGES", 2)
    reassembler = HandshakeReassembler()
    (event,) = [e for n, f in enumerate(_first_fragments(3, 100)) for e in reassembler.feed(f, n)]
    assert isinstance(event, Incomplete) and event.message_seq == 2
    assert event.detail == "more fragmented messages at once than tlscap holds; not reassembled"


def test_dtls_pending_bytes(monkeypatch):
    """Past MAX_DTLS_PENDING_BYTES held for messages being reassembled, likewise."""
    monkeypatch.setattr(limits, "MAX_DTLS_PENDING_BYTES", 250)
    reassembler = HandshakeReassembler()
    (event,) = [e for n, f in enumerate(_first_fragments(3, 100)) for e in reassembler.feed(f, n)]
    assert isinstance(event, Incomplete) and event.message_seq == 2
    assert event.detail == "more fragmented messages at once than tlscap holds; not reassembled"


def test_dtls_done_messages(monkeypatch):
    """MAX_DTLS_DONE_MESSAGES finished message_seq numbers are remembered to tell retransmissions apart: a
    copy of an older message is read again as a message."""
    messages = [D.fragments(A.handshake(14, b""), seq)[0] for seq in range(3)]

    def events() -> list[type]:
        reassembler = HandshakeReassembler()
        out = [e for n, m in enumerate(messages) for e in reassembler.feed(m, n)]
        return [type(e) for e in out + reassembler.feed(messages[0], 9)]

    assert events() == [Message, Message, Message, Retransmission]
    monkeypatch.setattr(limits, "MAX_DTLS_DONE_MESSAGES", 2)
    assert events() == [Message, Message, Message, Message]


# --------------------------------------------------------------------------- keys and server logs


def _keylog_line() -> str:
    return f"CLIENT_RANDOM {'11' * 32} {'22' * 48}"


def test_keylog_line(tmp_path, monkeypatch, capsys):
    """A --keylog line longer than MAX_KEYLOG_LINE characters is counted as malformed, and said so."""
    keylog = tmp_path / "keys.log"
    keylog.write_text(_keylog_line() + "\n" + _keylog_line() + "  \n")
    assert load_keylog_file(keylog).bad_lines == 0
    monkeypatch.setattr(limits, "MAX_KEYLOG_LINE", len(_keylog_line()) + 1)
    assert len(load_keylogs([str(keylog)])) == 1
    assert capsys.readouterr().err == (f"tlscap: {keylog}: 1 malformed line(s) ignored (first: {keylog}:2: line "
                                       f"longer than {len(_keylog_line()) + 1} characters)\n")


def test_keylog_file(tmp_path, monkeypatch):
    """A --keylog file larger than MAX_KEYLOG_FILE is refused."""
    from tlscap.tls.keylog import KeyLogError

    keylog = tmp_path / "keys.log"
    keylog.write_text((_keylog_line() + "\n") * 10)
    assert len(load_keylog_file(keylog)) == 1
    monkeypatch.setattr(limits, "MAX_KEYLOG_FILE", 1000)
    with pytest.raises(KeyLogError, match="larger than"):
        load_keylog_file(keylog)


def test_server_log_messages(tmp_path, monkeypatch):
    """Past MAX_SERVER_LOG_MESSAGES client-certificate lines of --server-log files, later ones are counted,
    not read, and the note on standard error says how many."""
    line = ("2026/12/04 18:57:33 [info] 15365#15365: *3 client SSL certificate verify error: (10:certificate has "
            "expired) while reading client request headers, client: 127.0.0.1, server: localhost")
    log_file = tmp_path / "error.log"
    log_file.write_text((line + "\n") * 5)
    args = argparse.Namespace(server_log=[str(log_file)], log_skew=0.0, log_utc_offset="+00:00")
    log = load_server_log(args)
    assert log is not None and log.summary()["not_kept"] == 0
    monkeypatch.setattr(limits, "MAX_SERVER_LOG_MESSAGES", 2)
    log = load_server_log(args)
    assert log is not None and log.summary() == {"messages": 5, "matched": 0, "unmatched": 2, "not_kept": 3}
    assert "3 more past tlscap's limit of 2 were not read" in server_log_note(log)


# --------------------------------------------------------------------------- reports


def _three_handshakes(path: Path) -> Path:
    """Three connections, each a ClientHello the server answers with a fatal handshake_failure alert."""
    with A.PcapWriter(path) as writer:
        for n in range(3):
            conv = A.Conversation(writer, client=("10.0.0.1", 40000 + n))
            conv.open()
            conv.send(True, A.records(22, A.client_hello()))
            conv.send(False, A.records(21, b"\x02\x28"))
            conv.close()
    return path


def _report(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "report.out"
    assert main([*args, "-o", str(out), "--fail-on", "never"]) == 0
    return out.read_text()


def test_summary_rows(tmp_path, monkeypatch):
    """The text report's summary table lists MAX_SUMMARY_ROWS connections and counts the rest."""
    capture = str(_three_handshakes(tmp_path / "three.pcap"))
    assert "more connections" not in _report(tmp_path, "analyze", capture, "--format", "text")
    monkeypatch.setattr(limits, "MAX_SUMMARY_ROWS", 1)
    assert "… and 2 more connections" in _report(tmp_path, "analyze", capture, "--format", "text")


def test_rows_per_cause(tmp_path, monkeypatch):
    """The Markdown report lists MAX_ROWS_PER_CAUSE connections of a cause and counts the rest."""
    capture = str(_three_handshakes(tmp_path / "three.pcap"))
    assert "more connections" not in _report(tmp_path, "analyze", capture, "--format", "md")
    monkeypatch.setattr(limits, "MAX_ROWS_PER_CAUSE", 1)
    assert "… and 2 more connections (the JSON or CSV report lists all)" in _report(
        tmp_path, "analyze", capture, "--format", "md")


def test_cert_index_places(tmp_path, monkeypatch):
    """`tlscap certs` lists MAX_CERT_INDEX_PLACES places per certificate in index.json; `seen` counts all."""
    chain = A.make_chain(2)
    path = tmp_path / "twice.pcap"
    with A.PcapWriter(path) as writer:
        for n in range(3):
            A.mtls12_handshake(A.Conversation(writer, client=("10.0.0.1", 40000 + n)), server_chain=chain[1:],
                               ca_names=[], client_chain=chain[:1])
    leaf = hashlib.sha256(chain[0]).hexdigest()

    def places() -> tuple[int, int]:
        out = tmp_path / f"certs-{limits.MAX_CERT_INDEX_PLACES}"
        assert main(["certs", str(path), "--out", str(out)]) == 0
        entry = json.loads((out / "index.json").read_text())[leaf]
        return len(entry["frames"]), entry["seen"]

    assert places() == (3, 3)
    monkeypatch.setattr(limits, "MAX_CERT_INDEX_PLACES", 1)
    assert places() == (1, 3)


# --------------------------------------------------------------------------- every limit has its test


def _constants() -> list[str]:
    units = {"KIB", "MIB", "GIB"}
    return [name for name in vars(limits) if name.isupper() and name not in units]


LIMIT_TESTS: dict[str, Callable[..., None]] = {
    "MAX_RECORD_LENGTH": test_record_length,
    "MAX_HANDSHAKE_MESSAGE": test_handshake_message,
    "MAX_CHAIN_CERTIFICATES": test_chain_certificates,
    "MAX_CA_NAMES": test_ca_names,
    "MAX_KEYLOG_LINE": test_keylog_line,
    "MAX_KEYLOG_FILE": test_keylog_file,
    "MAX_APP_PLAINTEXT": test_app_plaintext,
    "MAX_APP_DATA_EVENTS": test_app_data_events,
    "MAX_HTTP_TITLE": test_http_title,
    "MAX_OPENVPN_PACKET": test_openvpn_packet,
    "MAX_OPENVPN_MESSAGE": test_openvpn_message,
    "MAX_OPENVPN_PENDING": test_openvpn_pending,
    "MAX_PCAPNG_BLOCK": test_pcapng_block,
    "MAX_PCAP_RECORD": test_pcap_record,
    "HARD_MAX_PCAP_RECORD": test_hard_max_pcap_record,
    "GZIP_MAX_RATIO": test_gzip_max_ratio,
    "GZIP_RATIO_FLOOR": test_gzip_ratio_floor,
    "GZIP_MAX_OUTPUT": test_gzip_max_output,
    "MAX_COMMENT_CHARS": test_comment_chars,
    "MAX_L2_HEADERS": test_l2_headers,
    "MAX_TUNNEL_DEPTH": test_tunnel_depth,
    "MAX_GRE_ROUTING_ENTRIES": test_gre_routing_entries,
    "MAX_GTP_EXTENSIONS": test_gtp_extensions,
    "MAX_IP_PENDING_DATAGRAMS": test_ip_pending_datagrams,
    "MAX_IP_FRAGMENTS_PER_DATAGRAM": test_ip_fragments_per_datagram,
    "MAX_IP_DATAGRAM": test_ip_datagram,
    "MAX_IP_FRAGMENT_BYTES": test_ip_fragment_bytes,
    "MAX_TRUSTSTORE_FILE": test_truststore_file,
    "MAX_CHAIN_DEPTH": test_chain_depth,
    "MAX_PATH_SEARCH_STEPS": test_path_search_steps,
    "MAX_CHAIN_STEPS_ELSEWHERE": test_chain_steps_elsewhere,
    "MAX_PENDING_SEGMENTS": test_pending_segments,
    "MAX_PENDING_BYTES": test_pending_bytes,
    "PENDING_SEGMENT_OVERHEAD": test_pending_segment_overhead,
    "MAX_PLAINTEXT_BEFORE_TLS": test_plaintext_before_tls,
    "MAX_CARRIER_TIMES": test_carrier_times,
    "MAX_WAITING": test_waiting,
    "MAX_CAPTURE_CERTIFICATES": test_capture_certificates,
    "MAX_CA_CERTIFICATES_PER_CAPTURE": test_ca_certificates_per_capture,
    "MAX_SCAN_CA_CERTIFICATES": test_scan_ca_certificates,
    "MAX_TRACKED_CONNECTIONS": test_tracked_connections,
    "IDLE_CONNECTION_NS": test_idle_connection_ns,
    "IDLE_CONNECTION_FRAMES": test_idle_connection_frames,
    "FORGET_CONVERSATION_NS": test_forget_conversation_ns,
    "FORGET_CONVERSATION_FRAMES": test_forget_conversation_frames,
    "MAX_EVENTS_PER_CONNECTION": test_events_per_connection,
    "MAX_TCP_ENDS_PER_CONNECTION": test_tcp_ends_per_connection,
    "MAX_BUFFERED_BYTES": test_buffered_bytes,
    "MAX_UDP_FLOWS": test_udp_flows,
    "MAX_DTLS_FLOWS": test_dtls_flows,
    "MAX_DTLS_PENDING_MESSAGES": test_dtls_pending_messages,
    "MAX_DTLS_PENDING_BYTES": test_dtls_pending_bytes,
    "MAX_DTLS_DONE_MESSAGES": test_dtls_done_messages,
    "IDLE_DTLS_FLOW_NS": test_idle_dtls_flow,
    "MAX_SUMMARY_ROWS": test_summary_rows,
    "MAX_ROWS_PER_CAUSE": test_rows_per_cause,
    "MAX_CERT_INDEX_PLACES": test_cert_index_places,
    "MAX_SERVER_LOG_MESSAGES": test_server_log_messages,
}


def test_every_limit_has_a_test():
    """Each constant of limits.py is named in LIMIT_TESTS with the test of this module that lowers it."""
    assert sorted(LIMIT_TESTS) == sorted(_constants()), "add the new limit's test to LIMIT_TESTS"
    for name, test in LIMIT_TESTS.items():
        assert test.__name__.startswith("test_") and globals().get(test.__name__) is test, name
