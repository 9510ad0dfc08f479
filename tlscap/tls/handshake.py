"""Sans-IO handshake-message framing: handshake records in, whole handshake messages out.

A message may span several records and a record may hold several messages. A message is credited
to the frame that completed it (Wireshark's rule) and lists every frame that carried part of it.

A message declaring more than `limits.MAX_HANDSHAKE_MESSAGE` bytes is not buffered: it is reported at
once as damaged (its `damaged` says why), and its bytes are passed over as they arrive, so the
messages after it are still read.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap import limits
from tlscap.tls.records import Record

HANDSHAKE_HEADER_LENGTH = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeMessage:
    """One handshake message: its type, its body (after the 4-byte header) and where it came from.

    `damaged` is set when bytes of the message are missing from the capture; `body` then holds
    only what was captured, and `declared_length` what the header announced.
    """

    msg_type: int
    body: bytes
    declared_length: int
    frame: int
    frames: tuple[int, ...]
    record_version: int
    damaged: str | None = None
    truncated: bool = False


class HandshakeReader:
    """Frames the handshake messages of one direction's plaintext handshake records."""

    __slots__ = ("_buf", "_frames", "_version", "_skip", "max_message")

    def __init__(self, *, max_message: int | None = None) -> None:
        self._buf = bytearray()
        self._frames: list[int] = []
        self._version = 0
        self._skip = 0  # bytes still to pass over of a message longer than the limit
        self.max_message = limits.MAX_HANDSHAKE_MESSAGE if max_message is None else max_message

    @property
    def pending(self) -> bool:
        return bool(self._buf) or self._skip > 0

    def feed(self, record: Record) -> list[HandshakeMessage]:
        out: list[HandshakeMessage] = []
        fragment = record.fragment or b""
        if self._skip:
            if record.damaged is not None:
                self._skip = 0  # the over-long message was reported already; sync is lost anyway
                return out
            passed = min(self._skip, len(fragment))
            self._skip -= passed
            fragment = fragment[passed:]
            if not fragment:
                return out
        if record.damaged is not None:
            out.extend(self._damaged(record, fragment))
            return out
        if self._buf:
            self._buf += fragment
            data: bytes | bytearray = self._buf
        else:  # the usual case: messages are cut straight out of the record, without buffering
            self._frames = []
            data = fragment
        self._version = record.version
        for f in record.frames:
            if f not in self._frames:
                self._frames.append(f)
        pos, end = 0, len(data)
        while end - pos >= HANDSHAKE_HEADER_LENGTH:
            length = (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
            stop = pos + HANDSHAKE_HEADER_LENGTH + length
            if length > self.max_message:
                damaged = (f"declares {length} bytes, more than tlscap's limit of {self.max_message} bytes "
                           "for a handshake message; not read")
                out.append(self._message(data[pos], b"", length, record, damaged=damaged))
                if stop <= end:  # only with a small max_message: go on after it
                    pos = stop
                    continue
                self._skip = stop - end
                pos = end
                break
            if stop > end:
                break
            out.append(self._message(data[pos], bytes(data[pos + HANDSHAKE_HEADER_LENGTH : stop]), length, record))
            pos = stop
            if pos < end:
                self._frames = [record.frames[-1]] if record.frames else []
        self._keep(data, pos)
        return out

    def _keep(self, data: bytes | bytearray, pos: int) -> None:
        """Buffer what follows `pos`: the start of a message the next records complete."""
        if data is self._buf:
            del self._buf[:pos]
        elif pos < len(data):
            self._buf += data[pos:]

    def _message(
        self, msg_type: int, body: bytes, length: int, record: Record, *, damaged: str | None = None
    ) -> HandshakeMessage:
        frames = tuple(self._frames) or record.frames
        return HandshakeMessage(
            msg_type=msg_type,
            body=body,
            declared_length=length,
            frame=record.frame,
            frames=frames,
            record_version=self._version,
            damaged=damaged,
            truncated=record.truncated,
        )

    def _damaged(self, record: Record, fragment: bytes) -> list[HandshakeMessage]:
        """A record with missing bytes: report the message it was building, then drop the rest."""
        data = bytes(self._buf) + fragment
        for f in record.frames:
            if f not in self._frames:
                self._frames.append(f)
        self._buf.clear()
        if len(data) < 1:
            return []
        length = int.from_bytes(data[1:4], "big") if len(data) >= 4 else 0
        body = data[4 : 4 + length]
        msg = HandshakeMessage(
            msg_type=data[0],
            body=body,
            declared_length=length,
            frame=record.frame,
            frames=tuple(self._frames) or record.frames,
            record_version=record.version,
            damaged=record.damaged,
            truncated=record.truncated,
        )
        self._frames = []
        return [msg]
