"""pcapng files: a walk over blocks (RFC draft-ietf-opsawg-pcapng).

Handles several sections (each Section Header Block sets the byte order and starts a new
interface list), several interfaces with their own link type, timestamp resolution
(if_tsresol, a power of 10 or of 2) and offset (if_tsoffset), Enhanced, Simple and obsolete
Packet Blocks, and Decryption Secrets Blocks. Other blocks (NRB, ISB, custom, ...) are skipped, and
passed over without being held in memory when they are large. A block longer than
`limits.MAX_PCAPNG_BLOCK` (Wireshark's own limit) means the file is damaged (`bad-block`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from tlscap import limits
from tlscap.capture.frame import Frame
from tlscap.capture.linktypes import LINKTYPE_UNKNOWN, link_type_name, normalize_link_type
from tlscap.capture.pcap import frame_maker
from tlscap.capture.source import CaptureInfo, Source
from tlscap.errors import CaptureIssue

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002  # obsolete Packet Block
SPB = 0x00000003
EPB = 0x00000006
SJEB = 0x00000009  # systemd Journal Export Block: Wireshark numbers it as a frame
DSB = 0x0000000A
CB_COPY = 0x00000BAD  # Custom Blocks (may / may not be copied): Wireshark 4.0 numbers them as frames too
CB_NO_COPY = 0x40000BAD

SECRETS_TLS_KEY_LOG = 0x544C534B  # "TLSK"
# Blocks whose contents are read; any other block is only walked past (streamed when large).
_HELD_BLOCKS = frozenset({SHB, IDB, OPB, SPB, EPB, DSB})
# Blocks that are no packets but take a frame number in Wireshark (tshark 4.0 lists a Custom Block as a
# frame of protocol "data"), so that the frames after them are numbered as Wireshark numbers them.
_NUMBERED_BLOCKS = frozenset({SJEB, CB_COPY, CB_NO_COPY})

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
IF_TSRESOL = 9
IF_TSOFFSET = 14

_BOM_LE = b"\x4d\x3c\x2b\x1a"
_BOM_BE = b"\x1a\x2b\x3c\x4d"


class _Layout:
    """The structs of one byte order, built once."""

    __slots__ = ("head", "word", "epb", "opb", "idb", "dsb", "option", "offset")

    def __init__(self, order: str) -> None:
        self.head = struct.Struct(order + "II")  # block type, block total length
        self.word = struct.Struct(order + "I")
        self.epb = struct.Struct(order + "IIIII")  # interface, ts high, ts low, caplen, original length
        self.opb = struct.Struct(order + "HHIIII")  # interface, drops, then as the EPB
        self.idb = struct.Struct(order + "HHI")  # link type, reserved, snaplen
        self.dsb = struct.Struct(order + "II")  # secrets type, secrets length
        self.option = struct.Struct(order + "HH")  # option code, option length
        self.offset = struct.Struct(order + "q")

    def unpackers(self) -> tuple[Callable[..., tuple[Any, ...]], ...]:
        """The unpack_from functions the block loop calls for every block: head, word, EPB, OPB."""
        return self.head.unpack_from, self.word.unpack_from, self.epb.unpack_from, self.opb.unpack_from


_LAYOUTS = {_BOM_LE: _Layout("<"), _BOM_BE: _Layout(">")}

# One interface: (link type, timestamp multiplier, divisor, offset in ns, snaplen);
# ns = ticks * multiplier // divisor + offset, as Wireshark floors sub-ns resolutions.
_Interface = tuple[int, int, int, int, int]
_UNKNOWN_INTERFACE: _Interface = (LINKTYPE_UNKNOWN, 1000, 1, 0, 0)


def check_start(head: bytes) -> str | None:
    """Why the first bytes cannot start a pcapng file, or None when they can."""
    if len(head) < 12:
        return f"pcapng section header cut short ({len(head)} bytes)"
    if head[8:12] not in _LAYOUTS:
        return "not a pcapng capture (bad byte-order magic in the section header)"
    return None


def iter_frames(source: Source, info: CaptureInfo, buf: bytes) -> Iterator[Frame]:
    """Yield every packet block's frame; `buf` holds the stream's first bytes.

    Frame numbers count every packet block of every section (Wireshark's numbering);
    `Frame.interface` is the interface's index over the whole file. Stops at the end of data,
    recording a block cut by the end of file (`truncated-file`) or a block that cannot be
    walked past (`bad-block`) in `info.issues`.
    """
    layout = _LAYOUTS[_BOM_LE]
    unpack_head, unpack_word, unpack_epb, unpack_opb = layout.unpackers()
    interfaces: list[_Interface] = []
    first_interface = 0  # file-wide index of this section's interface 0
    unknown_reported = False
    make_frame = frame_maker()
    number = 0
    earliest = 1 << 1024
    latest = -1 << 1024
    previous = 0  # the last packet time, given to Simple Packet Blocks (which have none)
    pos = 0
    end = len(buf)
    while True:
        if end - pos < 12:
            buf = source.more(buf, pos, 12)
            pos, end = 0, len(buf)
            if end < 12:
                source.end(
                    info, f"the file ends inside a block header, after frame {number}" if end else None
                )
                return
        block_type, length = unpack_head(buf, pos)
        if block_type == SHB:  # a palindrome: recognised before the byte order is known
            found = _LAYOUTS.get(buf[pos + 8 : pos + 12])
            if found is None:
                source.bad(
                    info, f"block at offset {source.offset + pos}: section header without byte-order magic"
                )
                return
            layout = found
            unpack_head, unpack_word, unpack_epb, unpack_opb = layout.unpackers()
            block_type, length = unpack_head(buf, pos)
        if length < 12 or length & 3 or length > limits.MAX_PCAPNG_BLOCK:
            source.bad(info, f"block at offset {source.offset + pos}: impossible length {length}")
            return
        if end - pos < length and block_type not in _HELD_BLOCKS:
            at = source.offset + pos
            buf, pos, skipped = source.skip(buf, pos, length - 4)
            if skipped < length - 4:
                source.end(info, f"the file ends inside a block ({skipped} of {length} bytes), after frame {number}")
                return
            buf = source.more(buf, pos, 4)
            pos, end = 0, len(buf)
            if end < 4:
                source.end(info, f"the file ends inside a block ({length - 4 + end} of {length} bytes), "
                           f"after frame {number}")
                return
            if unpack_word(buf, 0)[0] != length:
                source.bad(info, f"block at offset {at}: trailing length differs from leading one")
                return
            pos = 4
            if block_type in _NUMBERED_BLOCKS:
                number += 1
                info.frames = number
            continue
        if end - pos < length:
            buf = source.more(buf, pos, length)
            pos, end = 0, len(buf)
            if end < length:
                source.end(
                    info, f"the file ends inside a block ({end} of {length} bytes), after frame {number}"
                )
                return
        stop = pos + length
        if unpack_word(buf, stop - 4)[0] != length:
            source.bad(
                info, f"block at offset {source.offset + pos}: trailing length differs from leading one"
            )
            return

        if block_type == EPB and length >= 32:
            iface, ts_high, ts_low, caplen, orig_len = unpack_epb(buf, pos + 8)
        elif block_type == OPB and length >= 32:
            iface, _drops, ts_high, ts_low, caplen, orig_len = unpack_opb(buf, pos + 8)
        elif block_type == SPB and length >= 16:
            (orig_len,) = unpack_word(buf, pos + 8)
            link_type, _mul, _div, _offset, snaplen = interfaces[0] if interfaces else _UNKNOWN_INTERFACE
            caplen = min(orig_len, length - 16, snaplen or orig_len)
            if not interfaces and not unknown_reported:
                unknown_reported = _unknown_interface(info, number + 1, 0)
            number += 1
            info.frames = number
            data = buf[pos + 12 : pos + 12 + caplen]
            pos = stop
            # An SPB has no timestamp: it takes the previous frame's and does not move first/last time.
            yield make_frame(number, previous, link_type, data, orig_len, first_interface)
            continue
        else:
            problem = _control_block(block_type, buf, pos, stop, layout, info)
            if problem is not None:
                source.bad(info, f"block at offset {source.offset + pos}: {problem}")
                return
            if block_type == SHB:
                first_interface += len(interfaces)
                interfaces = []
            elif block_type == IDB:
                interfaces.append(_interface(buf, pos, stop, layout, info))
            elif block_type in _NUMBERED_BLOCKS:
                number += 1  # not a packet, but Wireshark gives it a frame number
                info.frames = number
            pos = stop
            continue

        # an Enhanced or obsolete Packet Block
        data_end = pos + 28 + caplen
        if data_end > stop - 4:
            source.bad(info, f"block at offset {source.offset + pos}: shorter than its {caplen} packet bytes")
            return
        if iface < len(interfaces):
            link_type, mul, div, offset, _snaplen = interfaces[iface]
        else:
            link_type, mul, div, offset, _snaplen = _UNKNOWN_INTERFACE
            if not unknown_reported:
                unknown_reported = _unknown_interface(info, number + 1, iface)
        timestamp = ((ts_high << 32) | ts_low) * mul // div + offset
        number += 1
        info.frames = number
        if timestamp < earliest:
            earliest = info.first_time_ns = timestamp
        if timestamp > latest:
            latest = info.last_time_ns = timestamp
        previous = timestamp
        options_start = pos + 28 + ((caplen + 3) & ~3)
        if options_start < stop - 4:
            _keep_comments(buf, options_start, stop - 4, layout, info)
        data = buf[pos + 28 : data_end]
        pos = stop
        yield make_frame(number, timestamp, link_type, data, orig_len, first_interface + iface)


_MIN_LENGTH = {SHB: 28, IDB: 20, DSB: 20, EPB: 32, OPB: 32, SPB: 16}


def _control_block(
    block_type: int, buf: bytes, pos: int, stop: int, layout: _Layout, info: CaptureInfo
) -> str | None:
    """Check a block that is not a packet and keep what it holds for `info`; the problem, if any."""
    if stop - pos < _MIN_LENGTH.get(block_type, 12):
        return f"too short ({stop - pos} bytes) for its type {block_type:#x}"
    if block_type == SHB:
        _keep_comments(buf, pos + 24, stop - 4, layout, info)
    elif block_type == DSB:
        secrets_type, size = layout.dsb.unpack_from(buf, pos + 8)
        if pos + 16 + size > stop - 4:
            return "decryption secrets longer than their block"
        if secrets_type == SECRETS_TLS_KEY_LOG:
            info.secrets.append(buf[pos + 16 : pos + 16 + size])
        _keep_comments(buf, pos + 16 + ((size + 3) & ~3), stop - 4, layout, info)
    return None


def _options(buf: bytes, start: int, stop: int, layout: _Layout) -> Iterator[tuple[int, bytes]]:
    """Yield (code, value) for each option in buf[start:stop]; stops quietly at malformed ones."""
    unpack = layout.option.unpack_from
    while start + 4 <= stop:
        code, size = unpack(buf, start)
        if code == OPT_ENDOFOPT:
            return
        value_end = start + 4 + size
        if value_end > stop:
            return
        yield code, buf[start + 4 : value_end]
        start += 4 + ((size + 3) & ~3)


def _keep_comments(buf: bytes, start: int, stop: int, layout: _Layout, info: CaptureInfo) -> None:
    for code, value in _options(buf, start, stop, layout):
        if code == OPT_COMMENT:
            info.add_comment(value.decode("utf-8", "replace").rstrip("\x00"))


def _interface(buf: bytes, pos: int, stop: int, layout: _Layout, info: CaptureInfo) -> _Interface:
    """Decode an Interface Description Block into the tuple the packet loop uses."""
    raw_link_type, _reserved, snaplen = layout.idb.unpack_from(buf, pos + 8)
    link_type = normalize_link_type(raw_link_type)
    mul, div, offset_ns = 1000, 1, 0  # default resolution: microseconds
    for code, value in _options(buf, pos + 16, stop - 4, layout):
        if code == IF_TSRESOL and len(value) >= 1:
            mul, div = _resolution(value[0])
        elif code == IF_TSOFFSET and len(value) >= 8:
            offset_ns = layout.offset.unpack_from(value)[0] * 1_000_000_000
        elif code == OPT_COMMENT:
            info.add_comment(value.decode("utf-8", "replace").rstrip("\x00"))
    info.add_link_type(link_type, link_type_name(link_type))
    info.snaplens.append(snaplen)
    return (link_type, mul, div, offset_ns, snaplen)


def _resolution(tsresol: int) -> tuple[int, int]:
    """(multiplier, divisor) turning ticks into ns: MSB clear = 10^-n s per tick, set = 2^-n."""
    exponent = tsresol & 0x7F
    ticks_per_second = (1 << exponent) if tsresol & 0x80 else 10**exponent
    if ticks_per_second <= 1_000_000_000 and 1_000_000_000 % ticks_per_second == 0:
        return 1_000_000_000 // ticks_per_second, 1
    return 1_000_000_000, ticks_per_second


def _unknown_interface(info: CaptureInfo, frame: int, iface: int) -> bool:
    """Record (once per file) that packets name an interface their section does not describe."""
    info.issues.append(
        CaptureIssue(
            code="unknown-interface",
            message=f"frame {frame} names interface {iface}, which its section does not describe",
            frame=frame,
        )
    )
    return True
