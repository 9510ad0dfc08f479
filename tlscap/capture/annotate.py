"""Write a capture as pcapng with packet comments (`tlscap annotate`): Wireshark shows them in the packet
list (`frame.comment`) and under Expert Info.

The frames, their bytes, lengths, interfaces and timestamps are copied unchanged; only the comments are
added, as `opt_comment` options of the Enhanced (or obsolete) Packet Block that carries the frame.

- pcapng in: every block is copied as it is (sections, interfaces, name resolution, statistics, secrets,
  custom blocks), in order; a commented packet block is rebuilt with its options plus the comments.
  A Simple Packet Block has no options: its comment is dropped and counted.
- pcap in: one section and one interface with the file's link type (FCS bits included) and snap length,
  and `if_tsresol` 9 for a nanosecond file (microseconds is pcapng's default), so each packet keeps its
  timestamp to the unit it was recorded in; each record becomes an Enhanced Packet Block.
- gzip in: decompressed; the output is plain pcapng.

Damage: copying stops where reading stops (a file cut short, a block that cannot be walked past): the
frames before it are written, as tshark reads them, and `AnnotateResult.stopped` says why.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from tlscap import limits
from tlscap.capture import pcap, pcapng
from tlscap.capture.reader import open_blocks
from tlscap.capture.source import Source
from tlscap.errors import CaptureOpenError

# An option's length is 16 bits; a comment longer than this is cut (with an ellipsis).
MAX_COMMENT_BYTES = 8000
_PACKET_BLOCKS = frozenset({pcapng.EPB, pcapng.OPB})
_NUMBERED = frozenset({pcapng.EPB, pcapng.OPB, pcapng.SPB, pcapng.SJEB, pcapng.CB_COPY, pcapng.CB_NO_COPY})
IF_FCSLEN = 13


@dataclass(slots=True, kw_only=True)
class AnnotateResult:
    """What was written: frames copied, frames that got comments, comments that could not be placed."""

    format: str
    frames: int = 0
    commented: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)  # frames in Simple Packet Blocks (no options)
    stopped: str | None = None


def annotate(path: str, comments: Mapping[int, Sequence[str]], out: BinaryIO) -> AnnotateResult:
    """Copy the capture at `path` to `out` as pcapng, adding `comments[frame]` to each frame. Raises
    CaptureOpenError when the file cannot be read as a capture at all."""
    source, head = open_blocks(path)
    try:
        if head[:4] == pcapng.SHB_MAGIC:
            reason = pcapng.check_start(head)
            if reason is not None:
                raise CaptureOpenError(path, reason)
            return _copy_pcapng(source, head, comments, out)
        if pcap.is_pcap_magic(head):
            try:
                header = pcap.parse_header(head)
            except ValueError as exc:
                raise CaptureOpenError(path, str(exc)) from None
            return _copy_pcap(source, head, header, comments, out)
        raise CaptureOpenError(path, "not a pcap or pcapng capture")
    finally:
        source.close()


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _comment_options(order: str, texts: Sequence[str]) -> bytes:
    out = b""
    for text in texts:
        value = text.replace("\0", " ").encode("utf-8")
        if len(value) > MAX_COMMENT_BYTES:
            value = value[:MAX_COMMENT_BYTES].decode("utf-8", "ignore").encode("utf-8") + "…".encode()
        out += _option(order, pcapng.OPT_COMMENT, value)
    return out


def _block(order: str, block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def _copy_pcap(source: Source, buf: bytes, header: pcap.PcapHeader, comments: Mapping[int, Sequence[str]],
               out: BinaryIO) -> AnnotateResult:
    order = header.byte_order
    result = AnnotateResult(format="pcap")
    (link_field,) = struct.unpack_from(order + "I", buf, 20)
    options = b""
    if header.nanoseconds:
        options += _option("<", pcapng.IF_TSRESOL, b"\x09")
    if link_field & 0x10000000:  # the FCS bits of the pcap header (LINKTYPE_FCS_...)
        options += _option("<", IF_FCSLEN, bytes([(link_field >> 29) & 0x7]))
    if options:
        options += b"\0\0\0\0"
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    idb = struct.pack("<HHI", link_field & 0xFFFF, 0, header.snaplen) + options
    out.write(_block("<", pcapng.SHB, shb) + _block("<", pcapng.IDB, idb))
    record = struct.Struct(order + "IIII")
    hsize = header.record_header_size
    limit = pcap.record_limit(header.snaplen)
    pos, number = pcap.FILE_HEADER_SIZE, 0
    while True:
        if len(buf) - pos < hsize:
            buf, pos = source.more(buf, pos, hsize), 0
            if len(buf) < hsize:
                cut = f"the file ends inside the header of record {number + 1}" if buf else None
                result.stopped = _why(source, cut)
                return result
        seconds, fraction, caplen, orig_len = record.unpack_from(buf, pos)
        if caplen > limit:
            result.stopped = f"record {number + 1} claims {caplen} captured bytes: the file is damaged"
            return result
        if len(buf) - pos < hsize + caplen:
            buf, pos = source.more(buf, pos, hsize + caplen), 0
            if len(buf) < hsize + caplen:
                result.stopped = _why(source, f"the file ends inside record {number + 1}")
                return result
        number += 1
        data = buf[pos + hsize : pos + hsize + caplen]
        pos += hsize + caplen
        # Ticks in the file's own unit (if_tsresol says which): no timestamp is rounded.
        ticks = seconds * (1_000_000_000 if header.nanoseconds else 1_000_000) + fraction
        texts = comments.get(number, ())
        body = (struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, caplen, orig_len) + data
                + b"\0" * (-caplen % 4))
        if texts:
            body += _comment_options("<", texts) + b"\0\0\0\0"
            result.commented.append(number)
        out.write(_block("<", pcapng.EPB, body))
        result.frames = number


def _copy_pcapng(source: Source, buf: bytes, comments: Mapping[int, Sequence[str]],
                 out: BinaryIO) -> AnnotateResult:
    result = AnnotateResult(format="pcapng")
    order = "<"
    pos, number = 0, 0
    while True:
        if len(buf) - pos < 12:
            buf, pos = source.more(buf, pos, 12), 0
            if len(buf) < 12:
                result.stopped = _why(source, f"the file ends inside a block header, after frame {number}" if buf
                                      else None)
                return result
        if buf[pos : pos + 4] == pcapng.SHB_MAGIC:
            magic = buf[pos + 8 : pos + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                result.stopped = f"a section header without byte-order magic, after frame {number}"
                return result
        block_type, length = struct.unpack_from(order + "II", buf, pos)
        if length < 12 or length & 3 or length > limits.MAX_PCAPNG_BLOCK:
            result.stopped = f"a block with an impossible length ({length}), after frame {number}"
            return result
        if len(buf) - pos < length:
            buf, pos = source.more(buf, pos, length), 0
            if len(buf) < length:
                result.stopped = _why(source, f"the file ends inside a block, after frame {number}")
                return result
        block = buf[pos : pos + length]
        pos += length
        if struct.unpack_from(order + "I", block, length - 4)[0] != length:
            result.stopped = f"a block whose trailing length differs from its leading one, after frame {number}"
            return result
        if block_type in _NUMBERED:
            number += 1
            result.frames = number
            texts = comments.get(number, ())
            if texts and block_type in _PACKET_BLOCKS and length >= 32:
                block = _with_comments(order, block, texts)
                result.commented.append(number)
            elif texts:
                result.dropped.append(number)
        out.write(block)


def _with_comments(order: str, block: bytes, texts: Sequence[str]) -> bytes:
    """An Enhanced or obsolete Packet Block with `texts` added to its options (the others kept)."""
    block_type, length = struct.unpack_from(order + "II", block)
    caplen = struct.unpack_from(order + "I", block, 20)[0]
    options_start = min(28 + caplen + (-caplen % 4), length - 4)
    kept = b""
    at = options_start
    while at + 4 <= length - 4:
        code, size = struct.unpack_from(order + "HH", block, at)
        end = at + 4 + size + (-size % 4)
        if code == pcapng.OPT_ENDOFOPT or end > length - 4:
            break
        kept += block[at:end]
        at = end
    body = block[8:options_start] + kept + _comment_options(order, texts) + b"\0\0\0\0"
    return _block(order, block_type, body)


def _why(source: Source, cut: str | None) -> str | None:
    """Why copying stopped: the stream's own error when there is one, else the cut (None: a clean end)."""
    if source.error is not None:
        return source.message or f"read error: {source.error}"
    return cut
