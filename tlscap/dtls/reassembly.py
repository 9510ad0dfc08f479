"""DTLS handshake reassembly for one direction (RFC 6347 §4.2.3, RFC 9147 §5.5): sans-IO, never raises.

Each handshake fragment carries its message's type, length, message_seq, and its own offset and length.
A message is whole when its fragments cover it; it is credited to the frame that completed it (Wireshark's
rule) and lists every frame that carried a fragment. A flight sent again carries the same message_seq:
such a copy is a `Retransmission` at the frame that completes the copy, never parsed again. What is still
missing at the end is `Incomplete` (a capture gap), never an exception.

Memory: at most limits.MAX_DTLS_PENDING_MESSAGES messages and limits.MAX_DTLS_PENDING_BYTES bytes are held
per direction; limits.MAX_DTLS_DONE_MESSAGES finished message_seq numbers are remembered.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from tlscap import limits

FRAGMENT_HEADER_LENGTH = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A whole handshake message: its type, message_seq, body (without the 12-byte header)."""

    msg_type: int
    message_seq: int
    body: bytes
    frame: int
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Retransmission:
    """A copy of a message already seen whole (same message_seq, type and length)."""

    msg_type: int
    message_seq: int
    frame: int
    first_frame: int  # where the original was completed


@dataclass(frozen=True, slots=True, kw_only=True)
class Incomplete:
    """A message of which fragments are missing (lost, or not held past a limit)."""

    msg_type: int
    message_seq: int
    length: int
    frame: int
    frames: tuple[int, ...]
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed:
    """Bytes in a handshake record that are no fragment header."""

    frame: int
    detail: str


Event = Message | Retransmission | Incomplete | Malformed


@dataclass(slots=True)
class _Pending:
    msg_type: int
    length: int
    data: bytearray
    ranges: list[tuple[int, int]] = field(default_factory=list)  # covered [start, end), merged
    frames: list[int] = field(default_factory=list)

    def add(self, offset: int, fragment: bytes, frame: int) -> None:
        self.data[offset : offset + len(fragment)] = fragment
        if frame not in self.frames:
            self.frames.append(frame)
        spans = sorted([*self.ranges, (offset, offset + len(fragment))])
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.ranges = merged

    @property
    def complete(self) -> bool:
        return self.ranges == [(0, self.length)] or self.length == 0

    def missing(self) -> str:
        holes, at = [], 0
        for start, end in self.ranges:
            if start > at:
                holes.append(f"{at}-{start - 1}")
            at = end
        if at < self.length:
            holes.append(f"{at}-{self.length - 1}")
        return f"bytes {', '.join(holes)} of {self.length} never arrived"


class HandshakeReassembler:
    """One direction's handshake messages from the fragments in its plaintext handshake records."""

    __slots__ = ("_pending", "_done", "_held", "_last_frame")

    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}
        # message_seq -> type, length, the frame that completed it, the frames that carried it
        self._done: OrderedDict[int, tuple[int, int, int, tuple[int, ...]]] = OrderedDict()
        self._held = 0
        self._last_frame = 0

    def feed(self, record_body: bytes, frame: int) -> list[Event]:
        """The events the fragments of one handshake record complete."""
        out: list[Event] = []
        self._last_frame = frame
        pos = 0
        while pos < len(record_body):
            if pos + FRAGMENT_HEADER_LENGTH > len(record_body):
                out.append(Malformed(frame=frame, detail=f"{len(record_body) - pos} bytes left over after the "
                                                         "handshake fragments of a record"))
                break
            head = record_body[pos : pos + FRAGMENT_HEADER_LENGTH]
            msg_type = head[0]
            length = int.from_bytes(head[1:4], "big")
            seq = int.from_bytes(head[4:6], "big")
            offset = int.from_bytes(head[6:9], "big")
            fragment_length = int.from_bytes(head[9:12], "big")
            body_end = pos + FRAGMENT_HEADER_LENGTH + fragment_length
            if offset + fragment_length > length or body_end > len(record_body):
                out.append(Malformed(frame=frame, detail=(
                    f"a {msg_type} fragment (message_seq {seq}) at {offset}+{fragment_length} of {length} bytes "
                    f"that its record does not hold")))
                break
            fragment = record_body[pos + FRAGMENT_HEADER_LENGTH : body_end]
            pos = body_end
            event = self._fragment(msg_type, length, seq, offset, fragment, frame)
            if event is not None:
                out.append(event)
        return out

    def _fragment(self, msg_type: int, length: int, seq: int, offset: int, fragment: bytes,
                  frame: int) -> Event | None:
        done = self._done.get(seq)
        if done is not None and done[0] == msg_type and done[1] == length:
            # A copy of a whole message: one Retransmission per copy, at the frame with its last byte.
            if offset + len(fragment) == length and frame != done[2]:
                return Retransmission(msg_type=msg_type, message_seq=seq, frame=frame, first_frame=done[2])
            return None
        pending = self._pending.get(seq)
        if pending is not None and (pending.msg_type != msg_type or pending.length != length):
            # The same message_seq with another message: the first one will not be finished.
            self._drop(seq)
            pending = None
        if pending is None:
            if length > limits.MAX_HANDSHAKE_MESSAGE:
                return Incomplete(msg_type=msg_type, message_seq=seq, length=length, frame=frame, frames=(frame,),
                                  detail=(f"declares {length} bytes, more than tlscap's limit of "
                                          f"{limits.MAX_HANDSHAKE_MESSAGE}"))
            if (len(self._pending) >= limits.MAX_DTLS_PENDING_MESSAGES
                    or self._held + length > limits.MAX_DTLS_PENDING_BYTES):
                return Incomplete(msg_type=msg_type, message_seq=seq, length=length, frame=frame, frames=(frame,),
                                  detail="more fragmented messages at once than tlscap holds; not reassembled")
            pending = _Pending(msg_type, length, bytearray(length))
            self._pending[seq] = pending
            self._held += length
        pending.add(offset, fragment, frame)
        if not pending.complete:
            return None
        self._drop(seq)
        self._done[seq] = (msg_type, length, frame, tuple(pending.frames))
        if len(self._done) > limits.MAX_DTLS_DONE_MESSAGES:
            self._done.popitem(last=False)
        return Message(msg_type=msg_type, message_seq=seq, body=bytes(pending.data), frame=frame,
                       frames=tuple(pending.frames))

    def _drop(self, seq: int) -> None:
        pending = self._pending.pop(seq, None)
        if pending is not None:
            self._held -= pending.length

    def finish(self) -> list[Incomplete]:
        """The messages still missing fragments (the capture lost them), oldest message_seq first."""
        out = [Incomplete(msg_type=p.msg_type, message_seq=seq, length=p.length, frame=max(p.frames),
                          frames=tuple(p.frames), detail=p.missing())
               for seq, p in sorted(self._pending.items())]
        self._pending.clear()
        self._held = 0
        return out
