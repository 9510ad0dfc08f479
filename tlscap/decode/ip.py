"""IPv4 and IPv6: header parsing, extension headers, and bounded fragment reassembly.

`parse_ipv4` / `parse_ipv6` read the IP header at an offset and return an `IpPayload` tuple
describing the transport payload:

    (protocol, src, dst, data, start, end, announced_end)

`src`/`dst` are the raw address bytes (`address_text` turns them into text), `data` is the
buffer the payload lives in — the frame's own bytes, or a new buffer when fragments were
reassembled —, `data[start:end]` are the payload bytes that were captured and `announced_end`
is where the payload ends on the wire (greater than `end` when the snap length cut the frame).
Trailing link-layer padding is never part of the payload.

Like Wireshark, the IP length field is believed only as far as the layer below allows: the
caller passes `reported_end`, where the packet ends on the wire according to the frame length
and the lower layers' length fields (PPPoE, UDP...), and a longer IP length is cut to it.

Both return None for what cannot be read (malformed, an incomplete fragmented datagram, ESP,
no next header) and count why in `stats`. Nothing here raises on malformed bytes.

Reassembly is the only state, bounded by tlscap.limits: at most `MAX_IP_PENDING_DATAGRAMS`
incomplete datagrams and `MAX_IP_FRAGMENT_BYTES` bytes of fragments (the oldest datagrams are
evicted first), each datagram at most `MAX_IP_FRAGMENTS_PER_DATAGRAM` fragments and
`MAX_IP_DATAGRAM` bytes. Overlapping fragments: the bytes that arrived first
are kept. There is no timeout: a datagram whose fragments never all arrive waits until evicted.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TypeAlias

from tlscap import limits

# Text of addresses already seen is cached; the cache is emptied when it reaches this size (an entry costs
# about 140 bytes: 4,096 of them ~0.6 MB, where 65,536 took 9 MB in a capture of as many clients).
ADDRESS_CACHE_SIZE = 4096

IPPROTO_HOPOPTS = 0
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_GRE = 47
IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60
IPPROTO_MOBILITY = 135
IPPROTO_HIP = 139
IPPROTO_SHIM6 = 140

# IPv6 extension headers shaped as (next header, length in 8-octet units minus one, ...).
_GENERIC_EXTENSIONS = frozenset(
    {IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_MOBILITY, IPPROTO_HIP, IPPROTO_SHIM6}
)

IPV4_MIN_HEADER_LEN = 20
IPV6_HEADER_LEN = 40
IPV6_FRAGMENT_HEADER_LEN = 8

IPV4_HEADER = struct.Struct(">BBHHHBBH4s4s")  # without options
_IPV6 = struct.Struct(">IHBB16s16s")
_IPV6_FRAGMENT = struct.Struct(">BBHI")

IpPayload: TypeAlias = tuple[int, bytes, bytes, bytes, int, int, int]

_address_cache: dict[bytes, str] = {}


def address_text(raw: bytes) -> str:
    """`192.0.2.1` / `2001:db8::1` (RFC 5952 compressed form, as Wireshark prints it)."""
    text = _address_cache.get(raw)
    if text is None:
        if len(_address_cache) >= ADDRESS_CACHE_SIZE:
            _address_cache.clear()
        family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
        text = _address_cache[raw] = socket.inet_ntop(family, raw)
    return text


@dataclass(slots=True)
class _Pending:
    """Fragments received so far for one datagram, in arrival order."""

    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    total: int = -1  # payload length, known once the last fragment (MF clear) arrived
    protocol: int = -1  # upper protocol, known once the fragment at offset 0 arrived
    received: int = 0  # bytes held (with duplicates)


class FragmentReassembler:
    """Reassembles IPv4 and IPv6 datagrams; bounded, oldest incomplete datagram evicted first."""

    __slots__ = ("_pending", "_stats", "_bytes")

    def __init__(self, stats: Counter[str]) -> None:
        self._pending: dict[tuple[object, ...], _Pending] = {}
        self._stats = stats
        self._bytes = 0  # fragment bytes held, over all pending datagrams

    @property
    def pending_bytes(self) -> int:
        """Fragment bytes held for incomplete datagrams."""
        return self._bytes

    def _drop(self, key: tuple[object, ...]) -> None:
        self._bytes -= self._pending.pop(key).received

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, key: tuple[object, ...], offset: int, more: bool, payload: bytes, protocol: int
    ) -> tuple[int, bytes] | None:
        """Add one fragment; return `(protocol, payload)` of the datagram once it is complete.

        `protocol` is the upper protocol the fragment announces; the one of the fragment at
        offset 0 is kept (for IPv6 only that fragment's value is meaningful).
        """
        end = offset + len(payload)
        if end > limits.MAX_IP_DATAGRAM:
            self._stats["fragment-too-long"] += 1
            return None
        pending = self._pending.get(key)
        if pending is not None and len(pending.pieces) >= limits.MAX_IP_FRAGMENTS_PER_DATAGRAM:
            self._drop(key)
            self._stats["fragment-too-many"] += 1
            return None
        while self._pending and (
            (pending is None and len(self._pending) >= limits.MAX_IP_PENDING_DATAGRAMS)
            or self._bytes + len(payload) > limits.MAX_IP_FRAGMENT_BYTES
        ):
            oldest = next(iter(self._pending))
            self._drop(oldest)
            self._stats["fragment-evicted"] += 1
            if oldest == key:
                pending = None
        if pending is None:
            pending = self._pending[key] = _Pending()
        pending.pieces.append((offset, payload))
        pending.received += len(payload)
        self._bytes += len(payload)
        if offset == 0 and pending.protocol < 0:
            pending.protocol = protocol
        if not more and pending.total < 0:
            pending.total = end
        if pending.total < 0 or pending.protocol < 0 or pending.received < pending.total:
            self._stats["fragment-pending"] += 1
            return None
        datagram = _assemble(pending.pieces, pending.total)
        if datagram is None:
            self._stats["fragment-pending"] += 1
            return None
        self._drop(key)
        return pending.protocol, datagram


def _assemble(pieces: list[tuple[int, bytes]], total: int) -> bytes | None:
    """The datagram if the pieces cover [0, total) without a hole; the first arrival wins overlaps."""
    covered = 0
    for offset, payload in sorted(pieces, key=lambda piece: piece[0]):
        if offset > covered:
            return None
        covered = max(covered, offset + len(payload))
        if covered >= total:
            break
    if covered < total:
        return None
    buffer = bytearray(total)
    for offset, payload in reversed(pieces):  # earlier arrivals written last, so they win
        buffer[offset : offset + len(payload)] = payload[: max(0, total - offset)]
    return bytes(buffer)


def parse_ipv4(
    data: bytes,
    offset: int,
    reported_end: int,
    reassembler: FragmentReassembler,
    context: tuple[str, ...],
    stats: Counter[str],
) -> IpPayload | None:
    """Read the IPv4 header at `offset`; the packet ends on the wire at `reported_end` at most.

    `context` (the tunnel path) keeps fragments of different tenants apart.
    """
    limit = len(data) if len(data) < reported_end else reported_end
    if offset + IPV4_MIN_HEADER_LEN > limit:
        stats["ipv4-short"] += 1
        return None
    (version_ihl, _tos, total_length, ident, fragment, _ttl, protocol, _checksum, src, dst) = (
        IPV4_HEADER.unpack_from(data, offset)
    )
    header_len = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_len < IPV4_MIN_HEADER_LEN:
        stats["ipv4-malformed"] += 1
        return None
    start = offset + header_len
    announced_end = offset + total_length
    if total_length == 0 or announced_end > reported_end:
        # 0: segmentation offload, the capturing host's NIC fills the length in later.
        announced_end = reported_end
    elif total_length < header_len:
        stats["ipv4-malformed"] += 1
        return None
    end = announced_end if announced_end <= limit else limit
    if start > end:
        stats["ipv4-short"] += 1
        return None
    if fragment & 0x3FFF:  # MF set or a non-zero offset
        if end < announced_end:
            # A cut fragment cannot be reassembled; like Wireshark, still read a first fragment.
            if fragment & 0x1FFF:
                stats["fragment-truncated"] += 1
                return None
            return protocol, src, dst, data, start, end, announced_end
        done = reassembler.add(
            (4, src, dst, ident, protocol, context),
            (fragment & 0x1FFF) * 8,
            bool(fragment & 0x2000),
            data[start:end],
            protocol,
        )
        if done is None:
            return None
        protocol, datagram = done
        return protocol, src, dst, datagram, 0, len(datagram), len(datagram)
    return protocol, src, dst, data, start, end, announced_end


def parse_ipv6(
    data: bytes,
    offset: int,
    reported_end: int,
    reassembler: FragmentReassembler,
    context: tuple[str, ...],
    stats: Counter[str],
) -> IpPayload | None:
    """Read the IPv6 header and its extension headers at `offset` (see `parse_ipv4`)."""
    limit = len(data) if len(data) < reported_end else reported_end
    if offset + IPV6_HEADER_LEN > limit:
        stats["ipv6-short"] += 1
        return None
    version_flow, payload_length, next_header, _hops, src, dst = _IPV6.unpack_from(data, offset)
    if version_flow >> 28 != 6:
        stats["ipv6-malformed"] += 1
        return None
    start = offset + IPV6_HEADER_LEN
    announced_end = start + payload_length
    if payload_length == 0 or announced_end > reported_end:
        # 0: a jumbogram or segmentation offload; the lower layer's length is all we know of.
        announced_end = reported_end
    end = announced_end if announced_end <= limit else limit
    while True:
        if next_header in _GENERIC_EXTENSIONS or next_header == IPPROTO_AH:
            if start + 2 > end:
                stats["ipv6-short"] += 1
                return None
            if next_header == IPPROTO_AH:
                length = (data[start + 1] + 2) * 4
            else:
                length = (data[start + 1] + 1) * 8
            next_header = data[start]
            start += length
        elif next_header == IPPROTO_FRAGMENT:
            if start + IPV6_FRAGMENT_HEADER_LEN > end:
                stats["ipv6-short"] += 1
                return None
            inner, _reserved, offset_flags, ident = _IPV6_FRAGMENT.unpack_from(data, start)
            start += IPV6_FRAGMENT_HEADER_LEN
            if offset_flags & 0xFFF9 == 0:
                next_header = inner  # an atomic fragment (RFC 6946): not fragmented at all
                continue
            if end < announced_end:
                if offset_flags & 0xFFF8:
                    stats["fragment-truncated"] += 1
                    return None
                next_header = inner
                continue
            done = reassembler.add(
                (6, src, dst, ident, context),
                offset_flags & 0xFFF8,
                bool(offset_flags & 1),
                data[start:end],
                inner,
            )
            if done is None:
                return None
            next_header, data = done
            start = 0
            end = announced_end = len(data)
        elif next_header == IPPROTO_ESP or next_header == IPPROTO_NONE:
            stats["ipv6-no-transport"] += 1
            return None
        else:
            break
    if start > end:
        stats["ipv6-short"] += 1
        return None
    return next_header, src, dst, data, start, end, announced_end
