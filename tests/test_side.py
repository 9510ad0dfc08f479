"""The transport's two sides: named by the conversation key's order, opposite by `other`, indexing as 0 and 1."""

from __future__ import annotations

from tlscap.side import Side


def test_other_is_the_opposite_side() -> None:
    assert Side.FIRST.other is Side.SECOND
    assert Side.SECOND.other is Side.FIRST


def test_a_side_indexes_a_pair_as_second_then_first() -> None:
    pair = ("second", "first")
    assert pair[Side.SECOND] == "second" and pair[Side.FIRST] == "first"
