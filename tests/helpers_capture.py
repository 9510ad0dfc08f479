"""Byte-exact builders for pcap and pcapng test files (no capture library involved)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_MODIFIED = 0xA1B2CD34

# (seconds, fraction, data) or (seconds, fraction, data, original length)
PcapPacket = tuple[int, int, bytes] | tuple[int, int, bytes, int]


def pcap_file(
    packets: Iterable[PcapPacket],
    *,
    order: str = "<",
    magic: int = PCAP_MAGIC_US,
    link_type: int = 1,
    snaplen: int = 65535,
) -> bytes:
    """A pcap file; each packet is (seconds, fraction, data[, original length])."""
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link_type)]
    for packet in packets:
        seconds, fraction, data = packet[0], packet[1], packet[2]
        original = packet[3] if len(packet) == 4 else len(data)
        out.append(struct.pack(order + "IIII", seconds, fraction, len(data), original))
        if magic == PCAP_MAGIC_MODIFIED:
            out.append(struct.pack(order + "IHBB", 1, 0x0800, 0, 0))
        out.append(data)
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def options(items: Sequence[tuple[int, bytes]], order: str = "<") -> bytes:
    """pcapng options, ended by opt_endofopt."""
    if not items:
        return b""
    out = [struct.pack(order + "HH", code, len(value)) + _pad(value) for code, value in items]
    return b"".join(out) + struct.pack(order + "HH", 0, 0)


def block(block_type: int, body: bytes, order: str = "<") -> bytes:
    """A pcapng block: type, total length, padded body, total length."""
    body = _pad(body)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def shb(order: str = "<", comment: str | None = None) -> bytes:
    """A Section Header Block (version 1.0, section length unknown), optionally with opt_comment."""
    opts = options([(1, comment.encode())], order) if comment is not None else b""
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opts, order)


def idb(
    link_type: int,
    *,
    snaplen: int = 0,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    order: str = "<",
) -> bytes:
    """An Interface Description Block with optional if_tsresol (9) and if_tsoffset (14)."""
    items: list[tuple[int, bytes]] = []
    if tsresol is not None:
        items.append((9, bytes([tsresol])))
    if tsoffset is not None:
        items.append((14, struct.pack(order + "q", tsoffset)))
    return block(1, struct.pack(order + "HHI", link_type, 0, snaplen) + options(items, order), order)


def epb(
    iface: int,
    ticks: int,
    data: bytes,
    *,
    original: int | None = None,
    comment: str | None = None,
    order: str = "<",
) -> bytes:
    """An Enhanced Packet Block; `ticks` is the raw 64-bit timestamp in the interface's units."""
    original = len(data) if original is None else original
    head = struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), original)
    opts = options([(1, comment.encode())], order) if comment is not None else b""
    return block(6, head + _pad(data) + opts, order)


def opb(iface: int, ticks: int, data: bytes, *, order: str = "<") -> bytes:
    """An obsolete Packet Block (type 2)."""
    head = struct.pack(order + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
    return block(2, head + data, order)


def spb(data: bytes, *, original: int | None = None, order: str = "<") -> bytes:
    """A Simple Packet Block."""
    original = len(data) if original is None else original
    return block(3, struct.pack(order + "I", original) + data, order)


def dsb(secrets: bytes, *, secrets_type: int = 0x544C534B, order: str = "<") -> bytes:
    """A Decryption Secrets Block."""
    return block(10, struct.pack(order + "II", secrets_type, len(secrets)) + secrets, order)
