"""The bulk path (`_Run.on_bulk`): frames of known flows that are bare ACKs or only continue a skipped
application-data record skip decoding and the conversation lookup. It must change nothing: every
report is compared with the general path's (engine.BULK_PATH off), on the corpus, the samples, the key
logs, and synthetic captures built to stress it (bulk data, retransmissions, reordering, port reuse,
Linux cooked captures); and it must actually be taken where it is meant to be."""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus_facts import CORPUS, corpus_folder
from helpers_capture import pcap_file

from tlscap import limits
from tlscap.analysis import engine, tracker
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.report.json_report import capture_dict
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".gz")
CORPUS_FILES = sorted(p for p in corpus_folder("files").rglob("*") if p.suffix in CAPTURE_SUFFIXES)
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*.pcap*"))

ETHERNET, SLL2 = 1, 276
V6 = 1 << 16  # added to a link type: the frames carry IPv6


def report(path: Path, bulk: bool, options: AnalysisOptions | None = None) -> dict:
    """The capture's JSON report, and the times behind it that JSON does not show."""
    saved = engine.BULK_PATH
    engine.BULK_PATH = bulk
    try:
        cap = analyze_capture(str(path), options)
    finally:
        engine.BULK_PATH = saved
    times = [(c.first_time_ns, c.last_time_ns, sorted(c.frame_times_ns.items())) for c in cap.connections]
    return capture_dict(cap) | {"times": times}


def assert_same_with_and_without(path: Path, options: AnalysisOptions | None = None) -> None:
    assert report(path, True, options) == report(path, False, options)


def test_the_corpus_and_samples_are_found():
    assert len(CORPUS_FILES) >= 140 and len(SAMPLE_FILES) >= 25


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS / "files")) for p in CORPUS_FILES])
def test_corpus_reports_do_not_change(path: Path):
    assert_same_with_and_without(path)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_sample_reports_do_not_change(path: Path):
    keylog = path.with_suffix(".keylog")
    assert_same_with_and_without(path)
    if keylog.is_file():  # with keys, application data is kept for decryption: the bulk path steps aside
        assert_same_with_and_without(path, AnalysisOptions(keylog=load_keylog_file(keylog)))


# --------------------------------------------------------------------------- synthetic bulk captures


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _packet(link: int, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"") -> bytes:
    """A frame; `link` is ETHERNET or SLL2, plus V6 for IPv6 (2001:db8::/96 + the 4 address bytes)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
    if link & V6:
        prefix = b"\x20\x01\x0d\xb8" + bytes(8)
        ip = struct.pack("!IHBB16s16s", 0x60000000, 20 + len(payload), 6, 64, prefix + src, prefix + dst)
        ethertype = b"\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        ethertype = b"\x08\x00"
    if link & ~V6 == SLL2:
        head = ethertype + b"\x00\x00" + struct.pack("!IHBB", 2, 1, 0, 6) + b"\x02\x00\x00\x00\x00\x01\x00\x00"
    else:
        head = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + ethertype
    return head + ip + tcp + payload


def _record(content_type: int, body: bytes) -> bytes:
    return struct.pack("!BHH", content_type, 0x0303, len(body)) + body


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def _connection(link: int, index: int, *, size: int, isn: int = 1000, twist: str = "") -> Iterator[bytes]:
    """Frames of one connection caught mid-stream in TLS: the client sends a short application-data
    record, the server `size` bytes in 16 KB records, then an alert and FIN both ways. `twist` adds
    a retransmitted, a reordered or a lost segment, or leaves the connection open."""
    client, server = bytes([10, 1, index >> 8 & 255, index & 255]), bytes([10, 2, 0, 1])
    cport, sport = 40000 + index, 443
    c, s = isn, 7000

    def to_server(flags: int, payload: bytes = b"") -> bytes:
        return _packet(link, client, server, cport, sport, c, s, flags, payload)

    def to_client(seq: int, flags: int, payload: bytes = b"") -> bytes:
        return _packet(link, server, client, sport, cport, seq, c, flags, payload)

    yield to_server(SYN)
    c += 1
    yield _packet(link, server, client, sport, cport, s, c, SYN | ACK)
    s += 1
    yield to_server(ACK)
    request = _record(23, os.urandom(40))
    yield to_server(PSH | ACK, request)
    c += len(request)
    stream = b"".join(_record(23, os.urandom(min(16384, size - done))) for done in range(0, size, 16384))
    stream += _record(21, b"\x01\x00")
    segments = [(s + off, stream[off : off + 1448]) for off in range(0, len(stream), 1448)]
    if twist == "reordered":
        segments[5], segments[6] = segments[6], segments[5]
    if twist == "reordered at the end":
        segments[-1], segments[-2] = segments[-2], segments[-1]
    if twist == "lost":
        del segments[7]
    for i, (seq, piece) in enumerate(segments):
        yield to_client(seq, ACK, piece)
        if twist == "retransmitted" and i == 4:
            yield to_client(seq, ACK, piece)
        if i % 2:
            yield _packet(link, client, server, cport, sport, c, seq + len(piece), ACK)
    s += len(stream)
    if twist == "open":
        return
    yield to_client(s, FIN | ACK)
    yield _packet(link, client, server, cport, sport, c, s + 1, FIN | ACK)
    yield to_client(s + 1, ACK)


def _write(tmp_path: Path, name: str, frames: list[bytes], link: int = ETHERNET,
           snap: dict[int, int] | None = None) -> Path:
    """A pcap of the frames, 1 ms apart; `snap` cuts frame i to snap[i] bytes (a snap length)."""
    snap = snap or {}
    path = tmp_path / name
    path.write_bytes(pcap_file([(1_700_000_000 + i // 1000, (i % 1000) * 1000, f[: snap.get(i, len(f))], len(f))
                                for i, f in enumerate(frames)], link_type=link & ~V6))
    return path


def _taken(path: Path) -> int:
    """How many frames took the bulk path."""
    count = 0
    original = tracker.ConnectionTracker.on_bulk

    def counting(self: tracker.ConnectionTracker, *args: int) -> bool:
        nonlocal count
        took = original(self, *args)  # type: ignore[arg-type]
        count += took
        return took

    tracker.ConnectionTracker.on_bulk = counting  # type: ignore[method-assign]
    try:
        analyze_capture(str(path))
    finally:
        tracker.ConnectionTracker.on_bulk = original  # type: ignore[method-assign]
    return count


@pytest.mark.parametrize("link", [ETHERNET, SLL2, ETHERNET | V6, SLL2 | V6], ids=["eth", "sll2", "eth-v6", "sll2-v6"])
def test_bulk_data_takes_the_bulk_path_and_reports_the_same(tmp_path: Path, link: int):
    frames = [f for i in range(3) for f in _connection(link, i, size=200_000)]
    path = _write(tmp_path, "bulk.pcap", frames, link)
    assert_same_with_and_without(path)
    # Of each connection's ~210 frames, all but the handshake, the record heads and the ends.
    assert _taken(path) > 0.8 * len(frames)
    conns = report(path, True)["connections"]
    assert len(conns) == 3 and all(c["alerts"] for c in conns)


@pytest.mark.parametrize("twist", ["retransmitted", "reordered", "lost", "open"])
def test_irregular_bulk_reports_the_same(tmp_path: Path, twist: str):
    frames = [f for i in range(2) for f in _connection(ETHERNET, i, size=120_000, twist=twist)]
    assert_same_with_and_without(_write(tmp_path, f"{twist}.pcap", frames))


@pytest.mark.parametrize("snap", [60, 100, 1000])
def test_a_snap_length_reports_the_same(tmp_path: Path, snap: int):
    """Every frame cut to a snap length, as `tcpdump -s 96` captures are: the cut frames carry missing
    bytes, which only the general path accounts for."""
    frames = [f for i in range(2) for f in _connection(ETHERNET, i, size=100_000)]
    assert_same_with_and_without(_write(tmp_path, "cut.pcap", frames, snap=dict.fromkeys(range(len(frames)), snap)))


def test_times_of_frames_past_the_kept_carrier_times_stay_the_same(tmp_path: Path):
    """A connection longer than limits.MAX_CARRIER_TIMES payload frames whose alert completes in a
    frame held back (its segments reordered): its time depends on which frames filled the kept
    carrier times, and bulk frames count there as on the general path."""
    frames = list(_connection(ETHERNET, 1, size=1_200_000, twist="reordered at the end"))
    assert len(frames) > 1.5 * limits.MAX_CARRIER_TIMES
    assert_same_with_and_without(_write(tmp_path, "long.pcap", frames))


def test_a_reused_port_starts_a_new_connection_on_the_bulk_path_too(tmp_path: Path):
    """A SYN with a new ISN on the endpoints of a connection still open is a new conversation (tcp.stream);
    the old one's bulk entries must not take the new one's frames."""
    first = list(_connection(ETHERNET, 7, size=60_000, twist="open"))
    second = list(_connection(ETHERNET, 7, size=60_000, isn=900_000))
    path = _write(tmp_path, "reuse.pcap", first + second)
    assert_same_with_and_without(path)
    conns = report(path, True)["connections"]
    assert [c["id"] for c in conns] == [0, 1]


def test_interleaved_connections_report_the_same(tmp_path: Path):
    flows = [list(_connection(ETHERNET, i, size=50_000 + 7_000 * i)) for i in range(4)]
    frames = [flow[j] for j in range(max(map(len, flows))) for flow in flows if j < len(flow)]
    assert_same_with_and_without(_write(tmp_path, "interleaved.pcap", frames))


def _random_connection(rng: random.Random, link: int, index: int, port: int, *,
                       reuse_isn: bool = False) -> list[bytes]:
    """One connection with random record sizes, segmentation, ACK timing, losses, duplicates,
    reordering, an alert split across segments, and a random end (FIN, RST, none)."""
    client, server = bytes([10, 3, 0, index & 255]), bytes([10, 4, 0, 1])
    c, s = rng.getrandbits(32) if not reuse_isn else 5, rng.getrandbits(32)
    frames: list[bytes] = []

    def to_server(seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        frames.append(_packet(link, client, server, port, 443, seq, ack, flags, payload))

    def to_client(seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        frames.append(_packet(link, server, client, 443, port, seq, ack, flags, payload))

    if rng.random() < 0.8:
        to_server(c, 0, SYN)
        if not reuse_isn or rng.random() < 0.5:
            to_client(s, c + 1, SYN | ACK)
        c, s = c + 1, s + 1
        to_server(c, s, ACK)
    request = _record(23, os.urandom(rng.randint(20, 300)))
    to_server(c, s, PSH | ACK, request)
    c += len(request)
    stream = b"".join(_record(23, os.urandom(rng.choice((rng.randint(1, 400), rng.randint(1000, 16384)))))
                      for _ in range(rng.randint(1, 80)))
    ending = _record(21, b"\x02\x28") if rng.random() < 0.5 else _record(23, os.urandom(24))
    stream += ending
    split = len(stream) - rng.randint(1, len(ending) - 1)  # the last record comes in two segments
    pieces, off = [], 0
    while off < len(stream):
        size = rng.choice((1448, 1448, 1448, rng.randint(1, 1448)))
        if off < split < off + size:
            size = split - off
        pieces.append((s + off, stream[off : off + size]))
        off += size
    acked = s
    hole_ack = 0  # after a loss: pieces to wait before a cumulative ACK jumps past the hole
    i = 0
    while i < len(pieces):
        seq, piece = pieces[i]
        roll = rng.random()
        if roll < 0.015:
            hole_ack = rng.randint(1, 4)  # lost: the held data behind it waits for the ACK past it
        elif roll < 0.03 and i + 1 < len(pieces):
            to_client(*pieces[i + 1][:1], c, ACK, pieces[i + 1][1])  # reordered
            to_client(seq, c, ACK, piece)
            i += 1
        else:
            to_client(seq, c, ACK, piece)
            if roll < 0.05:
                to_client(seq, c, ACK, piece)  # duplicated
        if hole_ack:
            hole_ack -= 1
            if not hole_ack:
                acked = pieces[i][0] + len(pieces[i][1])
        else:
            acked = max(acked, pieces[i][0] + len(pieces[i][1]))
        if rng.random() < 0.5 or hole_ack == 0:
            to_server(c, acked, ACK)
        i += 1
    end = s + len(stream)
    roll = rng.random()
    if roll < 0.5:
        to_client(end, c, FIN | ACK)
        to_server(c, end + 1, FIN | ACK)
        to_client(end + 1, c + 1, ACK)
    elif roll < 0.7:
        to_server(c, end, RST | ACK)
    return frames


@pytest.mark.parametrize("small_limits", [False, True], ids=["limits", "small-limits"])
@pytest.mark.parametrize("seed", range(40))
def test_random_irregular_traffic_reports_the_same(tmp_path: Path, seed: int, small_limits: bool,
                                                   monkeypatch: pytest.MonkeyPatch):
    """Several random connections interleaved frame by frame, a few frames cut by a snap length; one
    port reused by a later connection, sometimes without its SYN/ACK, while the first is still open.
    With small limits, sweeps come every few frames, idle connections are finished and forgotten, and
    the least recently active one is evicted: the bulk path must keep the same order of activity and
    the same sweep frames."""
    if small_limits:
        monkeypatch.setattr(engine, "SWEEP_INTERVAL", 7)
        monkeypatch.setattr(limits, "MAX_TRACKED_CONNECTIONS", 2)
        for name, value in (("IDLE_CONNECTION_FRAMES", 40), ("IDLE_CONNECTION_NS", 30_000_000),
                            ("FORGET_CONVERSATION_FRAMES", 60), ("FORGET_CONVERSATION_NS", 50_000_000)):
            monkeypatch.setattr(limits, name, value)
    rng = random.Random(seed)
    link = (ETHERNET, SLL2, ETHERNET | V6, SLL2 | V6)[seed % 4]
    flows = [_random_connection(rng, link, i, 41000 + i) for i in range(rng.randint(1, 5))]
    flows.append(_random_connection(rng, link, 0, 41000, reuse_isn=True))
    frames = []
    while any(flows):
        flow = rng.choice([f for f in flows if f])
        frames.extend(flow.pop(0) for _ in range(min(len(flow), rng.choice((1, 1, 1, 30)))))
    snap = {i: rng.randint(40, 120) for i in range(len(frames)) if rng.random() < 0.01}
    path = _write(tmp_path, f"random-{seed}.pcap", frames, link, snap)
    assert_same_with_and_without(path)
    assert report(path, True)["connections"]
