"""Link layers: find where the IP header starts in a captured frame.

Two entry points, both pure functions over bytes that never raise on malformed input:

- `link_start(link_type, data, end)` reads the capture's link-layer header (Ethernet, Linux cooked
  SLL/SLL2, raw IP, BSD NULL/LOOP, PPP) and returns where the IP header starts;
- `walk_l2(data, offset, ethertype, end)` follows the layer-2 encapsulations that may sit in front of
  IP — 802.1Q/802.1ad/QinQ tags, MPLS label stacks, PPPoE sessions, PPP, and nested Ethernet
  (EtherType 0x6558, "transparent Ethernet bridging", which tunnels use for an inner frame).

Both return `(ip_version, offset, end)`: `ip_version` is 4 or 6, or 0 when the frame carries
no IP we read (ARP, LLC, an unknown EtherType, a header cut short); `end` is where the IP
packet ends on the wire at most (a PPPoE length field can say so; Ethernet padding follows).
Ends are "on the wire" offsets: they may lie beyond the captured bytes when the snap length
cut the frame, and every read is checked against both.
"""

from __future__ import annotations

from typing import TypeAlias

from tlscap import limits

# LINKTYPE_* values (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_OLD_12 = 12  # DLT_RAW on some BSDs, written as-is by old libpcaps
LINKTYPE_RAW_OLD_14 = 14  # DLT_RAW on OpenBSD
LINKTYPE_PPP_HDLC = 50
LINKTYPE_PPP_ETHER = 51  # PPPoE header without the Ethernet header
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

# EtherTypes.
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100  # 802.1Q
ETHERTYPE_QINQ = 0x88A8  # 802.1ad service tag
ETHERTYPE_QINQ_OLD = 0x9100  # pre-standard QinQ
ETHERTYPE_QINQ_OLD2 = 0x9200
ETHERTYPE_MPLS = 0x8847
ETHERTYPE_MPLS_MULTICAST = 0x8848
ETHERTYPE_PPPOE_SESSION = 0x8864
ETHERTYPE_PPP = 0x880B  # PPP directly in an EtherType field (PPTP's GRE)
ETHERTYPE_TEB = 0x6558  # transparent Ethernet bridging: an Ethernet frame follows
# Not an EtherType: "an IP header follows, its version nibble says which".
NEXT_IP_BY_VERSION = -1

# PPP protocol numbers.
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057

# Address families of the BSD NULL/LOOP header (Wireshark's BSD_AF_* values).
AF_INET = 2
AF_INET6_VALUES = frozenset({24, 28, 30})  # NetBSD/OpenBSD, FreeBSD, Darwin

ETHERNET_HEADER_LEN = 14
SLL_HEADER_LEN = 16
SLL2_HEADER_LEN = 20
MPLS_LABEL_LEN = 4
PPPOE_HEADER_LEN = 6

# (ip_version, offset of the IP header, end of the IP packet on the wire); version 0: no IP.
L2Result: TypeAlias = tuple[int, int, int]

_VLAN_TYPES = frozenset({ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_QINQ_OLD2})


def _ip_by_version(data: bytes, offset: int, end: int) -> L2Result:
    """Guess IPv4/IPv6 from the version nibble at `offset` (raw IP, MPLS payloads, GTP-U)."""
    if offset >= end or offset >= len(data):
        return 0, offset, end
    version = data[offset] >> 4
    if version == 4 or version == 6:
        return version, offset, end
    return 0, offset, end


def _ppp(data: bytes, offset: int, end: int) -> L2Result:
    """Read a PPP header (optional FF 03 address/control, 1- or 2-byte protocol) at `offset`."""
    limit = min(end, len(data))
    if offset + 2 <= limit and data[offset] == 0xFF and data[offset + 1] == 0x03:
        offset += 2
    if offset >= limit:
        return 0, offset, end
    if data[offset] & 1:  # protocol-field compression: a one-byte protocol (odd by definition)
        protocol = data[offset]
        offset += 1
    else:
        if offset + 2 > limit:
            return 0, offset, end
        protocol = (data[offset] << 8) | data[offset + 1]
        offset += 2
    if protocol == PPP_IPV4:
        return 4, offset, end
    if protocol == PPP_IPV6:
        return 6, offset, end
    return 0, offset, end


def walk_l2(data: bytes, offset: int, ethertype: int, end: int) -> L2Result:
    """Follow layer-2 encapsulations from `ethertype`, whose payload starts at `offset`, down to IP.

    `ethertype` may be `ETHERTYPE_TEB` (an Ethernet header starts at `offset`) or
    `NEXT_IP_BY_VERSION`. `end` is where the layer ends on the wire (it may lie beyond the
    captured bytes). Returns `(ip_version, offset of the IP header, end)`, version 0 if none;
    the returned `end` is lowered when a length field (PPPoE) says the packet ends earlier.
    """
    limit = min(end, len(data))
    for _ in range(limits.MAX_L2_HEADERS):
        if ethertype == ETHERTYPE_IPV4:
            return 4, offset, end
        if ethertype == ETHERTYPE_IPV6:
            return 6, offset, end
        if ethertype in _VLAN_TYPES:
            if offset + 4 > limit:
                return 0, offset, end
            ethertype = (data[offset + 2] << 8) | data[offset + 3]
            offset += 4
        elif ethertype == ETHERTYPE_TEB:
            if offset + ETHERNET_HEADER_LEN > limit:
                return 0, offset, end
            ethertype = (data[offset + 12] << 8) | data[offset + 13]
            offset += ETHERNET_HEADER_LEN
        elif ethertype == ETHERTYPE_MPLS or ethertype == ETHERTYPE_MPLS_MULTICAST:
            return _mpls(data, offset, end)
        elif ethertype == ETHERTYPE_PPPOE_SESSION:
            if offset + PPPOE_HEADER_LEN + 2 > limit:
                return 0, offset, end
            # The length field counts the PPP bytes: what follows is Ethernet padding.
            length = (data[offset + 4] << 8) | data[offset + 5]
            end = min(end, offset + PPPOE_HEADER_LEN + length)
            # PPPoE carries PPP without address/control bytes: the protocol follows the header.
            return _ppp(data, offset + PPPOE_HEADER_LEN, end)
        elif ethertype == ETHERTYPE_PPP:
            return _ppp(data, offset, end)
        elif ethertype == NEXT_IP_BY_VERSION:
            return _ip_by_version(data, offset, end)
        else:
            # ARP, LLC (an 802.3 length field below 0x0600), LLDP, and everything else.
            return 0, offset, end
    return 0, offset, end


def _mpls(data: bytes, offset: int, end: int) -> L2Result:
    """Skip an MPLS label stack up to the bottom-of-stack label, then guess what it carries."""
    limit = min(end, len(data))
    for _ in range(limits.MAX_L2_HEADERS):
        if offset + MPLS_LABEL_LEN > limit:
            return 0, offset, end
        bottom = data[offset + 2] & 0x01
        offset += MPLS_LABEL_LEN
        if bottom:
            break
    else:
        return 0, offset, end
    if offset >= limit:
        return 0, offset, end
    nibble = data[offset] >> 4
    if nibble == 4 or nibble == 6:
        return nibble, offset, end
    if nibble == 0:
        # An Ethernet pseudowire with its 4-byte control word (RFC 4448), as Wireshark guesses.
        return walk_l2(data, offset + 4, ETHERTYPE_TEB, end)
    return 0, offset, end


def _null_family(data: bytes, end: int, big_endian: bool) -> L2Result:
    """BSD NULL (host byte order, either accepted) or LOOP (network byte order) header."""
    if len(data) < 4:
        return 0, 0, end
    family = int.from_bytes(data[0:4], "big" if big_endian else "little")
    if not big_endian and family > 0xFFFF:
        # Written on a big-endian host: the family sits in the last bytes.
        family = int.from_bytes(data[0:4], "big")
    if family == AF_INET:
        return 4, 4, end
    if family in AF_INET6_VALUES:
        return 6, 4, end
    return 0, 4, end


def link_start(link_type: int, data: bytes, end: int) -> L2Result:
    """Where the IP header of a frame of this LINKTYPE starts: `(ip_version, offset, end)`.

    `end` is the frame's length on the wire (see `walk_l2`); `ip_version` is 0 for an
    unsupported link type or a frame without IP.
    """
    size = len(data)
    if link_type == LINKTYPE_ETHERNET:
        return walk_l2(data, 0, ETHERTYPE_TEB, end)
    if link_type == LINKTYPE_LINUX_SLL:
        if size < SLL_HEADER_LEN:
            return 0, 0, end
        return walk_l2(data, SLL_HEADER_LEN, (data[14] << 8) | data[15], end)
    if link_type == LINKTYPE_LINUX_SLL2:
        if size < SLL2_HEADER_LEN:
            return 0, 0, end
        return walk_l2(data, SLL2_HEADER_LEN, (data[0] << 8) | data[1], end)
    if link_type in (LINKTYPE_RAW, LINKTYPE_RAW_OLD_12, LINKTYPE_RAW_OLD_14):
        return _ip_by_version(data, 0, end)
    if link_type == LINKTYPE_IPV4:
        return (4, 0, end) if size and data[0] >> 4 == 4 else (0, 0, end)
    if link_type == LINKTYPE_IPV6:
        return (6, 0, end) if size and data[0] >> 4 == 6 else (0, 0, end)
    if link_type == LINKTYPE_NULL:
        return _null_family(data, end, big_endian=False)
    if link_type == LINKTYPE_LOOP:
        return _null_family(data, end, big_endian=True)
    if link_type == LINKTYPE_PPP or link_type == LINKTYPE_PPP_HDLC:
        return _ppp(data, 0, end)
    if link_type == LINKTYPE_PPP_ETHER:
        return walk_l2(data, 0, ETHERTYPE_PPPOE_SESSION, end)
    return 0, 0, end


SUPPORTED_LINK_TYPES = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_PPP,
        LINKTYPE_RAW_OLD_12,
        LINKTYPE_RAW_OLD_14,
        LINKTYPE_PPP_HDLC,
        LINKTYPE_PPP_ETHER,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
    }
)
