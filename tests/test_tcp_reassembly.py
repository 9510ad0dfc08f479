"""TCP reassembly: order, retransmission, overlap, out-of-order, gaps, snap-length cuts."""

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


def test_gap_declared_when_peer_acks_past_hole():
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    assert r.push(10, b"xyz", 0, 2) == []
    out = r.ack_seen(13, 3)
    assert out[0] == Gap(6, 2)  # shown at the first frame after the hole
    assert _data(out) == b"xyz"


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


def test_segment_after_hole_the_peer_already_acknowledged_is_not_held():
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    r.ack_seen(10, 2)  # the receiver got bytes 4..9, which the capture lacks
    out = r.push(10, b"xyz", 0, 3)
    assert out[0] == Gap(6, 3)  # the segment after the hole is this one
    assert _data(out) == b"xyz"


def test_segment_half_the_sequence_space_away_cannot_hang_the_flush():
    r = DirectionReassembler()
    r.push(1, b"abc", 0, 1)
    r.push(1 + (1 << 31), b"far", 0, 2)  # neither ahead nor behind
    out = r.flush(3)
    assert r.pending == [] and isinstance(out, list)
