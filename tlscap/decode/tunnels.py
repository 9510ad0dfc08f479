"""Tunnels: find the inner packet of an IP payload that is itself an encapsulation.

`decapsulate(protocol, data, start, end, src, dst, stats)` looks at an IP payload
`data[start:end]` (`end` is where it ends on the wire; fewer bytes may have been captured) of
IP protocol `protocol` sent from `src` to `dst` (raw address bytes) and, when it is a tunnel we
read, returns `(ip_version, offset, end, label)`: where the inner IP header starts, where the
inner packet ends on the wire at most (UDP/GTP length fields lower it), and a label naming the tunnel —
its kind, its identity (VNI, key, TEID, session) and the outer addresses, e.g.
`vxlan vni=42 10.0.0.1>10.0.0.2`. Otherwise it returns None and counts why in `stats`.

Kinds read: IP-in-IP (4 and 41 in IPv4 or IPv6), GRE (47: checksum/key/sequence fields,
PPTP's enhanced GRE, IPv4/IPv6/MPLS/Ethernet payloads, ERSPAN types I, II and III),
and over UDP: VXLAN (4789), VXLAN-GPE (4790), Geneve (6081) and GTP-U (2152).
UDP ports are tried lower port first, as Wireshark does.
"""

from __future__ import annotations

import struct
from collections import Counter

from tlscap import limits
from tlscap.decode.ip import IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_UDP, address_text
from tlscap.decode.link import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_PPP,
    ETHERTYPE_TEB,
    NEXT_IP_BY_VERSION,
    walk_l2,
)

UDP_PORT_VXLAN = 4789
UDP_PORT_VXLAN_GPE = 4790
UDP_PORT_GENEVE = 6081
UDP_PORT_GTP_U = 2152
TUNNEL_UDP_PORTS = frozenset({UDP_PORT_VXLAN, UDP_PORT_VXLAN_GPE, UDP_PORT_GENEVE, UDP_PORT_GTP_U})
# IP protocols `decapsulate` may find a tunnel in (UDP only on the ports above).
TUNNEL_IP_PROTOCOLS = frozenset({IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE, IPPROTO_UDP})

GRE_CHECKSUM = 0x8000
GRE_ROUTING = 0x4000
GRE_KEY = 0x2000
GRE_SEQUENCE = 0x1000
GRE_ACK = 0x0080  # enhanced GRE (version 1) only
GRE_ETHERTYPE_ERSPAN_1_2 = 0x88BE
GRE_ETHERTYPE_ERSPAN_3 = 0x22EB

ERSPAN_2_HEADER_LEN = 8
ERSPAN_3_HEADER_LEN = 12
ERSPAN_3_SUBHEADER_LEN = 8

GTP_MESSAGE_G_PDU = 0xFF
GTP_HEADER_LEN = 8

UDP_HEADER_LEN = 8

_UDP = struct.Struct(">HHH")
_GRE = struct.Struct(">HH")

Inner = tuple[int, int, int, str]


def _path(src: bytes, dst: bytes) -> str:
    return f"{address_text(src)}>{address_text(dst)}"


def decapsulate(
    protocol: int, data: bytes, start: int, end: int, src: bytes, dst: bytes, stats: Counter[str]
) -> Inner | None:
    """The inner packet of a tunnel carried as IP protocol `protocol` (see the module doc)."""
    if protocol == IPPROTO_UDP:
        return _udp(data, start, end, src, dst, stats)
    if protocol == IPPROTO_IPIP or protocol == IPPROTO_IPV6:
        inner = 4 if protocol == IPPROTO_IPIP else 6
        outer = 4 if len(src) == 4 else 6
        kind = "ipip" if inner == outer == 4 else "ip6ip6" if inner == outer else f"{inner}in{outer}"
        return inner, start, end, f"{kind} {_path(src, dst)}"
    if protocol == IPPROTO_GRE:
        return _gre(data, start, end, src, dst, stats)
    stats["not-tcp"] += 1
    return None


def _udp(data: bytes, start: int, end: int, src: bytes, dst: bytes, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if start + UDP_HEADER_LEN > limit:
        stats["udp-short"] += 1
        return None
    src_port, dst_port, length = _UDP.unpack_from(data, start)
    if length >= UDP_HEADER_LEN and start + length < end:
        end = start + length
    low, high = (src_port, dst_port) if src_port <= dst_port else (dst_port, src_port)
    for port in (low, high):
        if port == UDP_PORT_VXLAN:
            return _vxlan(data, start + UDP_HEADER_LEN, end, src, dst, stats)
        if port == UDP_PORT_GENEVE:
            return _geneve(data, start + UDP_HEADER_LEN, end, src, dst, stats)
        if port == UDP_PORT_GTP_U:
            return _gtp_u(data, start + UDP_HEADER_LEN, end, src, dst, stats)
        if port == UDP_PORT_VXLAN_GPE:
            return _vxlan_gpe(data, start + UDP_HEADER_LEN, end, src, dst, stats)
    stats["not-tcp"] += 1
    return None


def _inner_l2(
    data: bytes, offset: int, end: int, ethertype: int, label: str, stats: Counter[str]
) -> Inner | None:
    """Follow the inner layer-2 headers (Ethernet, VLAN, MPLS, PPP...) down to IP."""
    if offset > end:
        stats["tunnel-short"] += 1
        return None
    version, offset, end = walk_l2(data, offset, ethertype, end)
    if version == 0:
        stats["tunnel-not-ip"] += 1
        return None
    return version, offset, end, label


def _vxlan(data: bytes, offset: int, end: int, src: bytes, dst: bytes, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if offset + 8 > limit:
        stats["tunnel-short"] += 1
        return None
    vni = int.from_bytes(data[offset + 4 : offset + 7], "big")
    return _inner_l2(data, offset + 8, end, ETHERTYPE_TEB, f"vxlan vni={vni} {_path(src, dst)}", stats)


def _vxlan_gpe(
    data: bytes, offset: int, end: int, src: bytes, dst: bytes, stats: Counter[str]
) -> Inner | None:
    limit = min(end, len(data))
    if offset + 8 > limit:
        stats["tunnel-short"] += 1
        return None
    next_protocol = data[offset + 3] if data[offset] & 0x04 else 3  # P bit clear: Ethernet
    ethertype = {1: ETHERTYPE_IPV4, 2: ETHERTYPE_IPV6, 3: ETHERTYPE_TEB}.get(next_protocol, 0)
    vni = int.from_bytes(data[offset + 4 : offset + 7], "big")
    return _inner_l2(data, offset + 8, end, ethertype, f"vxlan-gpe vni={vni} {_path(src, dst)}", stats)


def _geneve(data: bytes, offset: int, end: int, src: bytes, dst: bytes, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if offset + 8 > limit:
        stats["tunnel-short"] += 1
        return None
    if data[offset] >> 6 != 0:
        stats["geneve-version"] += 1
        return None
    options_len = (data[offset] & 0x3F) * 4
    ethertype = (data[offset + 2] << 8) | data[offset + 3]
    vni = int.from_bytes(data[offset + 4 : offset + 7], "big")
    label = f"geneve vni={vni} {_path(src, dst)}"
    return _inner_l2(data, offset + 8 + options_len, end, ethertype, label, stats)


def _gtp_u(data: bytes, offset: int, end: int, src: bytes, dst: bytes, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if offset + GTP_HEADER_LEN > limit:
        stats["tunnel-short"] += 1
        return None
    flags = data[offset]
    if flags >> 5 != 1 or not flags & 0x10:  # GTPv1, protocol type GTP (not GTP')
        stats["gtp-version"] += 1
        return None
    if data[offset + 1] != GTP_MESSAGE_G_PDU:  # echo, error indication, end marker...
        stats["not-tcp"] += 1
        return None
    length = (data[offset + 2] << 8) | data[offset + 3]
    teid = int.from_bytes(data[offset + 4 : offset + 8], "big")
    if offset + GTP_HEADER_LEN + length < end:
        end = offset + GTP_HEADER_LEN + length
        limit = min(end, limit)
    position = offset + GTP_HEADER_LEN
    if flags & 0x07:  # any of E, S, PN: sequence number, N-PDU number and next extension type follow
        if position + 4 > limit:
            stats["tunnel-short"] += 1
            return None
        next_extension = data[position + 3] if flags & 0x04 else 0
        position += 4
        for _ in range(limits.MAX_GTP_EXTENSIONS):
            if next_extension == 0:
                break
            if position >= limit or data[position] == 0:
                stats["tunnel-short"] += 1
                return None
            extension_len = data[position] * 4
            if position + extension_len > limit:
                stats["tunnel-short"] += 1
                return None
            next_extension = data[position + extension_len - 1]
            position += extension_len
        else:
            stats["gtp-malformed"] += 1
            return None
    label = f"gtp teid=0x{teid:x} {_path(src, dst)}"
    return _inner_l2(data, position, end, NEXT_IP_BY_VERSION, label, stats)


def _gre(data: bytes, offset: int, end: int, src: bytes, dst: bytes, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if offset + 4 > limit:
        stats["tunnel-short"] += 1
        return None
    flags, ethertype = _GRE.unpack_from(data, offset)
    version = flags & 0x07
    position = offset + 4
    if version == 1:
        return _pptp_gre(data, position, end, flags, ethertype, src, dst, stats)
    if version != 0:
        stats["gre-version"] += 1
        return None
    if flags & (GRE_CHECKSUM | GRE_ROUTING):
        position += 4  # checksum and offset
    key = -1
    if flags & GRE_KEY:
        if position + 4 > limit:
            stats["tunnel-short"] += 1
            return None
        key = int.from_bytes(data[position : position + 4], "big")
        position += 4
    if flags & GRE_SEQUENCE:
        position += 4
    if flags & GRE_ROUTING:
        for _ in range(limits.MAX_GRE_ROUTING_ENTRIES):
            if position + 4 > limit:
                stats["tunnel-short"] += 1
                return None
            entry_len = data[position + 3]
            position += 4 + entry_len
            if entry_len == 0 and data[position - 4] == 0 and data[position - 3] == 0:
                break  # the NULL entry ends the list
        else:
            stats["gre-malformed"] += 1
            return None
    path = _path(src, dst)
    if ethertype == GRE_ETHERTYPE_ERSPAN_1_2:
        if not flags & GRE_SEQUENCE:  # type I has no ERSPAN header and no sequence number
            return _inner_l2(data, position, end, ETHERTYPE_TEB, f"erspan1 {path}", stats)
        if position + ERSPAN_2_HEADER_LEN > limit:
            stats["tunnel-short"] += 1
            return None
        session = ((data[position + 2] << 8) | data[position + 3]) & 0x03FF
        label = f"erspan2 session={session} {path}"
        return _inner_l2(data, position + ERSPAN_2_HEADER_LEN, end, ETHERTYPE_TEB, label, stats)
    if ethertype == GRE_ETHERTYPE_ERSPAN_3:
        return _erspan_3(data, position, end, path, stats)
    label = f"gre key={key} {path}" if key >= 0 else f"gre {path}"
    return _inner_l2(data, position, end, ethertype, label, stats)


def _pptp_gre(
    data: bytes,
    position: int,
    end: int,
    flags: int,
    ethertype: int,
    src: bytes,
    dst: bytes,
    stats: Counter[str],
) -> Inner | None:
    """Enhanced GRE (RFC 2637): the key field holds payload length and call id; PPP follows."""
    limit = min(end, len(data))
    if ethertype != ETHERTYPE_PPP or not flags & GRE_KEY or position + 4 > limit:
        stats["gre-malformed"] += 1
        return None
    call = (data[position + 2] << 8) | data[position + 3]
    position += 4
    if flags & GRE_SEQUENCE:
        position += 4
    if flags & GRE_ACK:
        position += 4
    return _inner_l2(data, position, end, ETHERTYPE_PPP, f"pptp call={call} {_path(src, dst)}", stats)


def _erspan_3(data: bytes, position: int, end: int, path: str, stats: Counter[str]) -> Inner | None:
    limit = min(end, len(data))
    if position + ERSPAN_3_HEADER_LEN > limit:
        stats["tunnel-short"] += 1
        return None
    session = ((data[position + 2] << 8) | data[position + 3]) & 0x03FF
    word = (data[position + 10] << 8) | data[position + 11]
    frame_type = (word >> 10) & 0x1F
    inner = position + ERSPAN_3_HEADER_LEN
    if word & 0x0001:  # O bit: the platform-specific subheader is present
        inner += ERSPAN_3_SUBHEADER_LEN
    label = f"erspan3 session={session} {path}"
    if frame_type == 0:
        return _inner_l2(data, inner, end, ETHERTYPE_TEB, label, stats)
    if frame_type == 2:
        return _inner_l2(data, inner, end, NEXT_IP_BY_VERSION, label, stats)
    stats["tunnel-not-ip"] += 1
    return None
