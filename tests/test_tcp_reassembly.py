"""TCP reassembly: order, retransmission, overlap, out-of-order, gaps, snap-length cuts."""

from tlscap import limits
from tlscap.tcp.reassembly import Chunk, DirectionReassembler, Gap, seq_diff


def _data(deliveries):
    return b"".join(d.data for d in deliveries if isinstance(d, Chunk))


def test_in_order_after_syn():
    r = DirectionReassembler()
    assert r.push(1000, b"", 0, 1, syn=True) == []
    out = r.push(1001, b"hello", 0, 2) + r.push(1006, b" world", 0, 3)
    assert _data(out) == b"hello world"
    assert [d.frame for d in out] == [2, 3]


def test_retransmission_delivered_once():
    r = DirectionReassembler()
    out = r.push(1, b"abc", 0, 1) + r.push(1, b"abc", 0, 2) + r.push(4, b"def", 0, 3)
    assert _data(out) == b"abcdef"
    assert [d.frame for d in out] == [1, 3]


def test_overlap_delivers_only_new_bytes():
    r = DirectionReassembler()
    out = r.push(1, b"abcd", 0, 1) + r.push(3, b"cdefg", 0, 2)
    assert _data(out) == b"abcdefg"
    assert out[1] == Chunk(b"efg", 2)


def test_out_of_order_waits_for_hole():
    r = DirectionReassembler()
    out1 = r.push(1, b"abc", 0, 1)
    out2 = r.push(7, b"ghi", 0, 2)
    assert out2 == []
    out3 = r.push(4, b"def", 0, 3)
    assert _data(out1 + out3) == b"abcdefghi"
    assert [d.frame for d in out3] == [3, 2]


def test_many_one_byte_segments_reversed():
    r = DirectionReassembler()
    r.push(0, b"", 0, 1, syn=True)
    data = bytes(range(50))
    out = []
    for i in reversed(range(50)):
        out += r.push(1 + i, data[i : i + 1], 0, 100 - i)
    assert _data(out) == data


def test_even_odd_order_is_reassembled_whole():
    """Even segments first, then odd ones (a reordered capture): every byte is delivered in order, and
    what completes the stream is the last odd segment (as Wireshark's out-of-order reassembly credits it)."""
    r = DirectionReassembler()
    r.push(0, b"", 0, 1, syn=True)
    data = bytes(range(256)) * 8  # 2,048 one-byte segments, 1,024 of them waiting at once
    order = list(range(0, len(data), 2)) + list(range(1, len(data), 2))
    out = []
    for frame, i in enumerate(order, start=2):
        out += r.push(1 + i, data[i : i + 1], 0, frame)
    assert _data(out) == data and not any(isinstance(d, Gap) for d in out)
    assert not r.pending and r.pending_bytes == 0


def test_waiting_limit_counts_bytes_with_a_per_segment_overhead(monkeypatch):
    """limits.MAX_PENDING_BYTES is read when segments wait, each costing its bytes plus
    limits.PENDING_SEGMENT_OVERHEAD: past it, the hole before them is declared lost."""
    monkeypatch.setattr(limits, "MAX_PENDING_BYTES", 10 * (1 + limits.PENDING_SEGMENT_OVERHEAD))
    r = DirectionReassembler()
    r.push(0, b"", 0, 1, syn=True)
    out = []
    for i in range(1, 12):  # bytes 2, 3, ... wait behind the hole at byte 1
        out += r.push(1 + i, b"x", 0, 1 + i)
    assert out[0] == Gap(1, 2) and _data(out) == b"x" * 11
    assert not r.pending and r.pending_bytes == 0


def test_peer_acknowledgement_does_not_give_up_a_hole():
    """The peer's ACK past a hole does not mean the capture lacks it: reordered frames bring it later."""
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    assert r.push(10, b"xyz", 0, 2) == []
    out = r.push(4, b"defghi", 0, 9)  # after a frame that acknowledged 13, in the capture's order
    assert _data(out) == b"defghixyz" and [d.frame for d in out] == [9, 2]


def test_flush_reports_hole_at_end():
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    r.push(10, b"xyz", 0, 2)
    out = r.flush(5)
    assert isinstance(out[0], Gap) and out[0].length == 6
    assert _data(out) == b"xyz"


def test_snaplen_cut_is_a_truncated_gap():
    r = DirectionReassembler()
    out = r.push(1, b"ab", 3, 7) + r.push(6, b"fg", 0, 8)
    assert out == [Chunk(b"ab", 7), Gap(3, 7, truncated=True), Chunk(b"fg", 8)]


def test_sequence_wraparound():
    r = DirectionReassembler()
    start = 0xFFFFFFFE
    out = r.push(start, b"ab", 0, 1) + r.push(0, b"cd", 0, 2)
    assert _data(out) == b"abcd"
    assert seq_diff(1, 0xFFFFFFFF) == 2


def test_segment_half_the_sequence_space_away_cannot_hang_the_flush():
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    r.push(1 + (1 << 31), b"far", 0, 2)  # neither ahead nor behind
    out = r.flush(3)
    assert not r.pending and isinstance(out, list)
