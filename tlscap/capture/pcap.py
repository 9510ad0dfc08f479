"""Classic pcap files: a 24-byte file header, then records of header + captured bytes.

Supports microsecond (a1b2c3d4) and nanosecond (a1b23c4d) files in either byte order, and
the "modified" (Kuznetzov) variant (a1b2cd34) whose record headers carry 8 more bytes.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tlscap import limits
from tlscap.capture.frame import Frame
from tlscap.capture.linktypes import link_type_name, normalize_link_type
from tlscap.capture.source import CaptureInfo, Source

FILE_HEADER_SIZE = 24

# magic as stored (first four bytes) -> (byte order, nanosecond timestamps, record header size)
_MAGICS: dict[bytes, tuple[str, bool, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False, 16),
    b"\xa1\xb2\xc3\xd4": (">", False, 16),
    b"\x4d\x3c\xb2\xa1": ("<", True, 16),
    b"\xa1\xb2\x3c\x4d": (">", True, 16),
    b"\x34\xcd\xb2\xa1": ("<", False, 24),
    b"\xa1\xb2\xcd\x34": (">", False, 24),
}
_FILE_HEADER = {order: struct.Struct(order + "IHHiIII") for order in "<>"}
_RECORD = {order: struct.Struct(order + "IIII") for order in "<>"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PcapHeader:
    """The pcap file header, decoded."""

    byte_order: str
    nanoseconds: bool
    record_header_size: int
    version: tuple[int, int]
    snaplen: int
    link_type: int


FrameMaker = Callable[[int, int, int, bytes, int, int], Frame]


def record_limit(snaplen: int) -> int:
    """The most captured bytes a record of a file with this snap length may claim. Wireshark refuses
    records above limits.MAX_PCAP_RECORD unless the snap length says more; a record longer than that
    (or than limits.HARD_MAX_PCAP_RECORD) means the file is damaged, and reading it would waste memory."""
    return min(max(limits.MAX_PCAP_RECORD, snaplen), limits.HARD_MAX_PCAP_RECORD)


def frame_maker() -> FrameMaker:
    """A positional `Frame(number, timestamp_ns, link_type, data, original_length, interface)`.

    A frozen dataclass sets each field through object.__setattr__, which costs more than the
    rest of the record walk; this writes the slots directly. It falls back to the ordinary
    constructor if Frame's fields change or it gains a __post_init__.
    """
    names = ("number", "timestamp_ns", "link_type", "data", "original_length", "interface")
    plain = hasattr(Frame, "__slots__") and not hasattr(Frame, "__post_init__")
    if tuple(f.name for f in dataclasses.fields(Frame)) != names or not plain:
        return lambda n, t, lt, d, o, i: Frame(
            number=n, timestamp_ns=t, link_type=lt, data=d, original_length=o, interface=i
        )
    new = object.__new__
    set_n, set_t, set_lt, set_d, set_o, set_i = (getattr(Frame, name).__set__ for name in names)

    def make(
        number: int, timestamp_ns: int, link_type: int, data: bytes, original_length: int, interface: int
    ) -> Frame:
        frame = new(Frame)
        set_n(frame, number)
        set_t(frame, timestamp_ns)
        set_lt(frame, link_type)
        set_d(frame, data)
        set_o(frame, original_length)
        set_i(frame, interface)
        return frame

    return make


def is_pcap_magic(head: bytes) -> bool:
    """True when the bytes start with one of the pcap magic numbers."""
    return head[:4] in _MAGICS


def parse_header(head: bytes) -> PcapHeader:
    """Decode the file header; ValueError with a one-line reason when it is unusable."""
    kind = _MAGICS.get(head[:4])
    if kind is None:
        raise ValueError("not a pcap file")
    if len(head) < FILE_HEADER_SIZE:
        raise ValueError(f"pcap file header cut short ({len(head)} of {FILE_HEADER_SIZE} bytes)")
    order, nanoseconds, record_size = kind
    _magic, major, minor, _zone, _sigfigs, snaplen, link_field = _FILE_HEADER[order].unpack_from(head)
    return PcapHeader(
        byte_order=order,
        nanoseconds=nanoseconds,
        record_header_size=record_size,
        version=(major, minor),
        snaplen=snaplen,
        # The upper bits carry FCS information (pcap spec); the link type is the low 16.
        link_type=normalize_link_type(link_field & 0xFFFF),
    )


def iter_frames(source: Source, info: CaptureInfo, header: PcapHeader, buf: bytes) -> Iterator[Frame]:
    """Yield the file's frames; `buf` holds the stream's first bytes, file header included.

    Stops at the end of data, recording in `info.issues` a record cut by the end of the file
    (`truncated-file`) or one claiming an impossible length (`bad-block`).
    """
    info.add_link_type(header.link_type, link_type_name(header.link_type))
    info.snaplens.append(header.snaplen)
    unpack_record = _RECORD[header.byte_order].unpack_from
    hsize = header.record_header_size
    fraction_ns = 1 if header.nanoseconds else 1000
    limit = record_limit(header.snaplen)
    link_type = header.link_type
    make_frame = frame_maker()
    number = 0
    earliest = 1 << 128
    latest = -1 << 128
    pos = FILE_HEADER_SIZE
    end = len(buf)
    while True:
        if end - pos < hsize:
            buf = source.more(buf, pos, hsize)
            pos, end = 0, len(buf)
            if end < hsize:
                cut = f"the file ends inside the header of record {number + 1}" if end else None
                source.end(info, cut)
                return
        seconds, fraction, caplen, orig_len = unpack_record(buf, pos)
        if caplen > limit:
            source.bad(
                info,
                f"record {number + 1} (offset {source.offset + pos}) claims {caplen} captured bytes, "
                f"more than the limit of {limit}: the file is damaged after frame {number}",
            )
            return
        start = pos + hsize
        stop = start + caplen
        if stop > end:
            buf = source.more(buf, pos, hsize + caplen)
            pos, end = 0, len(buf)
            start, stop = hsize, hsize + caplen
            if stop > end:
                source.end(
                    info, f"the file ends inside record {number + 1} ({end - start} of {caplen} bytes)"
                )
                return
        timestamp = seconds * 1_000_000_000 + fraction * fraction_ns
        number += 1
        info.frames = number
        if timestamp < earliest:
            earliest = info.first_time_ns = timestamp
        if timestamp > latest:
            latest = info.last_time_ns = timestamp
        pos = stop
        yield make_frame(number, timestamp, link_type, buf[start:stop], orig_len, 0)
