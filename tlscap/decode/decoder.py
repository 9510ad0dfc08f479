"""The packet decoder: a captured Frame in, a TCP Segment (or None) out.

    decoder = Decoder()
    for frame in frames:
        segment = decoder.decode(frame)

`decode` follows the link layer (`link.py`), IPv4/IPv6 with their options, extension headers
and fragments (`ip.py`), and tunnels nested up to `limits.MAX_TUNNEL_DEPTH` deep (`tunnels.py`) down to
a TCP header. It returns None for everything else — ARP, UDP that is no tunnel, ICMP (error
messages that quote a TCP header included), ESP, a fragment whose datagram is not complete
yet, malformed or cut headers — and never raises; `decoder.stats` counts why frames were
dropped. The only state is fragment reassembly, bounded as `ip.py` documents.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

from tlscap import limits
from tlscap.capture.frame import Frame
from tlscap.decode.datagram import Datagram
from tlscap.decode.ip import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV4_HEADER,
    FragmentReassembler,
    address_text,
    parse_ipv4,
    parse_ipv6,
)
from tlscap.decode.link import (
    ETHERNET_HEADER_LEN,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    LINKTYPE_RAW_OLD_12,
    LINKTYPE_RAW_OLD_14,
    SLL2_HEADER_LEN,
    SLL_HEADER_LEN,
    SUPPORTED_LINK_TYPES,
    link_start,
    walk_l2,
)
from tlscap.decode.segment import Segment
from tlscap.decode.tunnels import TUNNEL_IP_PROTOCOLS, TUNNEL_UDP_PORTS, decapsulate

TCP_MIN_HEADER_LEN = 20
IPPROTO_ICMP = 1
IPPROTO_ICMPV6 = 58
# ICMP types that quote the offending packet: unreachable, source quench, redirect, time exceeded,
# parameter problem (v4); unreachable, packet too big, time exceeded, parameter problem (v6).
_ICMP_ERRORS = frozenset({3, 4, 5, 11, 12})
_ICMPV6_ERRORS = frozenset({1, 2, 3, 4})
_TCP = struct.Struct(">HHIIBB")
# IPv4 header without options, then the TCP header's fixed fields up to the flags.
_IPV4_TCP = struct.Struct(">BBHHHBBH4s4sHHIIBB")
# IPv6 header without extension headers, then the TCP header's fixed fields up to the flags.
_IPV6_TCP = struct.Struct(">IHBB16s16sHHIIBB")
_ETHERTYPE_IPV4 = b"\x08\x00"
_ETHERTYPE_IPV6 = b"\x86\xdd"
_PORTS = struct.Struct(">HH")
# For a link type whose frames start with IP: which versions it admits, instead of an EtherType offset.
_ANY_IP, _IPV4_ONLY, _IPV6_ONLY = -1, -4, -6
# The link types whose header has a fixed length: where IP starts, and where the EtherType that must
# say IPv4 or IPv6 lies. Their commonest frames (IPv4 without options, IPv6 without extension headers,
# carrying TCP) take the one-unpack path in `decode`: Ethernet, Linux cooked captures (`tcpdump -i
# any`: SLL2, or SLL before 4.99), raw IP.
FIXED_LINK_HEADERS = {
    LINKTYPE_ETHERNET: (ETHERNET_HEADER_LEN, 12),
    LINKTYPE_LINUX_SLL: (SLL_HEADER_LEN, 14),
    LINKTYPE_LINUX_SLL2: (SLL2_HEADER_LEN, 0),
    LINKTYPE_RAW: (0, _ANY_IP),
    LINKTYPE_RAW_OLD_12: (0, _ANY_IP),
    LINKTYPE_RAW_OLD_14: (0, _ANY_IP),
    LINKTYPE_IPV4: (0, _IPV4_ONLY),
    LINKTYPE_IPV6: (0, _IPV6_ONLY),
}

# From the IPv4 header: total length, fragment field, protocol; from TCP (past the ports): seq, ack,
# data offset, flags.
_BULK_FIELDS_V4 = struct.Struct(">2xH2xHxB14xIIBB")
# From the IPv6 header: payload length, next header; from TCP (past the ports): seq, ack, data offset,
# flags.
_BULK_FIELDS_V6 = struct.Struct(">4xHB37xIIBB")
_SYN_FIN_RST = 0x07
_ACK = 0x10

__all__ = ["FIXED_LINK_HEADERS", "Decoder", "bulk_fields_v4", "bulk_fields_v6",
           "conversation_tunnel", "flow_bytes"]


def flow_bytes(src_ip: str, dst_ip: str, src_port: int, dst_port: int) -> bytes | None:
    """The bytes a packet of this direction carries from offset 12 of its IPv4 header (addresses, then
    ports: 12 bytes) or from offset 8 of its IPv6 header (36 bytes): the key its frames can be found by
    (see bulk_fields_v4/v6). None for text that is no address."""
    ports = _PORTS.pack(src_port, dst_port)
    try:
        if ":" in src_ip:
            return socket.inet_pton(socket.AF_INET6, src_ip) + socket.inet_pton(socket.AF_INET6, dst_ip) + ports
        return socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + ports
    except OSError:
        return None


def bulk_fields_v4(data: bytes, ip: int, ethertype: int) -> tuple[int, int, int] | None:
    """`(seq, ack, payload length)` of a frame that `Decoder.decode` would take in one unpack (IPv4
    without options, unfragmented, carrying TCP, at offset `ip` behind a fixed link header, see
    FIXED_LINK_HEADERS) when it is a plain acknowledgement or data segment: ACK set, no SYN, FIN or RST,
    nothing cut by the snap length. None for any other frame (decode it). Such a frame carries its
    direction's `flow_bytes` at `ip + 12`."""
    size = len(data)
    if size < ip + 20 + TCP_MIN_HEADER_LEN or data[ip] != 0x45 or (
            data[ethertype : ethertype + 2] != _ETHERTYPE_IPV4 if ethertype >= 0 else ethertype == _IPV6_ONLY):
        return None
    total_length, fragment, protocol, seq, ack, data_offset, flags = _BULK_FIELDS_V4.unpack_from(data, ip)
    payload_start = ip + 20 + (data_offset >> 4) * 4
    end = ip + total_length
    if (protocol != IPPROTO_TCP or fragment & 0x3FFF or data_offset < 0x50 or flags & _SYN_FIN_RST
            or not flags & _ACK or payload_start > end or end > size):
        return None
    return seq, ack, end - payload_start


def bulk_fields_v6(data: bytes, ip: int, ethertype: int) -> tuple[int, int, int] | None:
    """`bulk_fields_v4` for IPv6 without extension headers; such a frame carries its direction's
    `flow_bytes` at `ip + 8`."""
    size = len(data)
    if size < ip + 40 + TCP_MIN_HEADER_LEN or data[ip] >> 4 != 6 or (
            data[ethertype : ethertype + 2] != _ETHERTYPE_IPV6 if ethertype >= 0 else ethertype == _IPV4_ONLY):
        return None
    payload_length, next_header, seq, ack, data_offset, flags = _BULK_FIELDS_V6.unpack_from(data, ip)
    payload_start = ip + 40 + (data_offset >> 4) * 4
    end = ip + 40 + payload_length
    if (next_header != IPPROTO_TCP or data_offset < 0x50 or flags & _SYN_FIN_RST
            or not flags & _ACK or payload_start > end or end > size):
        return None
    return seq, ack, end - payload_start


class Decoder:
    """Decodes frames into TCP segments; keep one per capture (it holds pending IP fragments).

    With `on_datagram` set, every UDP datagram (tunnel carriers included, before they are opened) is
    also handed to it as a `Datagram`: the DTLS layer numbers UDP flows as Wireshark does and reads DTLS.
    """

    __slots__ = ("stats", "_reassembler", "on_datagram")

    def __init__(self, on_datagram: Callable[[Datagram], None] | None = None) -> None:
        self.stats: Counter[str] = Counter()
        self._reassembler = FragmentReassembler(self.stats)
        self.on_datagram = on_datagram

    @property
    def pending_fragments(self) -> int:
        """How many fragmented datagrams wait for more fragments."""
        return len(self._reassembler)

    def decode(self, frame: Frame) -> Segment | None:
        """The TCP segment the frame carries, or None (counted in `stats`)."""
        try:
            data = frame.data
            fixed = FIXED_LINK_HEADERS.get(frame.link_type)
            if fixed is not None:
                # The commonest frames, IPv4 without options or IPv6 without extension headers carrying
                # TCP, in one unpack; anything unusual about them (fragment, cut or malformed header)
                # takes the general path.
                ip, ethertype = fixed
                size = len(data)
                reported = size if size >= frame.original_length else frame.original_length
                first = data[ip] if size >= ip + 20 + TCP_MIN_HEADER_LEN else 0
                if first == 0x45 and (data[ethertype : ethertype + 2] == _ETHERTYPE_IPV4 if ethertype >= 0
                                      else ethertype != _IPV6_ONLY):
                    (_vihl, _tos, total_length, _id, fragment, _ttl, protocol, _sum, src, dst,
                     src_port, dst_port, seq, ack, data_offset, flags) = _IPV4_TCP.unpack_from(data, ip)
                    header_len = (data_offset >> 4) * 4
                    announced_end = ip + total_length
                    payload_start = ip + 20 + header_len
                    if (protocol == IPPROTO_TCP and not fragment & 0x3FFF and header_len >= TCP_MIN_HEADER_LEN
                            and payload_start <= announced_end <= reported):
                        return _segment(frame, data, payload_start, announced_end if announced_end <= size else size,
                                        announced_end, src, dst, src_port, dst_port, seq, ack, flags, ())
                elif first >> 4 == 6 and size >= ip + 40 + TCP_MIN_HEADER_LEN and (
                        data[ethertype : ethertype + 2] == _ETHERTYPE_IPV6 if ethertype >= 0
                        else ethertype != _IPV4_ONLY):
                    (_vtf, payload_length, next_header, _hops, src, dst,
                     src_port, dst_port, seq, ack, data_offset, flags) = _IPV6_TCP.unpack_from(data, ip)
                    header_len = (data_offset >> 4) * 4
                    announced_end = ip + 40 + payload_length
                    captured_end = announced_end if announced_end <= size else size
                    payload_start = ip + 40 + header_len
                    # (A payload length of 0, a jumbogram, leaves no room for the TCP header here.)
                    if (next_header == IPPROTO_TCP and header_len >= TCP_MIN_HEADER_LEN
                            and payload_start <= announced_end <= reported):
                        return _segment(frame, data, payload_start, captured_end, announced_end, src, dst,
                                        src_port, dst_port, seq, ack, flags, ())
            return self._decode(frame)
        except Exception:  # last safety net: the parsers check lengths, so this is a bug
            self.stats["decode-error"] += 1
            return None

    def _decode(self, frame: Frame) -> Segment | None:
        data = frame.data
        # Where the frame ends on the wire: beyond the captured bytes when the snap length cut it.
        end = frame.original_length if frame.original_length > len(data) else len(data)
        link_type = frame.link_type
        if link_type == LINKTYPE_ETHERNET and len(data) >= ETHERNET_HEADER_LEN:
            # The common case first, without a call.
            ethertype = (data[12] << 8) | data[13]
            if ethertype == ETHERTYPE_IPV4:
                version, offset = 4, ETHERNET_HEADER_LEN
            elif ethertype == ETHERTYPE_IPV6:
                version, offset = 6, ETHERNET_HEADER_LEN
            else:
                version, offset, end = walk_l2(data, ETHERNET_HEADER_LEN, ethertype, end)
        else:
            version, offset, end = link_start(link_type, data, end)
        if version == 0:
            self.stats["not-ip" if link_type in SUPPORTED_LINK_TYPES else "unsupported-link-type"] += 1
            return None
        if version == 4 and len(data) >= offset + 40 and data[offset] == 0x45:
            # Fast path for the common case, plain IPv4 without options or fragments carrying TCP;
            # everything else takes the general path below.
            _vihl, _tos, total_length, _id, fragment, _ttl, protocol, _sum, src, dst = (
                IPV4_HEADER.unpack_from(data, offset)
            )
            announced_end = offset + total_length
            if not fragment & 0x3FFF and total_length >= 40 and announced_end <= end:
                if protocol == IPPROTO_TCP:
                    captured_end = announced_end if announced_end <= len(data) else len(data)
                    return self._tcp(frame, data, offset + 20, captured_end, announced_end, src, dst, ())
                if protocol == IPPROTO_UDP:
                    # Plain UDP (DNS, QUIC...) is dropped here unless a port names a tunnel.
                    src_port = (data[offset + 20] << 8) | data[offset + 21]
                    dst_port = (data[offset + 22] << 8) | data[offset + 23]
                    if (src_port not in TUNNEL_UDP_PORTS and dst_port not in TUNNEL_UDP_PORTS
                            and self.on_datagram is None):
                        self.stats["not-tcp"] += 1
                        return None
                elif protocol not in TUNNEL_IP_PROTOCOLS and protocol != IPPROTO_ICMP:
                    self.stats["not-tcp"] += 1
                    return None
        stats = self.stats
        reassembler = self._reassembler
        tunnel: tuple[str, ...] = ()
        for _ in range(limits.MAX_TUNNEL_DEPTH + 1):
            if version == 4:
                ip = parse_ipv4(data, offset, end, reassembler, tunnel, stats)
            else:
                ip = parse_ipv6(data, offset, end, reassembler, tunnel, stats)
            if ip is None:
                return None
            protocol, src, dst, data, start, captured_end, end = ip
            if protocol == IPPROTO_TCP:
                return self._tcp(frame, data, start, captured_end, end, src, dst, tunnel)
            if protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6):
                return self._icmp_quote(frame, data, start, captured_end, protocol, tunnel)
            if protocol == IPPROTO_UDP and self.on_datagram is not None:
                self._udp(frame, data, start, captured_end, end, src, dst, tunnel)
            inner = decapsulate(protocol, data, start, end, src, dst, stats)
            if inner is None:
                return None
            version, offset, end, label = inner
            tunnel = (*tunnel, label)
        stats["tunnel-too-deep"] += 1
        return None

    def _udp(self, frame: Frame, data: bytes, start: int, captured_end: int, end: int, src: bytes, dst: bytes,
             tunnel: tuple[str, ...]) -> None:
        """Hand the UDP datagram at `start` to `on_datagram` (`data[start:captured_end]` was captured,
        the datagram ends at `end` on the wire, or where its length field says when that is sooner)."""
        assert self.on_datagram is not None
        if start + 8 > captured_end:
            return
        length = (data[start + 4] << 8) | data[start + 5]
        if 8 <= length and start + length < end:
            end = start + length
        payload_end = min(end, captured_end)
        self.on_datagram(Datagram(
            src_ip=address_text(src), dst_ip=address_text(dst),
            src_port=(data[start] << 8) | data[start + 1], dst_port=(data[start + 2] << 8) | data[start + 3],
            payload=data[start + 8 : payload_end], payload_missing=end - payload_end, tunnel=tunnel,
            frame=frame.number, timestamp_ns=frame.timestamp_ns))

    def _icmp_quote(
        self, frame: Frame, data: bytes, start: int, end: int, protocol: int, tunnel: tuple[str, ...]
    ) -> Segment | None:
        """The TCP header an ICMP error quotes, as a payload-less Segment marked `quoted`.

        Wireshark gives such a quoted header a TCP conversation (and a tcp.stream index) of its own
        when no conversation has those endpoints yet; the analysis needs it only for that numbering.
        """
        errors = _ICMP_ERRORS if protocol == IPPROTO_ICMP else _ICMPV6_ERRORS
        if end - start < 8 or data[start] not in errors:
            self.stats["not-tcp"] += 1
            return None
        inner = start + 8
        version = data[inner] >> 4 if inner < end else 0
        if version == 4 and inner + 20 <= end and data[inner + 9] == IPPROTO_TCP:
            tcp = inner + (data[inner] & 0x0F) * 4
            src, dst = data[inner + 12 : inner + 16], data[inner + 16 : inner + 20]
        elif version == 6 and inner + 40 <= end and data[inner + 6] == IPPROTO_TCP:
            tcp = inner + 40
            src, dst = data[inner + 8 : inner + 24], data[inner + 24 : inner + 40]
        else:
            self.stats["not-tcp"] += 1
            return None
        if tcp + 8 > end:
            self.stats["not-tcp"] += 1
            return None
        self.stats["icmp-quoted-tcp"] += 1
        return Segment(
            src_ip=address_text(src),
            dst_ip=address_text(dst),
            src_port=(data[tcp] << 8) | data[tcp + 1],
            dst_port=(data[tcp + 2] << 8) | data[tcp + 3],
            seq=int.from_bytes(data[tcp + 4 : tcp + 8], "big"),
            ack=0,
            flags=0,
            payload=b"",
            tunnel=tunnel,
            frame=frame.number,
            timestamp_ns=frame.timestamp_ns,
            quoted=True,
        )

    def _tcp(
        self,
        frame: Frame,
        data: bytes,
        start: int,
        end: int,
        announced_end: int,
        src: bytes,
        dst: bytes,
        tunnel: tuple[str, ...],
    ) -> Segment | None:
        """The segment whose TCP header is at `start`; `data[start:end]` was captured.

        `announced_end` is where the segment ends on the wire; the bytes between the captured
        end and it were cut by the snap length and are counted in `payload_missing`.
        """
        if start + TCP_MIN_HEADER_LEN > end:
            self.stats["tcp-short"] += 1
            return None
        src_port, dst_port, seq, ack, data_offset, flags = _TCP.unpack_from(data, start)
        header_len = (data_offset >> 4) * 4
        payload_start = start + header_len
        if header_len < TCP_MIN_HEADER_LEN or payload_start > announced_end:
            self.stats["tcp-malformed"] += 1
            return None
        return _segment(frame, data, payload_start, end, announced_end, src, dst, src_port, dst_port, seq, ack,
                        flags, tunnel)


def _segment(frame: Frame, data: bytes, payload_start: int, end: int, announced_end: int, src: bytes, dst: bytes,
             src_port: int, dst_port: int, seq: int, ack: int, flags: int, tunnel: tuple[str, ...]) -> Segment:
    """The Segment of a checked TCP header: its payload is `data[payload_start:end]`, and the bytes up to
    `announced_end` that the snap length cut are counted as missing."""
    if payload_start <= end:
        payload = data[payload_start:end]
        missing = announced_end - end
    else:  # the snap length cut the options: no payload captured at all
        payload = b""
        missing = announced_end - payload_start
    return Segment(address_text(src), address_text(dst), src_port, dst_port, seq, ack, flags, payload, missing,
                   tunnel, frame.number, frame.timestamp_ns)


# Label fields that differ between the two directions of one connection: GTP-U and PPTP
# peers each choose the identifier the other side must send to.
_DIRECTIONAL_FIELDS = ("teid=", "call=")


@lru_cache(maxsize=4096)
def conversation_tunnel(tunnel: tuple[str, ...]) -> tuple[str, ...]:
    """A form of `Segment.tunnel` that is the same for both directions of a connection.

    Each label's outer path `a>b` becomes the ordered pair `a<>b` (lower first) and
    per-direction identifiers (GTP TEID, PPTP call id) are dropped, so the TCP layer can key a
    connection by (conversation_tunnel, endpoints) and still keep two tenants apart.
    """
    labels = []
    for label in tunnel:
        words = [word for word in label.split(" ") if not word.startswith(_DIRECTIONAL_FIELDS)]
        first, _, second = words[-1].partition(">")
        words[-1] = f"{first}<>{second}" if first <= second else f"{second}<>{first}"
        labels.append(" ".join(words))
    return tuple(labels)
