"""DTLS records in one UDP datagram (RFC 6347 §4.1, RFC 9146, RFC 9147 §4): sans-IO, never raises.

A datagram holds one or more records. Each record has either the classic 13-byte header (type, version,
epoch, 48-bit sequence number, length; type 25 adds a connection ID before the length, RFC 9146) or a
DTLS 1.3 unified header (first byte 0b001CSLEE: connection ID present, 16- or 8-bit sequence number,
length present, the epoch's two low bits). A unified header's record is always protected: here only its
header is read (its bytes are kept: they are the additional data when a key log opens it, `dtls.protection`).

Connection IDs have no length on the wire; the hellos negotiate it. `split_datagram` takes the length
when the caller knows it, and otherwise picks the one that makes the record lengths fit the datagram.

`classify` tells DTLS from what shares a port with it by the first byte (RFC 7983 §7): 0-3 STUN,
16-19 ZRTP, 20-63 DTLS, 64-79 TURN channels, 128-191 RTP/RTCP.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap import limits
from tlscap.tls.constants import ContentType, ProtocolVersion

# The content types of classic DTLS records: TLS's, tls12_cid (RFC 9146: a DTLS 1.2 record with a
# connection ID, protected) and ack (RFC 9147 §7).
CLASSIC_TYPES = frozenset(int(t) for t in ContentType)

# Record-layer versions of DTLS: 1.0, 1.2 (1.3 writes 1.2 there), and OpenSSL's pre-0.9.8f DTLS 1.0.
DTLS_RECORD_VERSIONS = frozenset({ProtocolVersion.DTLS1_0, ProtocolVersion.DTLS1_2, ProtocolVersion.DTLS1_3, 0x0100})
CLASSIC_HEADER_LENGTH = 13
MAX_CONNECTION_ID = 255  # RFC 9146: opaque cid<0..2^8-1>
# When the connection ID's length is not known, lengths up to this are tried (real stacks use 0-20).
GUESSED_CONNECTION_ID_MAX = 32
# CAPWAP (RFC 5415 §4.1) puts a 4-byte header in front of DTLS: preamble version 0, type 1, then zeros.
CAPWAP_DTLS_HEADER = b"\x01\x00\x00\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class DtlsRecord:
    """One record: its header fields and its fragment (ciphertext for protected records).

    `content_type` is None for a unified header (the type is encrypted). `sequence` is the header's
    sequence number (in a unified header only its low 8 or 16 bits, and encrypted: kept as sent).
    `epoch` is the full epoch (classic) or its two low bits (unified). `offset` is where the record
    starts in the datagram's payload; `header` holds a unified header's bytes as sent. `decrypted`: a
    record opened with a key log (`dtls.protection`), its type and fragment the plaintext's.
    """

    content_type: int | None
    version: int | None
    epoch: int
    sequence: int
    length: int
    fragment: bytes
    connection_id: bytes | None = None
    unified: bool = False
    offset: int = 0
    header: bytes = b""
    decrypted: bool = False

    @property
    def protected(self) -> bool:
        """Encrypted under an epoch's keys (every epoch but 0, every unified header), and not opened."""
        return not self.decrypted and (self.unified or self.epoch != 0 or self.content_type == ContentType.TLS12_CID)


@dataclass(frozen=True, slots=True)
class Datagram:
    """What a datagram held: its records, and why reading stopped before its end (None when it did not)."""

    records: tuple[DtlsRecord, ...]
    stopped: str | None = None
    capwap: bool = False


def classify(payload: bytes) -> str:
    """RFC 7983's demultiplexing by the first byte: dtls, stun, zrtp, turn-channel, rtp, or other."""
    if not payload:
        return "other"
    first = payload[0]
    if 20 <= first <= 63:
        return "dtls"
    if first <= 3:
        return "stun"
    if 16 <= first <= 19:
        return "zrtp"
    if 64 <= first <= 79:
        return "turn-channel"
    if 128 <= first <= 191:
        return "rtp"
    return "other"


def starts_dtls(payload: bytes) -> bool:
    """Whether a datagram of a flow not yet known as DTLS begins with a classic DTLS record header that
    fits it (a unified header alone is too little to go on), also behind a CAPWAP DTLS header."""
    if payload[:4] == CAPWAP_DTLS_HEADER:
        payload = payload[4:]
    if len(payload) < CLASSIC_HEADER_LENGTH or classify(payload) != "dtls":
        return False
    content_type = payload[0]
    version = (payload[1] << 8) | payload[2]
    if content_type not in CLASSIC_TYPES or version not in DTLS_RECORD_VERSIONS:
        return False
    if content_type == ContentType.TLS12_CID:
        return _guess_cid_length(payload, 0) is not None
    length = (payload[11] << 8) | payload[12]
    if CLASSIC_HEADER_LENGTH + length > len(payload) or length > limits.MAX_RECORD_LENGTH:
        return False
    if content_type == ContentType.HANDSHAKE and payload[3:5] == b"\x00\x00":
        # A plaintext handshake record: its first message header must fit it (type, lengths).
        return length >= 12 and _plausible_handshake(payload[CLASSIC_HEADER_LENGTH : CLASSIC_HEADER_LENGTH + length])
    return True


def _plausible_handshake(body: bytes) -> bool:
    msg_length = int.from_bytes(body[1:4], "big")
    offset = int.from_bytes(body[6:9], "big")
    fragment_length = int.from_bytes(body[9:12], "big")
    return offset + fragment_length <= msg_length and 12 + fragment_length <= len(body)


def split_datagram(payload: bytes, *, cid_length: int | None = None) -> Datagram:
    """Every record of a datagram's payload, in order. `cid_length` is the connection ID length that the
    receiver of this datagram asked for, when the hellos told it (None: guessed)."""
    capwap = payload[:4] == CAPWAP_DTLS_HEADER and len(payload) > 4 and classify(payload[4:]) == "dtls"
    start = 4 if capwap else 0
    records: list[DtlsRecord] = []
    pos, end = start, len(payload)
    stopped: str | None = None
    while pos < end:
        first = payload[pos]
        if 32 <= first <= 63 and records_may_be_unified(first):
            record, pos, stopped = _unified(payload, pos, cid_length)
        elif first in CLASSIC_TYPES:
            record, pos, stopped = _classic(payload, pos, cid_length)
        else:
            record, stopped = None, f"not a DTLS record header: {payload[pos : pos + 13].hex()}"
        if record is None:
            break
        records.append(record)
    return Datagram(tuple(records), stopped, capwap)


def records_may_be_unified(first: int) -> bool:
    """0b001xxxxx is a unified header; the classic types (20-26) fall below 32, so nothing overlaps."""
    return first & 0xE0 == 0x20


def _classic(payload: bytes, pos: int, cid_length: int | None) -> tuple[DtlsRecord | None, int, str | None]:
    if pos + CLASSIC_HEADER_LENGTH > len(payload):
        return None, pos, f"a record header cut short ({len(payload) - pos} bytes)"
    content_type = payload[pos]
    version = (payload[pos + 1] << 8) | payload[pos + 2]
    if version not in DTLS_RECORD_VERSIONS:
        return None, pos, f"not a DTLS record header: {payload[pos : pos + 13].hex()}"
    epoch = (payload[pos + 3] << 8) | payload[pos + 4]
    sequence = int.from_bytes(payload[pos + 5 : pos + 11], "big")
    cid: bytes | None = None
    header = CLASSIC_HEADER_LENGTH
    if content_type == ContentType.TLS12_CID:
        size = cid_length if cid_length is not None else _guess_cid_length(payload, pos)
        if size is None:
            return None, pos, "a connection-ID record whose connection ID length does not fit the datagram"
        if pos + CLASSIC_HEADER_LENGTH + size > len(payload):
            return None, pos, f"a connection-ID record header cut short ({len(payload) - pos} bytes)"
        cid = payload[pos + 11 : pos + 11 + size]
        header += size
    length = (payload[pos + header - 2] << 8) | payload[pos + header - 1]
    if length > limits.MAX_RECORD_LENGTH:
        return None, pos, f"a record header claiming {length} bytes, more than a DTLS record holds"
    body_start = pos + header
    if body_start + length > len(payload):
        return None, pos, (f"a record of {length} bytes with only {max(0, len(payload) - body_start)} in the "
                           "datagram")
    record = DtlsRecord(content_type=content_type, version=version, epoch=epoch, sequence=sequence, length=length,
                        fragment=payload[body_start : body_start + length], connection_id=cid, offset=pos)
    return record, body_start + length, None


def _guess_cid_length(payload: bytes, pos: int) -> int | None:
    """For a type-25 record: the connection ID length after which the length field ends the datagram
    exactly (or leaves room for another record header); the shortest such length."""
    for size in range(0, GUESSED_CONNECTION_ID_MAX + 1):
        at = pos + 11 + size
        if at + 2 > len(payload):
            return None
        end = at + 2 + ((payload[at] << 8) | payload[at + 1])
        if end == len(payload) or (end + CLASSIC_HEADER_LENGTH <= len(payload) and
                                   (payload[end] in CLASSIC_TYPES or records_may_be_unified(payload[end]))):
            return size
    return None


def _unified(payload: bytes, pos: int, cid_length: int | None) -> tuple[DtlsRecord | None, int, str | None]:
    first = payload[pos]
    has_cid, long_seq, has_length = bool(first & 0x10), bool(first & 0x08), bool(first & 0x04)
    seq_size = 2 if long_seq else 1
    sizes = [0]
    if has_cid:
        sizes = [cid_length] if cid_length is not None else list(range(0, GUESSED_CONNECTION_ID_MAX + 1))
    for size in sizes:
        at = pos + 1 + size
        if at + seq_size + (2 if has_length else 0) > len(payload):
            break
        sequence = int.from_bytes(payload[at : at + seq_size], "big")
        at += seq_size
        if has_length:
            length = (payload[at] << 8) | payload[at + 1]
            at += 2
            end = at + length
            if end > len(payload):
                continue
            fits = (end == len(payload) or len(sizes) == 1 or
                    payload[end] in CLASSIC_TYPES or records_may_be_unified(payload[end]))
            if not fits:
                continue
        else:
            length, end = len(payload) - at, len(payload)
        cid = payload[pos + 1 : pos + 1 + size] if has_cid else None
        record = DtlsRecord(content_type=None, version=None, epoch=first & 0x03, sequence=sequence, length=length,
                            fragment=payload[at:end], connection_id=cid, unified=True, offset=pos,
                            header=payload[pos:at])
        return record, end, None
    return None, pos, f"a DTLS 1.3 unified header that does not fit the datagram: {payload[pos : pos + 8].hex()}"
