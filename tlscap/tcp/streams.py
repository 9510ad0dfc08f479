"""Wireshark's `tcp.stream` numbering: one index per TCP conversation, in order of first appearance.

A conversation is the unordered pair of endpoints (plus the tunnel identity). As in Wireshark, a
SYN (without ACK) whose sequence number differs from the first one seen in that direction starts a
new conversation on the same endpoints (port reuse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tlscap import limits
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
    """A numbered conversation and whatever state the caller keeps for it.

    `first_base` and `second_base` are the sequence numbers before the first byte of the 'first' and
    the other side (`conversation_key`), None until that side is seen; two fields rather than a dict,
    which would cost ~150 bytes more for each of the up to 100,000s of conversations remembered.
    `quiet_since` (capture time) and `quiet_frame` say since when a finished conversation has been
    silent (see `StreamTable.retire`); `quiet_since` is None while the caller uses it.
    """

    stream: int
    first_base: int | None = None
    second_base: int | None = None
    state: T | None = None
    key: ConversationKey | None = None
    quiet_since: int | None = None
    quiet_frame: int = 0


def _set_base(conv: Conversation[T], side: bool, base: int) -> None:
    if side:
        conv.first_base = base
    else:
        conv.second_base = base


def _compact_key(key: ConversationKey) -> str:
    """A retired conversation's key as one string: a fraction of the memory of the nested tuples."""
    tunnel, (a_ip, a_port), (b_ip, b_port) = key
    return "\x1f".join((*tunnel, a_ip, str(a_port), b_ip, str(b_port)))


# A retired conversation, packed: (stream | (first_base + 1) << 32 | (second_base + 1) << 65, quiet_since,
# quiet_frame, state). A base of None packs as 0.
_Packed = tuple[int, int, int, object]


def _pack(conv: Conversation[T]) -> _Packed:
    first = 0 if conv.first_base is None else conv.first_base + 1
    second = 0 if conv.second_base is None else conv.second_base + 1
    return (conv.stream | first << 32 | second << 65, conv.quiet_since or 0, conv.quiet_frame, conv.state)


def _unpack(key: ConversationKey, packed: _Packed) -> Conversation[T]:
    number, quiet_since, quiet_frame, state = packed
    first, second = (number >> 32) & ((1 << 33) - 1), number >> 65
    return Conversation(stream=number & 0xFFFFFFFF, first_base=first - 1 if first else None,
                        second_base=second - 1 if second else None, state=state,  # type: ignore[arg-type]
                        key=key, quiet_since=quiet_since, quiet_frame=quiet_frame)


class StreamTable(Generic[T]):
    """Assigns stream indexes and finds the conversation of each segment.

    Conversations in use live in `_by_key`. A retired one (the caller is done with it) is packed into
    `_retired`, keyed by a string, in the order it went quiet: about 250 bytes instead of 650, for the
    100,000s of finished conversations a capture can hold until they are forgotten. A packet of a
    retired conversation unpacks it (`lookup`); `touch` packs it again.
    """

    def __init__(self) -> None:
        self._by_key: dict[ConversationKey, Conversation[T]] = {}
        self._retired: dict[str, _Packed] = {}  # oldest quiet first
        self.count = 0

    def __len__(self) -> int:
        """How many conversations are remembered."""
        return len(self._by_key) + len(self._retired)

    def retire(self, conv: Conversation[T], now_ns: int, frame: int) -> None:
        """The caller is done with `conv` for now: it is packed, and forgotten once quiet long enough
        (`forget_quiet`). A late packet unpacks it (`lookup`) and `touch` packs it again, quiet from then."""
        self.touch(conv, now_ns, frame)

    def touch(self, conv: Conversation[T], now_ns: int, frame: int) -> None:
        """A packet of a retired conversation: it has been quiet since now."""
        conv.quiet_since = now_ns
        conv.quiet_frame = frame
        if conv.key is None:
            return
        if self._by_key.get(conv.key) is conv:
            del self._by_key[conv.key]
        compact = _compact_key(conv.key)
        self._retired.pop(compact, None)  # to the end: quiet from now
        self._retired[compact] = _pack(conv)

    def forget_quiet(self, now_ns: int, frame: int) -> int:
        """Forget the retired conversations that have shown no packet for limits.FORGET_CONVERSATION_NS
        of capture time and limits.FORGET_CONVERSATION_FRAMES frames; returns how many. A packet with
        their endpoints starts a new conversation, with a new stream index."""
        before_frame = frame - limits.FORGET_CONVERSATION_FRAMES
        before_ns = now_ns - limits.FORGET_CONVERSATION_NS
        forgotten = 0
        retired = self._retired
        behind: list[tuple[str, _Packed]] = []
        while retired:
            compact = next(iter(retired))
            packed = retired[compact]
            if packed[2] >= before_frame:
                break  # in quiet order: the rest are quieter for less long
            del retired[compact]
            if packed[1] >= before_ns:
                # Quiet in frames but not in capture time (the clock jumped back): look again only after
                # as many frames more, so such conversations cost nothing per sweep.
                behind.append((compact, (packed[0], packed[1], frame, packed[3])))
                continue
            forgotten += 1
        for compact, packed in behind:
            retired[compact] = packed
        return forgotten

    def _find(self, key: ConversationKey) -> Conversation[T] | None:
        conv = self._by_key.get(key)
        if conv is None and self._retired:
            packed = self._retired.pop(_compact_key(key), None)
            if packed is not None:
                conv = _unpack(key, packed)
                self._by_key[key] = conv
        return conv

    def lookup(self, seg: Segment) -> tuple[Conversation[T], bool, bool]:
        """Return (conversation, side, is_new). `side` tells the two directions apart."""
        key, side = conversation_key(seg)
        conv = self._find(key)
        is_syn = (seg.flags & (SYN | ACK)) == SYN
        if conv is not None:
            base = conv.first_base if side else conv.second_base
            if base is not None and not is_syn:
                return conv, side, False  # the common case: a known conversation, mid-stream
            if not (is_syn and base is not None and base != seg.seq):
                if base is None:
                    _set_base(conv, side, seg.seq if is_syn else (seg.seq - 1) & 0xFFFFFFFF)
                return conv, side, False
        conv = Conversation(stream=self.count, key=key)
        self.count += 1
        _set_base(conv, side, seg.seq if seg.flags & SYN else (seg.seq - 1) & 0xFFFFFFFF)
        self._by_key[key] = conv
        return conv, side, True

    def lookup_quoted(self, seg: Segment) -> None:
        """A TCP header quoted in an ICMP error: like Wireshark, give it a conversation if it has none."""
        key, _ = conversation_key(seg)
        if self._find(key) is None:
            conv: Conversation[T] = Conversation(stream=self.count, key=key)
            self._by_key[key] = conv
            self.count += 1
            self.retire(conv, seg.timestamp_ns, seg.frame)  # nobody uses it unless packets of its own come
