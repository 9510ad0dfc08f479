"""Every limit of tlscap.limits is hit here, with real bytes, and what the user sees is checked.

A limit the hot path does not enforce yet is a strict xfail test marked `needs lead`: it turns green
(and the mark goes) when the change described in its reason lands.
"""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import adversarial as A
import pytest
from helpers_capture import epb, idb, pcap_file, shb

from tlscap import limits
from tlscap.analysis.engine import analyze_capture
from tlscap.capture.reader import open_capture
from tlscap.tls import messages as M
from tlscap.tls.handshake import HandshakeReader
from tlscap.tls.records import Record


def _only(report):
    assert len(report.connections) == 1, [c.id for c in report.connections]
    return report.connections[0]


def _codes(conn) -> list[str]:
    return [f.code for f in conn.findings]


def test_the_limits_module_documents_every_constant():
    doc = limits.__doc__ or ""
    names = [n for n in dir(limits) if n.isupper() and n not in ("KIB", "MIB", "GIB")]
    missing = [n for n in names if n not in doc and n not in ("SCAN_FILE_TIMEOUT",)]
    # Fragment and verification limits are documented by what they bound, not by name.
    assert missing == [], f"limits without a row in tlscap/limits.py's table: {missing}"


# --------------------------------------------------------------------------- TLS records


def _server_flight(tmp_path: Path, flight: bytes) -> Path:
    path = tmp_path / "flight.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, flight)
        conv.close()
    return path


def test_record_at_the_limit_is_read_and_one_byte_over_desyncs(tmp_path):
    assert limits.MAX_RECORD_LENGTH == 2**14 + 2048
    hello = A.server_hello()
    # A handshake record exactly at the limit: the ServerHello, then a message filling the rest.
    filler = A.handshake(22, b"\0" * (limits.MAX_RECORD_LENGTH - len(hello) - 4))
    at_limit = b"\x16\x03\x03" + A.u16(limits.MAX_RECORD_LENGTH) + hello + filler
    conn = _only(analyze_capture(str(_server_flight(tmp_path, at_limit + A.records(22, A.SERVER_HELLO_DONE)))))
    assert [h.message for h in conn.handshake if h.sender == "server"] == [
        "ServerHello", "CertificateStatus", "ServerHelloDone"]
    assert "capture-gap" not in _codes(conn)

    over = b"\x16\x03\x03" + A.u16(limits.MAX_RECORD_LENGTH + 1) + b"\0" * (limits.MAX_RECORD_LENGTH + 1)
    conn = _only(analyze_capture(str(_server_flight(tmp_path, A.records(22, hello) + over))))
    gap = next(f for f in conn.findings if f.code == "capture-gap")
    assert "not a TLS record header: 1603034801" in gap.message


# --------------------------------------------------------------------------- handshake messages


def test_handshake_message_over_the_limit_is_skipped_and_reported(tmp_path):
    size = limits.MAX_HANDSHAKE_MESSAGE + 1
    huge = A.handshake(11, A.u24(size - 3) + b"\x00" * (size - 3))
    flight = A.records(22, A.server_hello() + huge + A.SERVER_HELLO_DONE)
    conn = _only(analyze_capture(str(_server_flight(tmp_path, flight))))
    server = [h for h in conn.handshake if h.sender == "server"]
    assert [h.message for h in server] == ["ServerHello", "Certificate", "ServerHelloDone"]
    assert server[1].damaged and "limit of 1048576 bytes" in server[1].damaged
    gap = next(f for f in conn.findings if f.code == "capture-gap")
    assert "more than tlscap's limit" in gap.message and str(server[1].frame) in gap.message
    assert conn.server_certificate is None


def test_handshake_message_at_the_limit_is_read():
    reader = HandshakeReader()
    body = b"\x00" * limits.MAX_HANDSHAKE_MESSAGE
    message = A.handshake(22, body)
    out = []
    for start in range(0, len(message), 16384):
        piece = message[start : start + 16384]
        out += reader.feed(Record(content_type=22, version=0x0303, length=len(piece), fragment=piece,
                                  frame=start // 16384 + 1, frames=(start // 16384 + 1,)))
    assert len(out) == 1 and out[0].damaged is None and len(out[0].body) == limits.MAX_HANDSHAKE_MESSAGE
    assert not reader.pending


def test_over_long_message_inside_one_record_with_a_small_limit_goes_on_after_it():
    reader = HandshakeReader(max_message=8)
    data = A.handshake(11, b"x" * 9) + A.SERVER_HELLO_DONE
    out = reader.feed(Record(content_type=22, version=0x0303, length=len(data), fragment=data, frame=1,
                             frames=(1,)))
    assert [(m.msg_type, m.damaged is not None) for m in out] == [(11, True), (14, False)]


# --------------------------------------------------------------------------- certificates and CA names


@pytest.fixture(scope="module")
def chain65() -> list[bytes]:
    return A.make_chain(limits.MAX_CHAIN_CERTIFICATES + 1)


def test_chain_keeps_the_first_64_certificates(tmp_path, chain65):
    body = A.certificate(chain65)[4:]
    parsed = M.parse_certificate(body, tls13=False)
    assert parsed.certificates == chain65[:64] and parsed.omitted == 1
    at_limit = M.parse_certificate(A.certificate(chain65[:64])[4:], tls13=False)
    assert len(at_limit.certificates) == 64 and at_limit.omitted == 0
    tls13 = M.parse_certificate(b"\x00" + A.vec24(b"".join(A.vec24(d) + b"\0\0" for d in chain65)), tls13=True)
    assert len(tls13.certificates) == len(tls13.entry_extensions) == 64 and tls13.omitted == 1

    path = tmp_path / "chain.pcap"
    A.long_chain(path, chain=chain65)
    conn = _only(analyze_capture(str(path)))
    assert [c.sha256 for c in conn.client_certificate.chain] == [
        __import__("hashlib").sha256(d).hexdigest() for d in chain65[:64]]


def test_chain_over_the_limit_is_a_finding(tmp_path, chain65):
    path = tmp_path / "chain.pcap"
    A.long_chain(path, chain=chain65)
    conn = _only(analyze_capture(str(path)))
    cert_frame = conn.client_certificate.frame
    assert any(f.code == "limit-exceeded" and cert_frame in f.frames and "limit of 64" in f.message
               for f in conn.findings), conn.findings


def test_ca_names_keep_the_first_4096(tmp_path):
    names = A.small_names(limits.MAX_CA_NAMES + 1)
    parsed = M.parse_certificate_request(A.certificate_request(names)[4:], 0x0303)
    assert parsed.ca_names == names[:4096] and parsed.ca_names_omitted == 1
    extension = A.u16(47) + A.vec16(A.vec16(b"".join(A.vec16(n) for n in names)))
    tls13 = M.parse_certificate_request(b"\x00" + A.vec16(extension), 0x0304)
    assert len(tls13.ca_names) == 4096 and tls13.ca_names_omitted == 1

    path = tmp_path / "names.pcap"
    A.many_ca_names(path, limits.MAX_CA_NAMES + 1)
    conn = _only(analyze_capture(str(path)))
    assert len(conn.certificate_request.ca_names) == 4096


def test_ca_names_over_the_limit_are_a_finding(tmp_path):
    path = tmp_path / "names.pcap"
    A.many_ca_names(path, limits.MAX_CA_NAMES + 1)
    conn = _only(analyze_capture(str(path)))
    assert any(f.code == "limit-exceeded" and conn.certificate_request.frame in f.frames
               and "limit of 4096" in f.message for f in conn.findings), conn.findings


def test_malformed_certificate_request_is_a_finding(tmp_path):
    broken = A.handshake(13, b"\x01\x40" + A.vec16(A.u16(0x0403)) + A.u16(200) + b"\x00\x05short")
    flight = A.records(22, A.server_hello() + broken + A.SERVER_HELLO_DONE)
    conn = _only(analyze_capture(str(_server_flight(tmp_path, flight))))
    frame = next(h.frame for h in conn.handshake if h.message == "CertificateRequest")
    assert any(f.code == "malformed-message" and frame in f.frames and "CertificateRequest" in f.message
               for f in conn.findings), conn.findings


# --------------------------------------------------------------------------- capture files


def test_pcapng_block_over_the_limit_is_a_bad_block(tmp_path):
    head = shb() + idb(1) + epb(0, 1, b"\xff" * 60)
    over = limits.MAX_PCAPNG_BLOCK + 4
    path = tmp_path / "big-block.pcapng"
    path.write_bytes(head + struct.pack("<II", 0x00000BAD, over) + b"\0" * 64)
    report = analyze_capture(str(path))
    assert report.frames == 1
    assert [(e.code, f"impossible length {over}" in e.message) for e in report.errors] == [("bad-block", True)]


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


def test_pcap_record_over_the_limit_is_a_bad_block(tmp_path):
    data = pcap_file([(1, 0, b"\xff" * 60)], snaplen=65535)
    data += struct.pack("<IIII", 2, 0, limits.MAX_PCAP_RECORD + 1, limits.MAX_PCAP_RECORD + 1) + b"\0" * 32
    path = tmp_path / "record.pcap"
    path.write_bytes(data)
    report = analyze_capture(str(path))
    assert report.frames == 1 and [e.code for e in report.errors] == ["bad-block"]


def _bomb(path: Path, output: int) -> None:
    """A gzip-compressed pcap of about `output` bytes: one real frame, then 64 KiB frames of zeros."""
    frame = A.tcp_frame("10.0.0.1", "10.0.0.2", 1000, 443, 1, 0, A.SYN)
    zeros = struct.pack("<IIII", 1, 0, 65535, 65535) + b"\0" * 65535
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(pcap_file([(1, 0, frame)], snaplen=65535))
        for _ in range(output // len(zeros)):
            out.write(zeros)


def test_gzip_bomb_stops_at_the_ratio_limit(tmp_path):
    path = tmp_path / "bomb.pcap.gz"
    _bomb(path, limits.GZIP_RATIO_FLOOR + 8 * limits.MIB)
    assert path.stat().st_size * limits.GZIP_MAX_RATIO < limits.GZIP_RATIO_FLOOR
    report = analyze_capture(str(path))
    assert [e.code for e in report.errors] == ["decompression-limit"]
    message = report.errors[0].message
    assert "decompression bombs" in message and f"more than {limits.GZIP_MAX_RATIO}×" in message
    # What came before the limit was read: the SYN and the frames of zeros up to 64 MiB (and a bit).
    assert limits.GZIP_RATIO_FLOOR // 65551 <= report.frames <= (limits.GZIP_RATIO_FLOOR + 2 * limits.MIB) // 65551


def test_gzip_output_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "GZIP_MAX_OUTPUT", 4 * limits.MIB)
    path = tmp_path / "big.pcap.gz"
    _bomb(path, 6 * limits.MIB)
    report = analyze_capture(str(path))
    assert [e.code for e in report.errors] == ["decompression-limit"]
    assert "more than 4 MiB decompressed" in report.errors[0].message


def test_well_compressed_small_capture_is_not_a_bomb(tmp_path):
    path = tmp_path / "small.pcap.gz"
    _bomb(path, 16 * limits.MIB)  # a ratio far above 64, but below the floor: read whole
    report = analyze_capture(str(path))
    assert report.errors == [] and report.frames == 1 + 16 * limits.MIB // 65551


def test_comments_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_COMMENT_CHARS", 1000)
    path = tmp_path / "comments.pcapng"
    path.write_bytes(shb(comment="x" * 600) + idb(1) + epb(0, 1, b"\xff" * 60, comment="y" * 600))
    with open_capture(path) as reader:
        list(reader)
    assert reader.info.comments == ["x" * 600]
    assert [i.code for i in reader.info.issues] == ["too-many-comments"]


def test_many_interfaces_with_distinct_link_types_stay_linear(tmp_path):
    """100,000 interfaces with 65,536 link types: link-type bookkeeping stays linear (it was a list scan)."""
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(shb() + b"".join(idb(n % 65536) for n in range(100_000)) + epb(0, 1, b"\xff" * 60))
    with open_capture(path) as reader:
        assert len(list(reader)) == 1
    assert len(reader.info.link_type_numbers) > 65000  # a few numbers are aliases of others


# --------------------------------------------------------------------------- the lead's hot path


def test_tracked_connections_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRACKED_CONNECTIONS", 100)
    path = tmp_path / "half-open.pcap"
    A.half_open_connections(path, 300)
    report = analyze_capture(str(path))
    assert len(report.connections) == 300  # every connection still reported, some finished early
    assert [e.code for e in report.errors] == ["too-many-connections"]


def test_tracked_connections_limit_keeps_the_judged_early_within_max_waiting(tmp_path, monkeypatch):
    """Connections judged early by the cap go out as they come (they used to wait, unbounded, for a
    connection to close), and the capture error counts them."""
    monkeypatch.setattr(limits, "MAX_TRACKED_CONNECTIONS", 50)
    monkeypatch.setattr(limits, "MAX_WAITING", 20)
    path = tmp_path / "half-open.pcap"
    A.half_open_connections(path, 400)
    waiting: list[int] = []
    seen: list[int] = []

    import tlscap.analysis.collector as collector_module

    original = collector_module.ConnectionCollector.hand_on

    def spy(self, *, everything=False):
        original(self, everything=everything)
        waiting.append(len(self.waiting))

    monkeypatch.setattr(collector_module.ConnectionCollector, "hand_on", spy)
    report = analyze_capture(str(path), on_connection=lambda conn: seen.append(conn.id))
    assert len(seen) == 400 and max(waiting) == 20
    (error,) = report.errors
    assert error.code == "too-many-connections" and "finished early 750 times" in error.message  # 350 + 400 revived


def _idle_capture(path, *, outlier: bool = False) -> tuple[int, int]:
    """Connection A says ClientHello, then B runs 40 frames 700 s later, then A sends one more
    ClientHello-sized record. Returns (A's last frame before the silence, A's late frame)."""
    with A.PcapWriter(path) as writer:
        a = A.Conversation(writer, client=("10.0.0.1", 40001))
        a.open()
        (hello,) = a.send(True, A.records(22, A.client_hello()))
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
        (late,) = a.send(True, A.records(21, b"\x01\x00"))
    return hello, late


def test_idle_connection_is_finished_after_idle_time_and_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "IDLE_CONNECTION_FRAMES", 30)
    monkeypatch.setattr("tlscap.analysis.engine.SWEEP_INTERVAL", 8)
    path = tmp_path / "idle.pcap"
    hello, late = _idle_capture(path)
    conn = _only(analyze_capture(str(path)))
    assert conn.last_frame == hello  # finished while idle: the late alert is a late segment, not read
    assert conn.alerts == []


@pytest.mark.parametrize("frames, outlier", [(1000, False), (30, True)])
def test_connection_is_not_finished_without_both_idle_time_and_frames(tmp_path, monkeypatch, frames, outlier):
    monkeypatch.setattr(limits, "IDLE_CONNECTION_FRAMES", frames)
    monkeypatch.setattr("tlscap.analysis.engine.SWEEP_INTERVAL", 8)
    path = tmp_path / "idle.pcap"
    _hello, late = _idle_capture(path, outlier=outlier)
    conn = _only(analyze_capture(str(path)))
    assert conn.last_frame == late and [a.frame for a in conn.alerts] == [late]


def test_quiet_conversations_are_forgotten(tmp_path, monkeypatch):
    """Finished conversations leave the stream table once quiet long enough: it does not grow with the
    file (here 2,000 connections, one after another, 1 s apart in capture time)."""
    from tlscap.analysis.engine import AnalysisOptions, _Run
    from tlscap.decode.decoder import Decoder

    monkeypatch.setattr(limits, "FORGET_CONVERSATION_FRAMES", 500)
    monkeypatch.setattr(limits, "FORGET_CONVERSATION_NS", 60 * 10**9)
    monkeypatch.setattr("tlscap.analysis.engine.SWEEP_INTERVAL", 64)
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
    # Quiet for 60 s (60 connections) and 500 frames (7 a connection: 72), swept every 64 frames: about 82.
    run.finish()
    assert max(sizes) <= 90 and len(emitted) == len(set(emitted)) == 2000


def test_a_packet_after_its_conversation_was_forgotten_starts_a_new_stream():
    from tlscap.decode.segment import ACK, SYN, Segment
    from tlscap.tcp.streams import StreamTable

    def seg(flags: int, frame: int, ns: int) -> Segment:
        return Segment("10.0.0.1", "10.0.0.2", 40000, 443, 1000, 0, flags, b"", 0, (), frame, ns)

    table: StreamTable[object] = StreamTable()
    conv, _, new = table.lookup(seg(SYN, 1, 0))
    assert new and conv.stream == 0
    table.retire(conv, 0, 1)
    assert table.forget_quiet(limits.FORGET_CONVERSATION_NS, limits.FORGET_CONVERSATION_FRAMES) == 0  # not yet
    table.touch(conv, 10, 2)  # a late packet postpones it
    assert table.forget_quiet(limits.FORGET_CONVERSATION_NS + 5, limits.FORGET_CONVERSATION_FRAMES + 2) == 0
    later = limits.FORGET_CONVERSATION_NS * 2
    assert table.forget_quiet(later, limits.FORGET_CONVERSATION_FRAMES * 2) == 1 and len(table) == 0
    again, _, new = table.lookup(seg(ACK, 10**6, later))
    assert new and again.stream == 1


def test_conversation_is_not_forgotten_while_the_clock_is_behind_it():
    """A capture whose clock jumps back: a conversation quiet in frames but not in capture time waits
    (re-queued at the current frame, so it is not looked at on every sweep), then goes."""
    from tlscap.decode.segment import SYN, Segment
    from tlscap.tcp.streams import StreamTable

    table: StreamTable[object] = StreamTable()
    conv, _, _ = table.lookup(Segment("10.0.0.1", "10.0.0.2", 40000, 443, 1, 0, SYN, b"", 0, (), 1, 10**15))
    table.retire(conv, 10**15, 1)
    frames = limits.FORGET_CONVERSATION_FRAMES
    assert table.forget_quiet(0, frames + 10) == 0  # the clock went back: not quiet in time
    assert table.forget_quiet(0, frames + 20) == 0 and len(table) == 1
    assert table.forget_quiet(10**15 + limits.FORGET_CONVERSATION_NS + 1, 2 * frames + 11) == 1


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


def test_a_connection_is_dropped_after_too_much_plaintext(tmp_path):
    """Past MAX_PLAINTEXT_BEFORE_TLS bytes without TLS in a direction, the connection is taken for
    another protocol and dropped for good (as the tshark engine drops it): TLS later in the same
    connection is not looked for. Below the limit, TLS after plaintext (STARTTLS-like) is found."""
    assert limits.MAX_PLAINTEXT_BEFORE_TLS == 256 * 1024
    below = analyze_capture(str(_plaintext_then_tls(tmp_path, 200 * 1024)))
    assert [h.message for h in _only(below).handshake] == ["ClientHello", "ServerHello"]
    over = analyze_capture(str(_plaintext_then_tls(tmp_path, 300 * 1024)))
    assert over.connections == [] and over.errors == []


def test_a_new_connection_on_the_ports_of_a_dropped_one_is_read(tmp_path):
    report = analyze_capture(str(_plaintext_then_tls(tmp_path, 300 * 1024, reuse=True)))
    conn = _only(report)
    assert conn.id == 1 and [h.message for h in conn.handshake] == ["ClientHello", "ServerHello"]


def test_events_per_connection_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EVENTS_PER_CONNECTION", 1000)
    path = tmp_path / "ccs.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        conv.send(False, A.records(22, A.server_hello()) + A.CHANGE_CIPHER_SPEC * 20_000)
        conv.close()
    conn = _only(analyze_capture(str(path)))
    assert len(conn.handshake) <= 1000


def test_fin_entries_per_connection_limit(tmp_path):
    path = tmp_path / "fins.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.send(True, A.records(22, A.client_hello()))
        for _ in range(1000):
            writer.write(conv._frame(True, A.FIN | A.ACK))
    conn = _only(analyze_capture(str(path)))
    assert len(conn.tcp_ends) <= limits.MAX_TCP_ENDS_PER_CONNECTION


def test_bytes_buffered_across_connections_limit(tmp_path, monkeypatch):
    """30 connections each holding 1 MB of out-of-order data behind a one-byte hole (each within its own
    1 MiB and 256 segments), with the total lowered to 4 MiB: memory must follow the total, not 30 MB."""
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


@pytest.mark.parametrize("limit", ["MAX_PENDING_SEGMENTS", "MAX_PENDING_BYTES"])
def test_out_of_order_waiting_segments_limit(tmp_path, monkeypatch, limit):
    """More segments wait than limits.MAX_PENDING_SEGMENTS, or they cost more than limits.MAX_PENDING_BYTES
    (each its byte and limits.PENDING_SEGMENT_OVERHEAD): the hole before them is declared lost, and said so.
    The limits are lowered here, so that a ClientHello in reversed one-byte segments hits them."""
    lowered = 256 if limit == "MAX_PENDING_SEGMENTS" else 256 * (1 + limits.PENDING_SEGMENT_OVERHEAD)
    monkeypatch.setattr(limits, limit, lowered)
    hello = A.records(22, A.client_hello("x" * 600))
    path = tmp_path / "reversed.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        base = conv.seq[True]
        writer.write(conv._frame(True, A.PSH | A.ACK, hello[:10]))
        for offset in reversed(range(10, len(hello))):  # one byte per segment, last byte first
            writer.write(conv._frame(True, A.PSH | A.ACK, hello[offset : offset + 1], seq=base + offset))
        conv.seq[True] = base + len(hello)
        conv.send(False, A.records(22, A.server_hello()))
        conv.close()
    assert len(hello) - 10 > 256
    conn = _only(analyze_capture(str(path)))
    gap = next(f for f in conn.findings if f.code == "capture-gap")
    assert "ClientHello from the client" in gap.message


def test_keylog_line_over_the_limit_is_reported_on_stderr(tmp_path):
    """A --keylog line longer than limits.MAX_KEYLOG_LINE is counted as malformed, and said so."""
    good = f"CLIENT_RANDOM {'11' * 32} {'22' * 48}"
    keylog = tmp_path / "keys.log"
    keylog.write_text(good + "\n" + good + " " * limits.MAX_KEYLOG_LINE + "\n")
    sample = Path(__file__).resolve().parents[1] / "samples" / "tls12-success.pcap"
    result = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(sample), "--keylog", str(keylog),
                             "--format", "json", "--fail-on", "never"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"1 malformed line(s) ignored (first: {keylog}:2: line longer than 4096 characters)" in result.stderr


def test_scan_file_timeout_is_tested_in_test_scan():
    """The per-file time limit of `tlscap scan` (--file-timeout) is hit by test_scan.py's
    test_file_timeout_stops_only_that_file; this only checks that test still exists."""
    source = (Path(__file__).parent / "test_scan.py").read_text()
    assert "def test_file_timeout_stops_only_that_file" in source
