"""Wireshark's `tcp.stream` numbering: one index per TCP conversation, in order of first appearance.

A conversation is the unordered pair of endpoints (plus the tunnel identity). As in Wireshark, a
SYN (without ACK) whose sequence number differs from the first one seen in that direction starts a
new conversation on the same endpoints (port reuse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tlscap.decode.decoder import conversation_tunnel
from tlscap.decode.segment import ACK, SYN, Segment

Endpoint = tuple[str, int]
ConversationKey = tuple[tuple[str, ...], Endpoint, Endpoint]

T = TypeVar("T")


def conversation_key(seg: Segment) -> tuple[ConversationKey, bool]:
    """The direction-free key of the segment's conversation, and whether it is the 'first' side."""
    a = (seg.src_ip, seg.src_port)
    b = (seg.dst_ip, seg.dst_port)
    tunnel = conversation_tunnel(seg.tunnel) if seg.tunnel else ()
    if a <= b:
        return (tunnel, a, b), True
    return (tunnel, b, a), False


@dataclass(slots=True)
class Conversation(Generic[T]):
    """A numbered conversation and whatever state the caller keeps for it."""

    stream: int
    base_seq: dict[bool, int] = field(default_factory=dict)
    state: T | None = None


class StreamTable(Generic[T]):
    """Assigns stream indexes and finds the conversation of each segment."""

    def __init__(self) -> None:
        self._by_key: dict[ConversationKey, Conversation[T]] = {}
        self.count = 0

    def lookup(self, seg: Segment) -> tuple[Conversation[T], bool, bool]:
        """Return (conversation, side, is_new). `side` tells the two directions apart."""
        key, side = conversation_key(seg)
        conv = self._by_key.get(key)
        is_syn = (seg.flags & (SYN | ACK)) == SYN
        if conv is not None:
            base = conv.base_seq.get(side)
            if not (is_syn and base is not None and base != seg.seq):
                if base is None:
                    conv.base_seq[side] = seg.seq if is_syn else (seg.seq - 1) & 0xFFFFFFFF
                return conv, side, False
        conv = Conversation(stream=self.count)
        self.count += 1
        conv.base_seq[side] = seg.seq if seg.flags & SYN else (seg.seq - 1) & 0xFFFFFFFF
        self._by_key[key] = conv
        return conv, side, True

    def lookup_quoted(self, seg: Segment) -> None:
        """A TCP header quoted in an ICMP error: like Wireshark, give it a conversation if it has none."""
        key, _ = conversation_key(seg)
        if key not in self._by_key:
            self._by_key[key] = Conversation(stream=self.count)
            self.count += 1
