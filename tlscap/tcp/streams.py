"""Wireshark's `tcp.stream` numbering: one index per TCP conversation, in order of first appearance.

A conversation is the unordered pair of endpoints (plus the tunnel identity). As in Wireshark, a
SYN (without ACK) whose sequence number differs from the first one seen in that direction starts a
new conversation on the same endpoints (port reuse).
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from socket import AF_INET, AF_INET6, inet_pton
from typing import Generic, TypeVar

from tlscap import limits
from tlscap.decode.decoder import conversation_tunnel
from tlscap.decode.segment import ACK, SYN, Segment
from tlscap.side import Side

Endpoint = tuple[str, int]
ConversationKey = tuple[tuple[str, ...], Endpoint, Endpoint]

T = TypeVar("T")

_FIRST, _SECOND = Side.FIRST, Side.SECOND  # bound once: looked up on the class, a member costs ~70 ns


def conversation_key(seg: Segment) -> tuple[ConversationKey, Side]:
    """The direction-free key of the segment's conversation, and the segment's side: FIRST when its sender
    is the key's first endpoint."""
    a = (seg.src_ip, seg.src_port)
    b = (seg.dst_ip, seg.dst_port)
    tunnel = conversation_tunnel(seg.tunnel) if seg.tunnel else ()
    if a <= b:
        return (tunnel, a, b), _FIRST
    return (tunnel, b, a), _SECOND


@dataclass(slots=True)
class Conversation(Generic[T]):
    """A numbered conversation and whatever state the caller keeps for it.

    `first_base` and `second_base` are the sequence numbers before the first byte of side FIRST and
    side SECOND (`conversation_key`), None until that side is seen; two fields rather than a dict,
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


def _set_base(conv: Conversation[T], side: Side, base: int) -> None:
    if side is _FIRST:
        conv.first_base = base
    else:
        conv.second_base = base


def _compact_key(key: ConversationKey) -> bytes:
    """A retired conversation's key as one bytes object, a fraction of the memory of the nested tuples:
    b"\\x01", then each address packed (4 or 16 bytes) and port (2 bytes) when there is no tunnel and both
    addresses are IP text (the usual case: 13 bytes where the text took about 35); else b"\\x02" and the
    text, each part separated by U+001F."""
    tunnel, (a_ip, a_port), (b_ip, b_port) = key
    if not tunnel:
        try:
            return b"".join((b"\x01", inet_pton(AF_INET6 if ":" in a_ip else AF_INET, a_ip), a_port.to_bytes(2, "big"),
                             inet_pton(AF_INET6 if ":" in b_ip else AF_INET, b_ip), b_port.to_bytes(2, "big")))
        except (OSError, ValueError, OverflowError):
            pass  # not an address tlscap's decoder writes: the text form
    return b"\x02" + "\x1f".join((*tunnel, a_ip, str(a_port), b_ip, str(b_port))).encode("utf-8", "surrogatepass")


# A retired conversation packed into one integer, from the low bits: stream (32), first_base + 1 (33; 0
# for None), second_base + 1 (33), quiet_frame (40), quiet_since in whole seconds, rounded up, + 2**39 (40),
# then the index of its state in the table's list of distinct states (the engine retires two: closed, or
# None). 180 bits: six 30-bit digits, 48 bytes (nanoseconds and 48-bit frames took 56), for each of the
# 100,000s of finished conversations a short capture holds.
_BASE_BITS, _FRAME_BITS, _TIME_BITS = 33, 40, 40
_SHIFT_FIRST, _SHIFT_SECOND = 32, 32 + _BASE_BITS
_SHIFT_FRAME = _SHIFT_SECOND + _BASE_BITS
_SHIFT_TIME = _SHIFT_FRAME + _FRAME_BITS
_SHIFT_STATE = _SHIFT_TIME + _TIME_BITS
_TIME_OFFSET = 1 << (_TIME_BITS - 1)
_NS = 1_000_000_000


def _field(packed: int, shift: int, bits: int) -> int:
    return (packed >> shift) & ((1 << bits) - 1)


def _quiet_frame(packed: int) -> int:
    return _field(packed, _SHIFT_FRAME, _FRAME_BITS)


def _time_field(time_ns: int) -> int:
    """A capture time (ns) in whole seconds, rounded up, offset into the field's 40 bits; times beyond
    ±2**39 s (a damaged or hostile timestamp) are held at the field's ends, never spilled into the state."""
    seconds = -(-time_ns // _NS)
    return min(max(seconds + _TIME_OFFSET, 0), (1 << _TIME_BITS) - 1)


def _quiet_since(packed: int) -> int:
    """Capture time (ns) of the packet the conversation has been quiet since, rounded up to the second:
    it is forgotten up to a second late, never early."""
    return (_field(packed, _SHIFT_TIME, _TIME_BITS) - _TIME_OFFSET) * _NS


def _with_quiet_frame(packed: int, frame: int) -> int:
    mask = ((1 << _FRAME_BITS) - 1) << _SHIFT_FRAME
    return (packed & ~mask) | (frame & ((1 << _FRAME_BITS) - 1)) << _SHIFT_FRAME


class StreamTable(Generic[T]):
    """Assigns stream indexes and finds the conversation of each segment.

    Conversations in use live in `_by_key`. A retired one (the caller is done with it) is packed into
    `_retired`, keyed by bytes (`_compact_key`), in the order it went quiet: about 150 bytes instead of 650, for the
    100,000s of finished conversations a capture can hold until they are forgotten. A packet of a
    retired conversation unpacks it (`lookup`); `touch` packs it again.
    """

    def __init__(self) -> None:
        self._by_key: dict[ConversationKey, Conversation[T]] = {}
        self._retired: dict[bytes, int] = {}
        self._states: list[object] = []  # the distinct states of retired conversations
        self._state_index: dict[int, int] = {}  # id(state) -> its index in _states
        # The keys in the order conversations went quiet, with the quiet_frame each was queued at (in an array
        # beside them, from `_frames_head` on: 8 bytes each where a tuple and its integer took 90); an entry
        # whose conversation was touched since (its quiet_frame moved on) is passed over. A dict cannot be
        # popped from its front cheaply.
        self._quiet_keys: deque[bytes] = deque()
        self._quiet_frames = array("q")
        self._frames_head = 0
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
        self._retired[compact] = self._pack(conv)
        self._queue(frame, compact)

    def _queue(self, frame: int, compact: bytes) -> None:
        self._quiet_keys.append(compact)
        self._quiet_frames.append(frame & ((1 << _FRAME_BITS) - 1))

    def _dequeue(self) -> tuple[int, bytes]:
        frames, head = self._quiet_frames, self._frames_head
        frame = frames[head]
        head += 1
        if head >= 4096 and head * 2 >= len(frames):
            del frames[:head]  # keep the array as long as what is queued
            head = 0
        self._frames_head = head
        return frame, self._quiet_keys.popleft()

    def _pack(self, conv: Conversation[T]) -> int:
        index = self._state_index.get(id(conv.state))
        if index is None:
            index = self._state_index[id(conv.state)] = len(self._states)
            self._states.append(conv.state)
        first = 0 if conv.first_base is None else conv.first_base + 1
        second = 0 if conv.second_base is None else conv.second_base + 1
        return (conv.stream | first << _SHIFT_FIRST | second << _SHIFT_SECOND
                | (conv.quiet_frame & ((1 << _FRAME_BITS) - 1)) << _SHIFT_FRAME
                | _time_field(conv.quiet_since or 0) << _SHIFT_TIME | index << _SHIFT_STATE)

    def _unpack(self, key: ConversationKey, packed: int) -> Conversation[T]:
        first, second = _field(packed, _SHIFT_FIRST, _BASE_BITS), _field(packed, _SHIFT_SECOND, _BASE_BITS)
        state = self._states[packed >> _SHIFT_STATE]
        return Conversation(stream=packed & 0xFFFFFFFF, first_base=first - 1 if first else None,
                            second_base=second - 1 if second else None, state=state,  # type: ignore[arg-type]
                            key=key, quiet_since=_quiet_since(packed), quiet_frame=_quiet_frame(packed))

    def forget_quiet(self, now_ns: int, frame: int) -> int:
        """Forget the retired conversations that have shown no packet for limits.FORGET_CONVERSATION_NS
        of capture time and limits.FORGET_CONVERSATION_FRAMES frames; returns how many. A packet with
        their endpoints starts a new conversation, with a new stream index."""
        before_frame = frame - limits.FORGET_CONVERSATION_FRAMES
        before_ns = now_ns - limits.FORGET_CONVERSATION_NS
        forgotten = 0
        retired, keys = self._retired, self._quiet_keys
        while keys and self._quiet_frames[self._frames_head] < before_frame:  # queued in frame order
            queued_frame, compact = self._dequeue()
            packed = retired.get(compact)
            if packed is None or _quiet_frame(packed) != queued_frame:
                continue  # unpacked (in use), touched since (queued again), or forgotten
            if _quiet_since(packed) >= before_ns:
                # Quiet in frames but not in capture time (the clock jumped back): look again only after
                # as many frames more, so such conversations cost nothing per sweep.
                retired[compact] = _with_quiet_frame(packed, frame)
                self._queue(frame, compact)
                continue
            del retired[compact]
            forgotten += 1
        return forgotten

    def _find(self, key: ConversationKey) -> Conversation[T] | None:
        conv = self._by_key.get(key)
        if conv is None and self._retired:
            packed = self._retired.pop(_compact_key(key), None)
            if packed is not None:
                conv = self._unpack(key, packed)
                self._by_key[key] = conv
        return conv

    def lookup(self, seg: Segment) -> tuple[Conversation[T], Side, bool]:
        """Return (conversation, side, is_new). `side` tells the two directions apart."""
        key, side = conversation_key(seg)
        conv = self._find(key)
        is_syn = (seg.flags & (SYN | ACK)) == SYN
        if conv is not None:
            base = conv.first_base if side is _FIRST else conv.second_base
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
