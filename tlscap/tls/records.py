"""Sans-IO TLS record reader for one direction of a connection.

Feed it the direction's bytes in order (`feed`) and the holes in them (`gap`); it returns complete
records. It finds where TLS starts by content, not by port: before the first record, each chunk
that does not begin like a TLS record (or an SSLv2-format ClientHello) is taken for the plaintext
protocol in front of it (SMTP before STARTTLS, a PostgreSQL SSLRequest, ...). Application-data
records are skipped by length without being kept, unless `keep_application_data` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap import limits
from tlscap.tls.constants import ContentType, HandshakeType

SSLV2_HELLO = -2  # pseudo content type for an SSLv2-format hello (body starts with its message type)

HEADER_LENGTH = 5
# The content types of TLS records (DTLS adds tls12_cid and ack). As plain ints, bound once: every
# record is looked up and compared with them (an enum member's attribute read costs several times more).
_KNOWN_TYPES = frozenset(int(t) for t in (ContentType.CHANGE_CIPHER_SPEC, ContentType.ALERT,
                                          ContentType.HANDSHAKE, ContentType.APPLICATION_DATA, ContentType.HEARTBEAT))
_APPLICATION_DATA = int(ContentType.APPLICATION_DATA)
# Before TLS is found, a segment shorter than this that starts like a record (or an SSLv2 hello) is
# held until enough bytes came to judge (a record header and the first handshake byte).
PRESYNC_BYTES = 6
_RECORD_STARTS = frozenset(bytes([b]) for b in (ContentType.CHANGE_CIPHER_SPEC, ContentType.ALERT,
                                                ContentType.HANDSHAKE, ContentType.APPLICATION_DATA,
                                                *range(0x80, 0x100)))  # and an SSLv2 hello's length
# Handshake types a direction's first captured record may start with (a capture can begin mid-handshake).
_FIRST_HANDSHAKE_TYPES = frozenset({
    HandshakeType.CLIENT_HELLO, HandshakeType.SERVER_HELLO, HandshakeType.NEW_SESSION_TICKET,
    HandshakeType.CERTIFICATE, HandshakeType.SERVER_KEY_EXCHANGE, HandshakeType.CERTIFICATE_REQUEST,
    HandshakeType.SERVER_HELLO_DONE, HandshakeType.CERTIFICATE_VERIFY, HandshakeType.CLIENT_KEY_EXCHANGE,
    HandshakeType.FINISHED, HandshakeType.CERTIFICATE_STATUS,
})
# A first handshake message declaring this many bytes or more is taken for another protocol's bytes.
_IMPLAUSIBLE_FIRST_MESSAGE = 1 << 20
# The longest alert record: 2 bytes, or an encrypted one with its MAC, explicit IV and padding.
_LONGEST_ALERT_RECORD = 2 + 256 + 64


@dataclass(slots=True)
class Record:
    """One TLS record. `fragment` is None when the body was skipped (application data).

    `frame` is the frame that completed the record; `frames` every frame that carried a byte of it.
    `damaged` says why the body is incomplete (bytes missing from the capture), else None.
    Treated as immutable; not frozen, so that making one (once per record) stays cheap.
    """

    content_type: int
    version: int
    length: int
    fragment: bytes | None
    frame: int
    frames: tuple[int, ...]
    damaged: str | None = None
    truncated: bool = False
    decrypted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Desync:
    """The stream stopped looking like TLS at `frame`; `reason` says how."""

    frame: int
    reason: str
    truncated: bool = False
    # The bytes lost came before anything of this direction was read: where its first handshake message
    # (the ClientHello, the ServerHello) would be.
    at_start: bool = False


RecordEvent = Record | Desync


def looks_like_record_start(data: bytes, *, first: bool) -> bool:
    """Whether `data` begins with a plausible TLS record header (or an SSLv2 ClientHello).

    `first` asks for the stricter test used before any TLS was seen in this direction: a handshake
    record that opens with a plausible handshake message, an alert, a ChangeCipherSpec, or
    application data (a capture that begins after the handshake).
    """
    if len(data) < HEADER_LENGTH:
        return first and looks_like_sslv2_hello(data)
    ctype, major, minor = data[0], data[1], data[2]
    length = (data[3] << 8) | data[4]
    if major != 3 or minor > 4 or length == 0 or length > limits.MAX_RECORD_LENGTH:
        return first and looks_like_sslv2_hello(data)
    if not first:
        return ctype in _KNOWN_TYPES
    if ctype == ContentType.HANDSHAKE:
        if len(data) < HEADER_LENGTH + 4:
            return len(data) == HEADER_LENGTH or data[5] in _FIRST_HANDSHAKE_TYPES
        hs_length = int.from_bytes(data[6:9], "big")
        return data[5] in _FIRST_HANDSHAKE_TYPES and hs_length < _IMPLAUSIBLE_FIRST_MESSAGE
    if ctype == ContentType.ALERT:
        return length <= _LONGEST_ALERT_RECORD
    if ctype == ContentType.APPLICATION_DATA:
        return 1 <= minor <= 3  # the capture began after the handshake; TLS 1.3 also says 0x0303 here
    if ctype == ContentType.CHANGE_CIPHER_SPEC:
        return length == 1 and len(data) > HEADER_LENGTH and data[5] == 1
    return False


def looks_like_sslv2_hello(data: bytes) -> bool:
    """An SSLv2-format hello: 2-byte length with the high bit, then a ClientHello (type 1, version
    0x0002/0x03xx) or an SSL 2.0 ServerHello (type 4, session-id-hit 0/1, certificate type X.509)."""
    if len(data) < 5 or not data[0] & 0x80:
        return False
    length = ((data[0] & 0x7F) << 8) | data[1]
    if data[2] == 1:
        return length >= 9 and (data[3], data[4]) in ((0, 2), (3, 0), (3, 1), (3, 2), (3, 3))
    return data[2] == 4 and length >= 11 and data[3] in (0, 1) and data[4] == 1


class RecordReader:
    """Reads the records of one direction; see the module docstring."""

    __slots__ = (
        "synced", "keep_application_data", "_header", "_body", "_need", "_ctype", "_version", "_length",
        "_frames", "_damaged", "_truncated", "_skipping", "records_seen", "plaintext_bytes_skipped",
        "_presync", "_start_lost",
    )

    def __init__(self, *, keep_application_data: bool = False) -> None:
        self.synced = False
        self.keep_application_data = keep_application_data
        self._header = bytearray()
        self._body = bytearray()
        self._need = 0
        self._ctype = 0
        self._version = 0
        self._length = 0
        self._frames: list[int] = []
        self._damaged: str | None = None
        self._truncated = False
        self._skipping = False
        self.records_seen = 0
        self.plaintext_bytes_skipped = 0
        self._presync: list[tuple[bytes, int]] = []
        self._start_lost = False

    def feed(self, data: bytes, carrier: int, now_frame: int, *, chunk_start: bool = True) -> list[RecordEvent]:
        """Take the next in-order bytes, carried by frame `carrier`, delivered while reading `now_frame`."""
        if not self.synced:
            if self._presync or (chunk_start and len(data) < PRESYNC_BYTES and data[:1] in _RECORD_STARTS):
                return self._feed_presync(data, carrier, now_frame)
            if not (chunk_start and looks_like_record_start(data, first=self.records_seen == 0)):
                self.plaintext_bytes_skipped += len(data)
                return []
            self.synced = True
        return self._feed_synced(data, carrier, now_frame)

    def skip_body(self, length: int, carrier: int) -> bool:
        """Take `length` in-order bytes that fall inside the body of an application-data record being
        skipped and do not complete it: what `feed` would do with them, without the general loop (bulk
        data is most of a capture). Returns False, taking nothing, for any other bytes."""
        if not self._skipping or self._need <= length:
            return False
        self._need -= length
        frames = self._frames
        if not frames or frames[-1] != carrier:
            frames.append(carrier)
        return True

    def _feed_presync(self, data: bytes, carrier: int, now_frame: int) -> list[RecordEvent]:
        """A segment too short to judge (a record split after 1-5 bytes, as one-byte segments or DPI
        evasion do): keep it until enough bytes have come to tell TLS from plaintext."""
        self._presync.append((data, carrier))
        held = b"".join(piece for piece, _ in self._presync)
        if len(held) < PRESYNC_BYTES:
            return []
        pieces, self._presync = self._presync, []
        if not looks_like_record_start(held, first=self.records_seen == 0):
            self.plaintext_bytes_skipped += len(held)
            return []
        self.synced = True
        out: list[RecordEvent] = []
        for piece, piece_carrier in pieces:
            out.extend(self._feed_synced(piece, piece_carrier, now_frame))
        return out

    def _feed_synced(self, data: bytes, carrier: int, now_frame: int) -> list[RecordEvent]:
        out: list[RecordEvent] = []
        pos = 0
        end = len(data)
        longest = HEADER_LENGTH + limits.MAX_RECORD_LENGTH
        while pos < end:
            if self._need == 0:
                stop = pos + HEADER_LENGTH + ((data[pos + 3] << 8) | data[pos + 4]) if end - pos >= 5 else end + 1
                if (stop <= end and not self._header and data[pos] in _KNOWN_TYPES and data[pos + 1] == 3
                        and data[pos + 2] <= 4 and stop - pos <= longest):
                    # A whole record inside this chunk (the usual case): made at once, what reading its
                    # header and then its body gives.
                    ctype = data[pos]
                    body = None if ctype == _APPLICATION_DATA and not self.keep_application_data else (
                        data[pos + HEADER_LENGTH : stop])
                    out.append(Record(ctype, (data[pos + 1] << 8) | data[pos + 2], stop - pos - HEADER_LENGTH, body,
                                      max(now_frame, carrier), (carrier,)))
                    self.records_seen += 1
                    pos = stop
                    continue
                pos = self._read_header(data, pos, carrier, now_frame, out)
                if not self.synced:
                    self.plaintext_bytes_skipped += end - pos
                    return out
                continue
            take = min(self._need, end - pos)
            if not self._skipping:
                self._body += data[pos : pos + take]
            if not self._frames or self._frames[-1] != carrier:
                self._frames.append(carrier)
            self._need -= take
            pos += take
            if self._need == 0:
                out.append(self._finish(now_frame))
        return out

    def gap(self, length: int, frame: int, *, truncated: bool) -> list[RecordEvent]:
        """`length` bytes are missing here. Inside a record: it is damaged; else sync is lost."""
        out: list[RecordEvent] = []
        if not self.synced:
            if not (self.records_seen or self.plaintext_bytes_skipped or self._presync or self._start_lost):
                self._start_lost = True  # said once: a later gap is no longer at the start
                out.append(Desync(frame=frame, reason=f"{length} bytes missing before the first TLS record",
                                  truncated=truncated, at_start=True))
            return out
        if self._header:
            self._header.clear()
            self.synced = False
            out.append(Desync(frame=frame, reason="bytes missing inside a record header", truncated=truncated))
            return out
        if self._need == 0:
            self.synced = False
            out.append(Desync(frame=frame, reason=f"{length} bytes missing between records", truncated=truncated))
            return out
        if frame not in self._frames:
            self._frames.append(frame)
        lost = min(length, self._need)
        if not self._skipping:
            self._damaged = (
                f"{lost} bytes cut by the snap length" if truncated else f"{lost} bytes not captured"
            )
            self._truncated = self._truncated or truncated
        self._need -= lost
        length -= lost
        if self._need == 0:
            out.append(self._finish(frame))
        if length > 0:
            self.synced = False
            out.append(Desync(frame=frame, reason=f"{length} bytes missing after a record", truncated=truncated))
        return out

    def _read_header(self, data: bytes, pos: int, carrier: int, now_frame: int, out: list[RecordEvent]) -> int:
        take = min(HEADER_LENGTH - len(self._header), len(data) - pos)
        if not self._header and take == HEADER_LENGTH:
            header = data[pos : pos + HEADER_LENGTH]
        else:
            self._header += data[pos : pos + take]
            if len(self._header) < HEADER_LENGTH:
                if not self._frames or self._frames[-1] != carrier:
                    self._frames.append(carrier)
                return pos + take
            header = bytes(self._header)
            self._header.clear()
        pos += take
        if header[0] & 0x80 and self.records_seen == 0 and looks_like_sslv2_hello(header):
            return self._start_sslv2(header, pos, carrier)
        ctype, major, minor = header[0], header[1], header[2]
        length = (header[3] << 8) | header[4]
        if ctype not in _KNOWN_TYPES or major != 3 or minor > 4 or length > limits.MAX_RECORD_LENGTH:
            self.synced = False
            self._frames.clear()
            out.append(Desync(frame=now_frame, reason=f"not a TLS record header: {header.hex()}"))
            return pos
        self._ctype = ctype
        self._version = (major << 8) | minor
        self._length = length
        self._need = length
        self._skipping = ctype == ContentType.APPLICATION_DATA and not self.keep_application_data
        if not self._frames or self._frames[-1] != carrier:
            self._frames.append(carrier)
        if length == 0:
            out.append(self._finish(now_frame))
        return pos

    def _start_sslv2(self, header: bytes, pos: int, carrier: int) -> int:
        length = ((header[0] & 0x7F) << 8) | header[1]
        self._ctype = SSLV2_HELLO
        self._version = 0x0002
        self._length = length
        self._body = bytearray(header[2:])
        self._need = length - 3
        self._skipping = False
        if not self._frames or self._frames[-1] != carrier:
            self._frames.append(carrier)
        return pos

    def _finish(self, now_frame: int) -> Record:
        frames = tuple(self._frames)
        record = Record(
            self._ctype, self._version, self._length, None if self._skipping else bytes(self._body),
            max(now_frame, frames[-1]) if frames else now_frame,  # the frame that completed the record
            frames, self._damaged, self._truncated,
        )
        self._body.clear()
        self._frames.clear()
        self._damaged = None
        self._truncated = False
        self._skipping = False
        self.records_seen += 1
        return record
