"""Per-direction TCP reassembly: turns segments in capture order into ordered byte chunks.

Each delivered chunk remembers the frame that carried it. Retransmitted and overlapping bytes are
delivered once (the first copy wins, as in Wireshark); out-of-order segments wait, bounded, until
the hole before them is filled. A hole that can no longer be filled (the receiver acknowledged past
it, the sender closed, too much is waiting, or the capture ended) is reported as a gap, and so are
bytes the snap length cut off (`Gap.truncated`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap import limits

SEQ_MOD = 1 << 32
MAX_PENDING_SEGMENTS = 256
MAX_PENDING_BYTES = 1 << 20


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
    `ack_seen(ack, frame)` lets the peer's acknowledgement declare a hole lost;
    `flush(frame)` ends the direction (capture end or close) and delivers what is left.
    """

    __slots__ = ("next_seq", "pending", "pending_bytes", "fin_seen", "bytes_delivered", "peer_ack", "budget")

    def __init__(self, budget: BufferBudget | None = None) -> None:
        self.budget = budget
        self.next_seq: int | None = None
        self.pending: list[_Pending] = []
        self.pending_bytes = 0
        self.fin_seen = False
        self.bytes_delivered = 0
        self.peer_ack: int | None = None

    def push(
        self, seq: int, payload: bytes, missing: int, frame: int, syn: bool = False, fin: bool = False
    ) -> list[Delivery]:
        out: list[Delivery] = []
        if syn:
            if self.next_seq is None:
                self.next_seq = (seq + 1) & 0xFFFFFFFF
            seq = (seq + 1) & 0xFFFFFFFF
        if fin:
            self.fin_seen = True
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
            acked_past_hole = self.peer_ack is not None and seq_diff(self.peer_ack, seq) >= 0
            if (acked_past_hole or len(self.pending) > MAX_PENDING_SEGMENTS
                    or self.pending_bytes > MAX_PENDING_BYTES or (self.budget is not None and self.budget.exceeded)):
                out.extend(self._skip_hole(frame))
            return out
        self._deliver(payload, missing, offset, frame, out)
        self._drain(frame, out)
        return out

    def is_next(self, seq: int) -> bool:
        """Whether a segment starting at `seq` would be delivered whole, as it is (nothing waits)."""
        return seq == self.next_seq and not self.pending

    def advance(self, length: int) -> None:
        """Account for `length` bytes at `next_seq` that the caller consumed itself (see `is_next`):
        what `push` does for such a segment, without building its delivery."""
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + length) & 0xFFFFFFFF
        self.bytes_delivered += length

    def note_ack(self, ack: int) -> None:
        """Remember the peer's highest acknowledgement (nothing waits, so nothing else to do)."""
        peer_ack = self.peer_ack
        # seq_diff(ack, peer_ack) > 0, inline: this runs for nearly every packet.
        if peer_ack is None or 0 < ((ack - peer_ack) & 0xFFFFFFFF) < 0x80000000:
            self.peer_ack = ack

    def ack_seen(self, ack: int, frame: int) -> list[Delivery]:
        """The peer acknowledged up to `ack`: a hole before that was lost, not late."""
        if self.peer_ack is None or seq_diff(ack, self.peer_ack) > 0:
            self.peer_ack = ack
        if self.next_seq is None or not self.pending or seq_diff(ack, self.next_seq) <= 0:
            return []
        if seq_diff(self.pending[0].seq, self.next_seq) <= 0:
            return []
        if seq_diff(ack, self.pending[0].seq) < 0:
            return []  # the acknowledgement does not reach the waiting data yet
        out: list[Delivery] = []
        out.extend(self._skip_hole(frame))
        return out

    def flush(self, frame: int) -> list[Delivery]:
        out: list[Delivery] = []
        while self.pending:
            out.extend(self._skip_hole(frame))
        return out

    def _hold(self, seq: int, payload: bytes, missing: int, frame: int) -> None:
        for p in self.pending:
            if p.seq == seq and len(p.data) + p.missing >= len(payload) + missing:
                return
        self.pending.append(_Pending(seq, payload, missing, frame))
        self.pending.sort(key=lambda p: seq_diff(p.seq, self.next_seq or 0))
        self._account(len(payload))

    def _deliver(self, payload: bytes, missing: int, offset: int, frame: int, out: list[Delivery]) -> None:
        captured = len(payload)
        if offset < captured:
            data = payload[offset:] if offset else payload
            out.append(Chunk(data, frame))
            self.bytes_delivered += len(data)
            cut = missing
        else:
            cut = missing - (offset - captured)
        if cut > 0:
            out.append(Gap(cut, frame, truncated=True))
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + captured + missing - offset) & 0xFFFFFFFF

    def _drain(self, frame: int, out: list[Delivery]) -> None:
        while self.pending:
            p = self.pending[0]
            assert self.next_seq is not None
            offset = seq_diff(self.next_seq, p.seq)
            if offset < 0:
                return
            self.pending.pop(0)
            self._account(-len(p.data))
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
            self.pending.pop(0)
            self._account(-len(first.data))
        return out

    def _account(self, change: int) -> None:
        self.pending_bytes += change
        if self.budget is not None:
            self.budget.used += change
