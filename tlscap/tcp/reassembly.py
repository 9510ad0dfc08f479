"""Per-direction TCP reassembly: turns segments in capture order into ordered byte chunks.

Each delivered chunk remembers the frame that carried it. Retransmitted and overlapping bytes are
delivered once (the first copy wins, as in Wireshark); out-of-order segments wait, bounded, until
the hole before them is filled, as Wireshark's out-of-order reassembly does. A hole is given up, and
reported as a gap, only when it can no longer be filled by waiting within bounds: too much waits
(limits.MAX_PENDING_BYTES, counted with limits.PENDING_SEGMENT_OVERHEAD per segment, or
limits.MAX_PENDING_SEGMENTS), all connections together hold too much (limits.MAX_BUFFERED_BYTES), or
the direction ends (the connection closed, idled, was evicted, or the capture ended). The peer's
acknowledgement past a hole does not give it up: in a capture whose frames were reordered (merged
from several interfaces, or even/odd), the bytes it acknowledges can still come later in the file.
Bytes the snap length cut off are a gap too (`Gap.truncated`).

Memory: a direction that never holds a segment out of order keeps no list (`pending` is an empty
tuple until then), so a connection that is only a SYN costs a few small objects.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from tlscap import limits

SEQ_MOD = 1 << 32
_NOTHING_PENDING: tuple[()] = ()


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b in 32-bit sequence space."""
    d = (a - b) & 0xFFFFFFFF
    return d - SEQ_MOD if d & 0x80000000 else d


@dataclass(slots=True)
class Chunk:
    """In-order bytes of one direction, carried by `frame`."""

    data: bytes
    frame: int


@dataclass(slots=True)
class Gap:
    """`length` bytes of one direction that the capture does not hold.

    `truncated` is true when the bytes were on the wire in `frame` but cut by the snap length;
    otherwise the segment(s) were not captured, and `frame` is the first frame after the hole.
    """

    length: int
    frame: int
    truncated: bool = False


Delivery = Chunk | Gap


class BufferBudget:
    """Bytes of out-of-order payload held by all the reassemblers of one capture, against
    limits.MAX_BUFFERED_BYTES: past it, the reassembler that holds more gives up its hole."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0

    @property
    def exceeded(self) -> bool:
        return self.used > limits.MAX_BUFFERED_BYTES


@dataclass(slots=True)
class _Pending:
    seq: int
    data: bytes
    missing: int
    frame: int


class DirectionReassembler:
    """Reassembles one direction of one TCP connection.

    `push(seq, payload, missing, frame, syn, fin)` returns the deliveries it makes possible;
    `flush(frame)` ends the direction (capture end or close) and delivers what is left. `pending`
    holds the out-of-order segments in sequence order (an empty tuple while there are none).
    """

    __slots__ = ("next_seq", "pending", "pending_bytes", "budget")

    def __init__(self, budget: BufferBudget | None = None) -> None:
        self.budget = budget
        self.next_seq: int | None = None
        self.pending: list[_Pending] | tuple[()] = _NOTHING_PENDING
        self.pending_bytes = 0  # what the waiting segments cost: their bytes and PENDING_SEGMENT_OVERHEAD each

    def push(
        self, seq: int, payload: bytes, missing: int, frame: int, syn: bool = False, fin: bool = False
    ) -> list[Delivery]:
        out: list[Delivery] = []
        if syn:
            if self.next_seq is None:
                self.next_seq = (seq + 1) & 0xFFFFFFFF
            seq = (seq + 1) & 0xFFFFFFFF
        length = len(payload) + missing
        if length == 0:
            return out
        if self.next_seq is None:
            self.next_seq = seq
        offset = seq_diff(self.next_seq, seq)
        if offset >= length:
            return out  # a retransmission of bytes already delivered
        if offset < 0:
            self._hold(seq, payload, missing, frame)
            while self.pending and self._over_limits():
                out.extend(self._skip_hole(frame))
            return out
        self._deliver(payload, missing, offset, frame, out)
        self._drain(frame, out)
        return out

    def _over_limits(self) -> bool:
        return (len(self.pending) > limits.MAX_PENDING_SEGMENTS or self.pending_bytes > limits.MAX_PENDING_BYTES
                or (self.budget is not None and self.budget.exceeded))

    def is_next(self, seq: int) -> bool:
        """Whether a segment starting at `seq` would be delivered whole, as it is (nothing waits)."""
        return seq == self.next_seq and not self.pending

    def advance(self, length: int) -> None:
        """Account for `length` bytes at `next_seq` that the caller consumed itself (see `is_next`):
        what `push` does for such a segment, without building its delivery."""
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + length) & 0xFFFFFFFF

    def flush(self, frame: int) -> list[Delivery]:
        out: list[Delivery] = []
        while self.pending:
            out.extend(self._skip_hole(frame))
        return out

    def _hold(self, seq: int, payload: bytes, missing: int, frame: int) -> None:
        pending = self.pending
        if not pending:
            pending = self.pending = []
        base = self.next_seq or 0
        key = seq_diff(seq, base)
        at = bisect_left(pending, key, key=lambda p: seq_diff(p.seq, base))
        if at < len(pending) and pending[at].seq == seq:
            held = pending[at]
            if len(held.data) + held.missing >= len(payload) + missing:
                return  # the same bytes again (the first copy wins)
        pending.insert(at, _Pending(seq, payload, missing, frame))
        self._account(len(payload) + limits.PENDING_SEGMENT_OVERHEAD)

    def _deliver(self, payload: bytes, missing: int, offset: int, frame: int, out: list[Delivery]) -> None:
        captured = len(payload)
        if offset < captured:
            out.append(Chunk(payload[offset:] if offset else payload, frame))
            cut = missing
        else:
            cut = missing - (offset - captured)
        if cut > 0:
            out.append(Gap(cut, frame, truncated=True))
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + captured + missing - offset) & 0xFFFFFFFF

    def _take_first(self) -> _Pending:
        pending = self.pending
        assert isinstance(pending, list)
        first = pending.pop(0)
        self._account(-(len(first.data) + limits.PENDING_SEGMENT_OVERHEAD))
        if not pending:
            self.pending = _NOTHING_PENDING
        return first

    def _drain(self, frame: int, out: list[Delivery]) -> None:
        while self.pending:
            p = self.pending[0]
            assert self.next_seq is not None
            offset = seq_diff(self.next_seq, p.seq)
            if offset < 0:
                return
            self._take_first()
            if offset < len(p.data) + p.missing:
                self._deliver(p.data, p.missing, offset, p.frame, out)

    def _skip_hole(self, frame: int) -> list[Delivery]:
        """Give up on the hole before the first waiting segment and go on after it."""
        if not self.pending or self.next_seq is None:
            return []
        out: list[Delivery] = []
        first = self.pending[0]
        hole = seq_diff(first.seq, self.next_seq)
        if hole > 0:
            # The loss shows at the first frame after the hole ("previous segment not captured").
            out.append(Gap(hole, first.frame))
            self.next_seq = first.seq
        self._drain(frame, out)
        if self.pending and self.pending[0] is first:
            # Exactly half the sequence space away: neither ahead nor behind, it cannot be placed.
            self._take_first()
        return out

    def _account(self, change: int) -> None:
        self.pending_bytes += change
        if self.budget is not None:
            self.budget.used += change
