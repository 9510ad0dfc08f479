"""Record reader and handshake framing: splits, skips, damage, and finding TLS by content."""

import struct

from tlscap.tls.constants import ContentType
from tlscap.tls.handshake import HandshakeReader
from tlscap.tls.records import Desync, Record, RecordReader


def record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ctype, version, len(body)) + body


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


CLIENT_HELLO_BODY = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"


def test_record_split_across_20_segments():
    msg = handshake(11, bytes(range(256)) * 4)
    data = record(22, msg)
    reader = RecordReader()
    step = len(data) // 20 + 1
    out = []
    for i in range(20):
        piece = data[i * step : (i + 1) * step]
        out += reader.feed(piece, 100 + i, 100 + i)
    assert len(out) == 1 and isinstance(out[0], Record)
    rec = out[0]
    assert rec.fragment == msg
    assert rec.frame == 119
    assert rec.frames == tuple(range(100, 120))


def test_message_split_across_20_records():
    body = bytes(range(200)) * 10
    msg = handshake(11, body)
    step = len(msg) // 20 + 1
    hs = HandshakeReader()
    reader = RecordReader()
    messages = []
    for i in range(20):
        for rec in reader.feed(record(22, msg[i * step : (i + 1) * step]), 10 + i, 10 + i):
            messages += hs.feed(rec)
    assert len(messages) == 1
    m = messages[0]
    assert m.msg_type == 11 and m.body == body
    assert m.frame == 29 and m.frames == tuple(range(10, 30))


def test_several_messages_in_one_record():
    payload = handshake(2, b"a" * 10) + handshake(11, b"b" * 5) + handshake(14, b"")
    hs = HandshakeReader()
    (rec,) = RecordReader().feed(record(22, payload), 7, 7)
    msgs = hs.feed(rec)
    assert [m.msg_type for m in msgs] == [2, 11, 14]
    assert all(m.frame == 7 for m in msgs)


def test_application_data_skipped_without_keeping_bytes():
    reader = RecordReader()
    reader.feed(record(22, handshake(1, CLIENT_HELLO_BODY)), 1, 1)
    out = reader.feed(record(ContentType.APPLICATION_DATA, b"x" * 16000), 2, 2)
    assert len(out) == 1 and out[0].fragment is None and out[0].length == 16000


def test_plaintext_before_starttls_is_skipped():
    reader = RecordReader()
    assert reader.feed(b"220 mail.example.com ESMTP\r\n", 1, 1) == []
    assert reader.feed(b"STARTTLS\r\n", 2, 2) == []
    out = reader.feed(record(22, handshake(1, CLIENT_HELLO_BODY), 0x0301), 3, 3)
    assert len(out) == 1 and out[0].content_type == 22
    assert reader.plaintext_bytes_skipped > 0


def test_garbage_after_sync_desyncs():
    reader = RecordReader()
    reader.feed(record(22, handshake(1, CLIENT_HELLO_BODY)), 1, 1)
    out = reader.feed(b"GET / HTTP/1.1\r\n", 2, 2)
    assert isinstance(out[0], Desync)
    assert not reader.synced


def test_gap_inside_record_marks_it_damaged():
    reader = RecordReader()
    data = record(22, handshake(11, b"z" * 100))
    reader.feed(data[:50], 1, 1)
    out = reader.gap(30, 2, truncated=True)
    out += reader.feed(data[80:], 3, 3)
    recs = [r for r in out if isinstance(r, Record)]
    assert len(recs) == 1 and recs[0].damaged and recs[0].truncated
    msgs = HandshakeReader().feed(recs[0])
    assert msgs[0].msg_type == 11 and msgs[0].damaged


def test_sslv2_client_hello_detected():
    body = b"\x01\x03\x01\x00\x03\x00\x00\x00\x10" + b"\x00\x00\x04" + bytes(16)
    data = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    out = RecordReader().feed(data, 1, 1)
    assert len(out) == 1 and out[0].content_type == -2 and out[0].version == 2
