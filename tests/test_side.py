"""The transport's two sides: named by the conversation key's order, opposite by `other`, indexing as 0 and 1."""

from __future__ import annotations

from tlscap.decode.segment import ACK, Segment
from tlscap.side import Side
from tlscap.tcp.streams import conversation_key


def _segment(src: tuple[str, int], dst: tuple[str, int]) -> Segment:
    return Segment(src_ip=src[0], dst_ip=dst[0], src_port=src[1], dst_port=dst[1], seq=1, ack=1, flags=ACK,
                   payload=b"")


def test_other_is_the_opposite_side() -> None:
    assert Side.FIRST.other is Side.SECOND
    assert Side.SECOND.other is Side.FIRST


def test_a_side_indexes_a_pair_as_second_then_first() -> None:
    pair = ("second", "first")
    assert pair[Side.SECOND] == "second" and pair[Side.FIRST] == "first"


def test_the_first_side_sends_from_the_endpoint_that_sorts_first() -> None:
    low, high = ("10.0.0.1", 50000), ("10.0.0.2", 443)
    key, side = conversation_key(_segment(low, high))
    assert side is Side.FIRST and key[1] == low
    key_back, side_back = conversation_key(_segment(high, low))
    assert side_back is Side.SECOND and key_back == key
