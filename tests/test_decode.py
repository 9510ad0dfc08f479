"""Tests of tlscap.decode: link layers, IP, fragments, tunnels, truncation, and tshark parity.

Frames are crafted with scapy; the corpus tests compare every TCP segment with payload that
the decoder yields with what tshark (the oracle) reports for the same file.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.compat import raw
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, GRE, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet
from scapy.utils import RawPcapReader, wrpcap

from tlscap import limits
from tlscap.capture.frame import Frame
from tlscap.decode import ip as ip_module
from tlscap.decode.decoder import Decoder, conversation_tunnel
from tlscap.decode.segment import ACK, PSH, Segment

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"

CLIENT, SERVER = "192.168.1.10", "203.0.113.5"
CLIENT6, SERVER6 = "2001:db8::10", "2001:db8:0:1::5"
PAYLOAD = b"\x16\x03\x01\x00\x05hello"

MACS: dict[str, Any] = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def tcp(payload: bytes = PAYLOAD, **fields: Any) -> Packet:
    values: dict[str, Any] = {"sport": 51000, "dport": 443, "seq": 1000, "ack": 2000, "flags": "PA"}
    values.update(fields)
    return TCP(**values) / payload


def inner4(payload: bytes = PAYLOAD) -> Packet:
    return IP(src=CLIENT, dst=SERVER) / tcp(payload)


def inner6(payload: bytes = PAYLOAD) -> Packet:
    return IPv6(src=CLIENT6, dst=SERVER6) / tcp(payload)


def make_frame(packet: Packet | bytes, link_type: int = 1, number: int = 1, cut: int = 0) -> Frame:
    """A frame of `packet`; `cut` bytes removed at the end as a snap length would."""
    data = packet if isinstance(packet, bytes) else raw(packet)
    return Frame(
        number=number,
        timestamp_ns=number * 1000,
        link_type=link_type,
        data=data[: len(data) - cut],
        original_length=len(data),
    )


def decode(packet: Packet | bytes, link_type: int = 1, **kwargs: int) -> Segment | None:
    decoder = Decoder()
    segment = decoder.decode(make_frame(packet, link_type, **kwargs))
    assert decoder.stats["decode-error"] == 0, "a parser raised: the safety net caught it"
    return segment


def assert_plain4(segment: Segment | None, tunnel: tuple[str, ...] = ()) -> None:
    assert segment is not None
    assert (segment.src_ip, segment.dst_ip, segment.src_port, segment.dst_port) == (
        CLIENT,
        SERVER,
        51000,
        443,
    )
    assert (segment.seq, segment.ack, segment.flags) == (1000, 2000, PSH | ACK)
    assert segment.payload == PAYLOAD
    assert segment.payload_missing == 0
    assert segment.tunnel == tunnel


def assert_plain6(segment: Segment | None, tunnel: tuple[str, ...] = ()) -> None:
    assert segment is not None
    assert (segment.src_ip, segment.dst_ip, segment.src_port, segment.dst_port) == (
        CLIENT6,
        SERVER6,
        51000,
        443,
    )
    assert segment.payload == PAYLOAD
    assert segment.payload_missing == 0
    assert segment.tunnel == tunnel


# ---------------------------------------------------------------- link layers


def test_ethernet_ipv4() -> None:
    frame = make_frame(Ether(**MACS) / inner4(), number=7)
    segment = Decoder().decode(frame)
    assert_plain4(segment)
    assert segment is not None
    assert (segment.frame, segment.timestamp_ns) == (7, 7000)


def test_ethernet_ipv6_compressed_addresses() -> None:
    segment = decode(Ether(**MACS) / IPv6(src="::1", dst="2001:db8:0:0:0:0:0:1") / tcp())
    assert segment is not None
    assert (segment.src_ip, segment.dst_ip) == ("::1", "2001:db8::1")


_LINK_HEADERS: dict[int, Any] = {
    1: lambda ip: Ether(**MACS) / ip,
    113: lambda ip: CookedLinux(pkttype=4, lladdrtype=1, src=b"\x02\x00\x00\x00\x00\x01") / ip,
    276: lambda ip: CookedLinuxV2(pkttype=0, ifindex=3, lladdrtype=1) / ip,
    101: lambda ip: ip,
    12: lambda ip: ip,
    14: lambda ip: ip,
    228: lambda ip: ip,
    229: lambda ip: ip,
}


def _v4(**fields: Any) -> Any:
    return IP(src=CLIENT, dst=SERVER, **fields)


def _v6(**fields: Any) -> Any:
    return IPv6(src=CLIENT6, dst=SERVER6, **fields)


# The frames the one-unpack path must decode exactly as the general path does, or leave to it:
# case -> (IP packet, bytes cut at the end by a snap length, bytes of padding after it).
_ONE_UNPACK_CASES: dict[str, tuple[Any, int, bytes]] = {
    "v4 plain": (lambda: inner4(), 0, b""),
    "v4 ack": (lambda: _v4() / tcp(b"", flags="A"), 0, b""),
    "v4 cut payload": (lambda: inner4(), 4, b""),
    "v4 cut header": (lambda: inner4(), len(PAYLOAD) + 12, b""),
    "v4 padded": (lambda: _v4() / tcp(b"", flags="A"), 0, b"\x00" * 6),
    "v4 options": (lambda: _v4(options=b"\x01\x01\x01\x00") / tcp(), 0, b""),
    "v4 fragment": (lambda: _v4(flags="MF") / tcp(), 0, b""),
    "v4 udp": (lambda: _v4() / UDP(sport=5000, dport=53) / PAYLOAD, 0, b""),
    "v4 bad offset": (lambda: _v4() / tcp(dataofs=15), 0, b""),
    "v4 long total": (lambda: _v4(len=400) / tcp(), 0, b""),
    "v6 plain": (lambda: inner6(), 0, b""),
    "v6 ack": (lambda: _v6() / tcp(b"", flags="A"), 0, b""),
    "v6 cut payload": (lambda: inner6(), 4, b""),
    "v6 cut header": (lambda: inner6(), len(PAYLOAD) + 12, b""),
    "v6 padded": (lambda: inner6(), 0, b"\x00" * 6),
    "v6 extension header": (lambda: _v6() / IPv6ExtHdrHopByHop() / tcp(), 0, b""),
    "v6 fragment header": (lambda: _v6() / IPv6ExtHdrFragment(m=0, offset=0) / tcp(), 0, b""),
    "v6 udp": (lambda: _v6() / UDP(sport=5000, dport=53) / PAYLOAD, 0, b""),
    "v6 bad offset": (lambda: _v6() / tcp(dataofs=15), 0, b""),
    "v6 long payload": (lambda: _v6(plen=400) / tcp(), 0, b""),
    "v6 jumbo": (lambda: _v6(plen=0) / tcp(), 0, b""),
    "v6 short payload": (lambda: _v6(plen=10) / tcp(), 0, b""),
}


@pytest.mark.parametrize("link_type", sorted(_LINK_HEADERS))
@pytest.mark.parametrize("case", list(_ONE_UNPACK_CASES))
def test_one_unpack_path_agrees_with_the_general_path(link_type: int, case: str) -> None:
    """The fixed-header link types take a one-unpack path for IPv4 without options and IPv6 without
    extension headers, carrying TCP; it must give exactly what the general path gives (or leave the
    frame to it)."""
    packet, cut, padding = _ONE_UNPACK_CASES[case]
    frame = make_frame(raw(_LINK_HEADERS[link_type](packet())) + padding, link_type, cut=cut)
    fast, general = Decoder(), Decoder()
    assert fast.decode(frame) == general._decode(frame)
    assert fast.stats == general.stats


@pytest.mark.parametrize("link_type", [101, 12, 14])
def test_raw_ip(link_type: int) -> None:
    assert_plain4(decode(inner4(), link_type))
    assert_plain6(decode(inner6(), link_type))


def test_ipv4_and_ipv6_link_types() -> None:
    assert_plain4(decode(inner4(), 228))
    assert_plain6(decode(inner6(), 229))
    assert decode(inner6(), 228) is None
    assert decode(inner4(), 229) is None


def test_linux_sll() -> None:
    assert_plain4(decode(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6) / inner4(), 113))
    assert_plain6(decode(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6) / inner6(), 113))


def test_linux_sll2() -> None:
    assert_plain4(decode(CookedLinuxV2(proto=0x0800) / inner4(), 276))
    assert_plain6(decode(CookedLinuxV2(proto=0x86DD) / inner6(), 276))


@pytest.mark.parametrize("order", ["<I", ">I"])
@pytest.mark.parametrize("family6", [24, 28, 30])
def test_bsd_null_either_byte_order(order: str, family6: int) -> None:
    assert_plain4(decode(struct.pack(order, 2) + raw(inner4()), 0))
    assert_plain6(decode(struct.pack(order, family6) + raw(inner6()), 0))


def test_bsd_loop_network_order() -> None:
    assert_plain4(decode(struct.pack(">I", 2) + raw(inner4()), 108))
    assert_plain6(decode(struct.pack(">I", 30) + raw(inner6()), 108))
    assert decode(struct.pack(">I", 7) + raw(inner4()), 108) is None


def test_ppp_link_types() -> None:
    assert_plain4(decode(b"\xff\x03\x00\x21" + raw(inner4()), 9))
    assert_plain6(decode(b"\xff\x03\x00\x57" + raw(inner6()), 9))
    assert_plain4(decode(b"\x00\x21" + raw(inner4()), 9))  # address/control omitted
    assert_plain4(decode(b"\x21" + raw(inner4()), 9))  # protocol-field compression
    assert_plain4(decode(b"\xff\x03\x00\x21" + raw(inner4()), 50))
    assert_plain4(decode(raw(PPPoE() / PPP(proto=0x0021) / inner4()), 51))


def test_unsupported_link_type_is_counted() -> None:
    decoder = Decoder()
    assert decoder.decode(make_frame(inner4(), 147)) is None
    assert decoder.stats["unsupported-link-type"] == 1


# ---------------------------------------------------------------- layer 2 encapsulations


def test_vlan_and_qinq_stacks() -> None:
    assert_plain4(decode(Ether(**MACS) / Dot1Q(vlan=10) / inner4()))
    assert_plain4(decode(Ether(**MACS) / Dot1AD(vlan=100) / Dot1Q(vlan=10) / inner4()))
    # Pre-standard QinQ outer tag 0x9100, and IPv6 below the stack.
    assert_plain6(decode(Ether(**MACS, type=0x9100) / Dot1Q(vlan=100) / Dot1Q(vlan=10) / inner6()))


def test_vlan_ids_are_not_tunnels() -> None:
    one = decode(Ether(**MACS) / Dot1Q(vlan=10) / inner4())
    two = decode(Ether(**MACS) / Dot1Q(vlan=20) / inner4())
    assert one is not None and two is not None
    assert one.tunnel == two.tunnel == ()


def test_mpls_label_stack() -> None:
    assert_plain4(decode(Ether(**MACS) / MPLS(label=16, s=0) / MPLS(label=17, s=1) / inner4()))
    assert_plain6(decode(Ether(**MACS, type=0x8847) / MPLS(label=16, s=1) / inner6()))
    multicast = raw(Ether(**MACS, type=0x8848) / MPLS(label=16, s=1) / inner4())
    assert_plain4(decode(multicast))


def test_mpls_ethernet_pseudowire_with_control_word() -> None:
    packet = (
        Ether(**MACS, type=0x8847)
        / MPLS(label=16, s=1)
        / (b"\x00\x00\x00\x00" + raw(Ether(**MACS) / inner4()))
    )
    assert_plain4(decode(packet))


def test_pppoe_session() -> None:
    assert_plain4(decode(Ether(**MACS) / PPPoE(sessionid=7) / PPP(proto=0x0021) / inner4()))
    assert_plain6(decode(Ether(**MACS) / PPPoE(sessionid=7) / PPP(proto=0x0057) / inner6()))
    assert decode(Ether(**MACS) / PPPoE(sessionid=7) / PPP(proto=0xC021) / b"\x01\x01\x00\x04") is None


def test_pppoe_over_qinq() -> None:
    packet = Ether(**MACS) / Dot1Q(vlan=100) / Dot1Q(vlan=10) / PPPoE() / PPP(proto=0x0021) / inner4()
    assert_plain4(decode(packet))


def test_pppoe_length_bounds_the_ip_packet() -> None:
    """An IP length that claims the Ethernet padding is cut to the PPPoE length (as Wireshark does)."""
    ip_packet = bytearray(raw(IP(src=CLIENT, dst=SERVER) / tcp(b"")))
    ip_packet[2:4] = (len(ip_packet) + 6).to_bytes(2, "big")  # the bogus length, padding included
    pppoe = raw(PPPoE(len=len(ip_packet) + 2)) + b"\x00\x21" + bytes(ip_packet) + b"\x00" * 6
    segment = decode(raw(Ether(**MACS, type=0x8864)) + pppoe)
    assert segment is not None
    assert segment.payload == b""


def test_non_tcp_frames_are_none_and_counted() -> None:
    decoder = Decoder()
    frames = [
        Ether(**MACS) / ARP(),
        Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / UDP(sport=5353, dport=53) / b"dns",
        Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / ICMP() / b"ping",
        Ether(**MACS) / IPv6(src=CLIENT6, dst=SERVER6, nh=50) / (b"\x00" * 16),  # ESP
        Ether(**MACS) / IPv6(src=CLIENT6, dst=SERVER6, nh=59),  # no next header
    ]
    for number, packet in enumerate(frames, 1):
        assert decoder.decode(make_frame(packet, number=number)) is None
    assert decoder.stats["not-ip"] == 1
    assert decoder.stats["not-tcp"] == 2
    assert decoder.stats["ipv6-no-transport"] == 2
    assert decoder.stats["decode-error"] == 0


# ---------------------------------------------------------------- IP


def test_ipv4_options_are_skipped() -> None:
    options = b"\x94\x04\x00\x00" + b"\x01\x01\x01\x00"  # router alert, NOPs, end of list
    packet = IP(src=CLIENT, dst=SERVER, options=options) / tcp()
    assert raw(packet)[0] == 0x47
    assert_plain4(decode(Ether(**MACS) / packet))


def test_tcp_options_are_skipped() -> None:
    packet = IP(src=CLIENT, dst=SERVER) / tcp(options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 2))])
    assert_plain4(decode(Ether(**MACS) / packet))


def test_ethernet_padding_is_not_payload() -> None:
    packet = Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / tcp(b"", flags="A")
    segment = decode(raw(packet) + b"\x00" * 6)  # padded to the 60-byte minimum
    assert segment is not None
    assert segment.payload == b""
    assert segment.payload_missing == 0


@pytest.mark.parametrize(
    "extensions",
    [
        [IPv6ExtHdrHopByHop()],
        [IPv6ExtHdrRouting()],
        [IPv6ExtHdrDestOpt()],
        [IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(), IPv6ExtHdrDestOpt()],
        [IPv6ExtHdrHopByHop(), AH(spi=1, icv=b"\x00" * 12), IPv6ExtHdrDestOpt()],
        [IPv6ExtHdrFragment(offset=0, m=0, id=9)],  # an atomic fragment
    ],
)
def test_ipv6_extension_headers(extensions: list[Packet]) -> None:
    packet: Packet = IPv6(src=CLIENT6, dst=SERVER6)
    for extension in extensions:
        packet = packet / extension
    assert_plain6(decode(Ether(**MACS) / packet / tcp()))


def fragmented_frames(packet: Packet, size: int, order: list[int]) -> list[Frame]:
    pieces = fragment(packet, fragsize=size) if IP in packet else fragment6(packet, size)
    assert len(pieces) == len(order)
    return [make_frame(Ether(**MACS) / pieces[index], number=number) for number, index in enumerate(order, 1)]


def test_ipv4_fragments_out_of_order() -> None:
    payload = bytes(range(256)) * 2 + b"end"
    packet = IP(src=CLIENT, dst=SERVER, id=0x4242) / tcp(payload)
    decoder = Decoder()
    segments = [decoder.decode(frame) for frame in fragmented_frames(packet, 200, [2, 0, 1])]
    assert segments[:2] == [None, None]
    segment = segments[2]
    assert segment is not None
    assert segment.payload == payload
    assert segment.frame == 3  # the frame that completed the datagram, as Wireshark reports it
    assert (segment.src_port, segment.dst_port, segment.seq) == (51000, 443, 1000)
    assert decoder.pending_fragments == 0
    assert decoder.stats["fragment-pending"] == 2


def test_ipv6_fragments_out_of_order() -> None:
    payload = bytes(range(256)) * 3
    packet = IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrFragment(id=77) / tcp(payload)
    frames = fragmented_frames(packet, 400, [1, 2, 0])
    decoder = Decoder()
    segments = [decoder.decode(frame) for frame in frames]
    assert segments[:2] == [None, None]
    segment = segments[2]
    assert segment is not None
    assert (segment.src_ip, segment.dst_ip) == (CLIENT6, SERVER6)
    assert segment.payload == payload
    assert decoder.pending_fragments == 0


def test_fragments_of_the_same_id_in_two_tunnels_stay_apart() -> None:
    payload = bytes(range(200)) * 2
    packet = IP(src=CLIENT, dst=SERVER, id=5) / tcp(payload)
    first, second = fragment(packet, fragsize=216)

    def in_vni(vni: int, piece: Packet) -> Frame:
        outer = Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=4789)
        return make_frame(outer / VXLAN(vni=vni) / Ether(**MACS) / piece)

    decoder = Decoder()
    assert decoder.decode(in_vni(1, first)) is None
    assert decoder.decode(in_vni(2, second)) is None
    assert decoder.pending_fragments == 2
    segment = decoder.decode(in_vni(1, second))
    assert segment is not None and segment.payload == payload


def test_fragment_reassembly_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_IP_PENDING_DATAGRAMS", 4)
    decoder = Decoder()
    for ident in range(10):
        packet = IP(src=CLIENT, dst=SERVER, id=ident) / tcp(bytes(300))
        decoder.decode(fragmented_frames(packet, 200, [0, 1])[0])
    assert decoder.pending_fragments == 4
    assert decoder.stats["fragment-evicted"] == 6
    # The newest survive: completing datagram 9 works, datagram 0 was evicted.
    last = fragmented_frames(IP(src=CLIENT, dst=SERVER, id=9) / tcp(bytes(300)), 200, [0, 1])[1]
    assert decoder.decode(last) is not None
    first = fragmented_frames(IP(src=CLIENT, dst=SERVER, id=0) / tcp(bytes(300)), 200, [0, 1])[1]
    assert decoder.decode(first) is None


def test_fragment_bytes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_IP_FRAGMENT_BYTES", 1000)
    reassembler = ip_module.FragmentReassembler(Counter())
    for ident in range(10):
        assert reassembler.add((ident,), 0, True, bytes(300), 6) is None
        assert reassembler.pending_bytes <= 1000
    assert len(reassembler) == 3
    assert reassembler.add((9,), 300, False, bytes(100), 6) == (6, bytes(400))
    assert (len(reassembler), reassembler.pending_bytes) == (2, 600)


def test_too_many_fragments_drop_the_datagram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_IP_FRAGMENTS_PER_DATAGRAM", 3)
    stats: Counter[str] = Counter()
    reassembler = ip_module.FragmentReassembler(stats)
    for _ in range(3):
        assert reassembler.add((1,), 0, True, bytes(8), 6) is None
    assert reassembler.add((1,), 8, False, bytes(8), 6) is None
    assert (len(reassembler), reassembler.pending_bytes, stats["fragment-too-many"]) == (0, 0, 1)


def test_overlapping_fragments_first_arrival_wins() -> None:
    payload = b"A" * 64
    pieces = fragment(IP(src=CLIENT, dst=SERVER, id=3) / tcp(payload), fragsize=48)
    assert len(pieces) == 2
    # Datagram bytes [40, 76) again, all "B", with more fragments to come: it overlaps the
    # first fragment's last 8 bytes and fills most of the hole the real second fragment fills.
    forged = IP(src=CLIENT, dst=SERVER, id=3, proto=6, flags="MF", frag=5) / (b"B" * 36)
    decoder = Decoder()
    assert decoder.decode(make_frame(Ether(**MACS) / pieces[0])) is None
    assert decoder.decode(make_frame(Ether(**MACS) / forged)) is None
    segment = decoder.decode(make_frame(Ether(**MACS) / pieces[1]))
    assert segment is not None
    # payload[0:28] is datagram [20, 48): the first fragment's "A"s, not the forged "B"s...
    assert segment.payload[:28] == b"A" * 28
    # ...and datagram [48, 76) came first from the forged fragment.
    assert segment.payload[28:56] == b"B" * 28


# ---------------------------------------------------------------- truncation and garbage


def test_truncated_frame_counts_missing_payload() -> None:
    payload = bytes(1000)
    segment = decode(Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / tcp(payload), cut=900)
    assert segment is not None
    assert len(segment.payload) == 100
    assert segment.payload_missing == 900


def test_truncated_ipv6_tunnel_frame_counts_missing_payload() -> None:
    outer = Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=4789) / VXLAN(vni=3)
    segment = decode(outer / Ether(**MACS) / inner6(bytes(500)), cut=450)
    assert segment is not None
    assert len(segment.payload) == 50
    assert segment.payload_missing == 450


def test_truncated_inside_tcp_options() -> None:
    packet = Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / tcp(bytes(100), options=[("Timestamp", (1, 2))] * 3)
    data = raw(packet)
    segment = decode(data, cut=len(data) - 54 - 4)  # 4 bytes of options captured
    assert segment is not None
    assert segment.payload == b""
    assert segment.payload_missing == 100


def test_untruncated_frame_has_no_missing_payload_even_if_ip_lies() -> None:
    ip_packet = bytearray(raw(inner4()))
    ip_packet[2:4] = (len(ip_packet) + 50).to_bytes(2, "big")
    segment = decode(bytes(ip_packet), 101)
    assert segment is not None
    assert segment.payload == PAYLOAD
    assert segment.payload_missing == 0


@pytest.mark.parametrize("link_type", [0, 1, 9, 12, 14, 50, 51, 101, 108, 113, 228, 229, 276])
def test_garbage_gives_none(link_type: int) -> None:
    rng = random.Random(link_type)
    decoder = Decoder()
    for length in [0, 1, 3, 13, 14, 20, 33, 40, 54, 60, 200]:
        data = bytes(rng.randrange(256) for _ in range(length))
        frame = Frame(number=1, timestamp_ns=0, link_type=link_type, data=data, original_length=length)
        decoder.decode(frame)
    assert (
        decoder.decode(Frame(number=1, timestamp_ns=0, link_type=link_type, data=b"", original_length=0))
        is None
    )
    assert (
        decoder.decode(
            Frame(number=1, timestamp_ns=0, link_type=link_type, data=b"\xff" * 64, original_length=64)
        )
        is None
    )
    assert decoder.stats["decode-error"] == 0


@settings(max_examples=300, deadline=None)
@given(
    link_type=st.sampled_from([0, 1, 9, 101, 108, 113, 228, 229, 276]),
    data=st.binary(max_size=300),
    extra=st.integers(min_value=0, max_value=2000),
)
def test_random_bytes_never_raise(link_type: int, data: bytes, extra: int) -> None:
    decoder = Decoder()
    decoder.decode(
        Frame(number=1, timestamp_ns=0, link_type=link_type, data=data, original_length=len(data) + extra)
    )
    assert decoder.stats["decode-error"] == 0


def mutations(data: bytes, rng: random.Random) -> list[bytes]:
    out = [data[:cut] for cut in range(len(data))]
    for _ in range(200):
        mutated = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out.append(bytes(mutated))
    return out


def test_mutated_tunnel_frames_never_raise() -> None:
    rng = random.Random(1)
    decoder = Decoder()
    for packet in TUNNEL_SAMPLES.values():
        data = raw(packet)
        for mutated in mutations(data, rng):
            for original in (len(mutated), len(data)):
                frame = Frame(number=1, timestamp_ns=0, link_type=1, data=mutated, original_length=original)
                decoder.decode(frame)
    assert decoder.stats["decode-error"] == 0


# ---------------------------------------------------------------- tunnels

OUTER4: dict[str, Any] = {"src": "10.0.0.1", "dst": "10.0.0.2"}
OUTER6: dict[str, Any] = {"src": "fd00::1", "dst": "fd00::2"}

TUNNEL_SAMPLES: dict[str, Packet] = {
    "ipip 10.0.0.1>10.0.0.2": Ether(**MACS) / IP(**OUTER4) / inner4(),
    "6in4 10.0.0.1>10.0.0.2": Ether(**MACS) / IP(**OUTER4) / inner6(),
    "ip6ip6 fd00::1>fd00::2": Ether(**MACS) / IPv6(**OUTER6) / inner6(),
    "4in6 fd00::1>fd00::2": Ether(**MACS) / IPv6(**OUTER6) / inner4(),
    "gre 10.0.0.1>10.0.0.2": Ether(**MACS) / IP(**OUTER4) / GRE(proto=0x0800) / inner4(),
    "gre key=7 192.0.2.1>192.0.2.2": (
        Ether(**MACS)
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / GRE(key_present=1, key=7, proto=0x86DD)
        / inner6()
    ),
    "gre key=9 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE(chksum_present=1, key_present=1, key=9, seqnum_present=1, sequence_number=5, proto=0x0800)
        / inner4()
    ),
    "gre fd00::1>fd00::2": Ether(**MACS) / IPv6(**OUTER6) / GRE(proto=0x6558) / Ether(**MACS) / inner4(),
    "gre key=1 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE(key_present=1, key=1, proto=0x8847)
        / MPLS(label=20, s=1)
        / inner4()
    ),
    "erspan1 10.0.0.1>10.0.0.2": Ether(**MACS) / IP(**OUTER4) / GRE(proto=0x88BE) / Ether(**MACS) / inner4(),
    "erspan2 session=5 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE(seqnum_present=1)
        / ERSPAN_II(session_id=5)
        / Ether(**MACS)
        / inner4()
    ),
    "erspan3 session=9 10.0.0.1>10.0.0.2": (
        Ether(**MACS) / IP(**OUTER4) / GRE() / ERSPAN_III(session_id=9) / Ether(**MACS) / inner4()
    ),
    "erspan3 session=11 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE()
        / ERSPAN_III(session_id=11, o=1)
        / ERSPAN_PlatformSpecific()
        / Ether(**MACS)
        / Dot1Q(vlan=4)
        / inner4()
    ),
    "vxlan vni=42 10.0.0.1>10.0.0.2": (
        Ether(**MACS) / IP(**OUTER4) / UDP(sport=51234, dport=4789) / VXLAN(vni=42) / Ether(**MACS) / inner4()
    ),
    "vxlan vni=43 fd00::1>fd00::2": (
        Ether(**MACS)
        / IPv6(**OUTER6)
        / UDP(sport=51234, dport=4789)
        / VXLAN(vni=43)
        / Ether(**MACS)
        / inner6()
    ),
    "geneve vni=7 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / UDP(sport=51234, dport=6081)
        / GENEVE(vni=7, proto=0x6558, options=b"\x01\x02\x03\x01\xaa\xbb\xcc\xdd")
        / Ether(**MACS)
        / inner4()
    ),
    "geneve vni=8 10.0.0.1>10.0.0.2": (
        Ether(**MACS) / IP(**OUTER4) / UDP(sport=51234, dport=6081) / GENEVE(vni=8, proto=0x86DD) / inner6()
    ),
    "gtp teid=0x1234 10.0.0.1>10.0.0.2": (
        Ether(**MACS) / IP(**OUTER4) / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0x1234) / inner4()
    ),
    "gtp teid=0x99 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / UDP(sport=2152, dport=2152)
        / GTP_U_Header(teid=0x99, S=1, seq=3)
        / inner6()
    ),
    "gtp teid=0xabcdef 10.0.0.1>10.0.0.2": (
        Ether(**MACS)
        / IP(**OUTER4)
        / UDP(sport=2152, dport=2152)
        / GTP_U_Header(teid=0xABCDEF, E=1, next_ex=0x85)
        / GTPPDUSessionContainer(type=1, QFI=5)
        / inner4()
    ),
}


@pytest.mark.parametrize("label", list(TUNNEL_SAMPLES))
def test_tunnel(label: str) -> None:
    segment = decode(TUNNEL_SAMPLES[label])
    assert segment is not None
    if ":" in segment.src_ip:
        assert_plain6(segment, (label,))
    else:
        assert_plain4(segment, (label,))


def test_vxlan_gpe() -> None:
    outer = Ether(**MACS) / IP(**OUTER4) / UDP(sport=51234, dport=4790)
    header = bytes([0x0C, 0, 0, 1]) + (77).to_bytes(3, "big") + b"\x00"  # P bit, next protocol IPv4
    assert_plain4(decode(outer / (header + raw(inner4()))), ("vxlan-gpe vni=77 10.0.0.1>10.0.0.2",))


def test_pptp_enhanced_gre() -> None:
    gre = bytes.fromhex("3081880b") + len(raw(inner4())).to_bytes(2, "big") + (33).to_bytes(2, "big")
    gre += (1).to_bytes(4, "big") + (0).to_bytes(4, "big")  # sequence and acknowledgment numbers
    packet = Ether(**MACS) / IP(**OUTER4, proto=47) / (gre + b"\xff\x03\x00\x21" + raw(inner4()))
    assert_plain4(decode(packet), ("pptp call=33 10.0.0.1>10.0.0.2",))


def test_gtp_signalling_is_not_tcp() -> None:
    echo = Ether(**MACS) / IP(**OUTER4) / UDP(sport=2152, dport=2152) / GTP_U_Header(gtp_type=1, teid=0)
    assert decode(echo / b"\x00\x00\x00\x00") is None


def test_nested_tunnels_outermost_first() -> None:
    vxlan = (
        UDP(sport=40000, dport=4789) / VXLAN(vni=5) / Ether(**MACS) / IP(src="172.16.0.1", dst="172.16.0.2")
    )
    packet = (
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE(key_present=1, key=3, proto=0x0800)
        / IP(src="192.0.2.1", dst="192.0.2.2")
    )
    segment = decode(packet / vxlan / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=1) / inner4())
    assert_plain4(
        segment,
        (
            "gre key=3 10.0.0.1>10.0.0.2",
            "vxlan vni=5 192.0.2.1>192.0.2.2",
            "gtp teid=0x1 172.16.0.1>172.16.0.2",
        ),
    )


def test_tunnel_depth_is_bounded() -> None:
    def nest(depth: int) -> Packet:
        packet: Packet = inner4()
        for _ in range(depth):
            packet = IP(**OUTER4) / packet
        return Ether(**MACS) / packet

    segment = decode(nest(limits.MAX_TUNNEL_DEPTH))
    assert segment is not None and len(segment.tunnel) == limits.MAX_TUNNEL_DEPTH
    decoder = Decoder()
    assert decoder.decode(make_frame(nest(limits.MAX_TUNNEL_DEPTH + 1))) is None
    assert decoder.stats["tunnel-too-deep"] == 1


def test_udp_ports_lower_port_first() -> None:
    """Between two tunnel ports, the lower one decides, as in Wireshark."""
    packet = (
        Ether(**MACS) / IP(**OUTER4) / UDP(sport=6081, dport=4789) / VXLAN(vni=1) / Ether(**MACS) / inner4()
    )
    segment = decode(packet)
    assert segment is not None and segment.tunnel == ("vxlan vni=1 10.0.0.1>10.0.0.2",)
    gtp = Ether(**MACS) / IP(**OUTER4) / UDP(sport=4789, dport=2152) / GTP_U_Header(teid=2) / inner4()
    segment = decode(gtp)
    assert segment is not None and segment.tunnel == ("gtp teid=0x2 10.0.0.1>10.0.0.2",)


def test_vxlan_tenant_collision() -> None:
    """The same inner 4-tuple in two VNIs gives two different tunnels."""

    def in_vni(vni: int) -> Segment | None:
        outer = Ether(**MACS) / IP(**OUTER4) / UDP(sport=51234, dport=4789) / VXLAN(vni=vni)
        return decode(outer / Ether(**MACS) / inner4())

    one, two = in_vni(100), in_vni(200)
    assert one is not None and two is not None
    assert (one.src_ip, one.src_port, one.dst_ip, one.dst_port) == (
        two.src_ip,
        two.src_port,
        two.dst_ip,
        two.dst_port,
    )
    assert one.tunnel == ("vxlan vni=100 10.0.0.1>10.0.0.2",)
    assert two.tunnel == ("vxlan vni=200 10.0.0.1>10.0.0.2",)
    assert conversation_tunnel(one.tunnel) != conversation_tunnel(two.tunnel)


def test_conversation_tunnel_is_direction_independent() -> None:
    forward = ("vxlan vni=42 10.0.0.1>10.0.0.2", "gtp teid=0x1234 172.16.0.1>172.16.0.2")
    backward = ("vxlan vni=42 10.0.0.2>10.0.0.1", "gtp teid=0x9 172.16.0.2>172.16.0.1")
    assert conversation_tunnel(forward) == conversation_tunnel(backward)
    assert conversation_tunnel(forward) == ("vxlan vni=42 10.0.0.1<>10.0.0.2", "gtp 172.16.0.1<>172.16.0.2")
    assert conversation_tunnel(()) == ()


# ---------------------------------------------------------------- tshark parity

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.usefixtures("tshark_and_corpus")  # conftest: fails, never skips


def read_frames(path: Path) -> list[Frame]:
    """Frames of a capture via scapy's raw reader (link type per packet for pcapng)."""
    reader = RawPcapReader(str(path))
    frames = []
    with reader:
        for number, (data, metadata) in enumerate(reader, 1):
            link_type = getattr(metadata, "linktype", None)
            if link_type is None:
                link_type = reader.linktype
            wire_length = getattr(metadata, "wirelen", None) or len(data)
            frames.append(
                Frame(
                    number=number,
                    timestamp_ns=0,
                    link_type=link_type,
                    data=data,
                    original_length=max(wire_length, len(data)),
                )
            )
    return frames


Row = tuple[int, int, int, int, str, str]


def decoder_rows(frames: list[Frame]) -> dict[int, Row]:
    """frame → (src port, dst port, raw seq, TCP length, src ip, dst ip) for segments with payload."""
    decoder = Decoder()
    rows = {}
    for frame in frames:
        segment = decoder.decode(frame)
        if segment is not None and len(segment.payload) + segment.payload_missing > 0:
            rows[frame.number] = (
                segment.src_port,
                segment.dst_port,
                segment.seq,
                len(segment.payload) + segment.payload_missing,
                segment.src_ip,
                segment.dst_ip,
            )
    assert decoder.stats["decode-error"] == 0
    return rows


def tshark_rows(path: Path) -> dict[int, Row]:
    """The same rows from tshark; for tunnels the innermost layer's values (the last ones)."""
    fields = ["frame.number", "frame.protocols", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.len"]
    fields += ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"]
    command = [str(TSHARK), "-n", "-r", str(path), "-Y", "tcp.len>0", "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in output.splitlines():
        number, protocols, sport, dport, seq, length, ip_src, ip_dst, ip6_src, ip6_dst = line.split("\t")
        layers = protocols.split(":")
        if "icmp" in layers or "icmpv6" in layers:
            continue  # a TCP header quoted in an ICMP error: not a segment (the decoder says None)
        innermost_ipv6 = [layer for layer in layers if layer in ("ip", "ipv6")][-1] == "ipv6"
        src, dst = (ip6_src, ip6_dst) if innermost_ipv6 else (ip_src, ip_dst)

        def last(value: str) -> str:
            return value.split(",")[-1]

        rows[int(number)] = (
            int(last(sport)),
            int(last(dport)),
            int(last(seq)),
            int(last(length)),
            last(src),
            last(dst),
        )
    return rows


def tls_ports(source_file: str) -> set[int]:
    truth = json.loads((CORPUS / "truth" / f"{source_file.replace('/', '__')}.json").read_text())
    return {
        int(session[side].rsplit(":", 1)[1]) for session in truth["sessions"] for side in ("client", "server")
    }


CORPUS_FILES = [
    ("zeek/pppoe-over-qinq.pcap", 1),
    ("zeek/geneve-47101.pcap", 1),
    ("zeek/gtp6_gtp_0x32.pcap", 1),
    ("nDPI/vxlan.pcap", 1),
    ("nDPI/6in4tunnel.pcap", 1),
    ("zeek/pop3-starttls.pcap", 0),
    ("zeek/openjdk-25.0.2-zeek.org.pcap", 276),
    ("nDPI/KakaoTalk_chat.pcap", 113),
    ("zeek/ml-dsa-44-cert.pcap", 101),
]


@needs_tshark
@pytest.mark.parametrize(("source_file", "link_type"), CORPUS_FILES)
def test_corpus_matches_tshark(source_file: str, link_type: int) -> None:
    path = CORPUS / "files" / source_file
    assert path.exists(), f"{source_file} is not in the corpus"
    frames = read_frames(path)
    assert {frame.link_type for frame in frames} == {link_type}
    ours, theirs = decoder_rows(frames), tshark_rows(path)
    ports = tls_ports(source_file)

    def on_tls_ports(rows: dict[int, Row]) -> int:
        return sum(1 for row in rows.values() if row[0] in ports or row[1] in ports)

    assert on_tls_ports(ours) == on_tls_ports(theirs) > 0
    assert ours == theirs


@needs_tshark
def test_fragments_match_tshark(tmp_path: Path) -> None:
    """Out-of-order IPv4 and IPv6 fragments: same frame, same segment as tshark's reassembly."""
    payload4 = bytes(range(256)) * 4
    payload6 = bytes(range(256)) * 3
    packets = [Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / tcp(b"before", seq=1)]
    pieces4 = fragment(IP(src=CLIENT, dst=SERVER, id=99) / tcp(payload4, seq=7), fragsize=400)
    packets += [Ether(**MACS) / pieces4[index] for index in (2, 0, 1)]
    pieces6 = fragment6(IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrFragment(id=5) / tcp(payload6, seq=9), 400)
    packets += [Ether(**MACS) / pieces6[index] for index in (1, 0, 2)]
    path = tmp_path / "fragments.pcap"
    wrpcap(str(path), packets)
    ours = decoder_rows(read_frames(path))
    assert ours == tshark_rows(path)
    assert sorted(ours) == [1, 4, 7]


@needs_tshark
def test_crafted_tunnels_match_tshark(tmp_path: Path) -> None:
    """Every crafted tunnel, plus a truncated frame, decodes to the segment tshark shows."""
    packets = list(TUNNEL_SAMPLES.values())
    packets += [
        Ether(**MACS) / Dot1AD(vlan=100) / Dot1Q(vlan=10) / inner4(),
        Ether(**MACS) / MPLS(label=16, s=0) / MPLS(label=17, s=1) / inner6(),
        Ether(**MACS) / Dot1Q(vlan=100) / PPPoE(sessionid=7) / PPP(proto=0x0021) / inner4(),
        Ether(**MACS) / IP(src=CLIENT, dst=SERVER, options=b"\x94\x04\x00\x00") / tcp(),
        Ether(**MACS) / IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / tcp(),
        Ether(**MACS)
        / IP(**OUTER4)
        / GRE(key_present=1, key=3, proto=0x0800)
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=40000, dport=4789)
        / VXLAN(vni=5)
        / Ether(**MACS)
        / inner6(),
    ]
    truncated = Ether(raw(Ether(**MACS) / IP(src=CLIENT, dst=SERVER) / tcp(bytes(1000)))[:200])
    truncated.wirelen = 14 + 20 + 20 + 1000
    packets.append(truncated)
    path = tmp_path / "tunnels.pcap"
    wrpcap(str(path), packets)
    frames = read_frames(path)
    assert frames[-1].truncated
    ours = decoder_rows(frames)
    theirs = tshark_rows(path)
    assert ours == theirs
    assert len(ours) == len(packets)


def test_stats_is_a_counter() -> None:
    assert isinstance(Decoder().stats, Counter)


def test_icmp_error_quoting_tcp_gives_a_quoted_segment():
    """An ICMP error quoting a TCP header is not that TCP segment, but Wireshark numbers its conversation."""
    from scapy.all import ICMP, IP, TCP, Ether, raw

    quoted = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=443, seq=1234)
    pkt = Ether() / IP(src="10.0.0.9", dst="10.0.0.1") / ICMP(type=3, code=4) / raw(quoted)[:28]
    data = raw(pkt)
    seg = Decoder().decode(Frame(number=1, timestamp_ns=0, link_type=1, data=data, original_length=len(data)))
    assert seg is not None and seg.quoted
    assert (seg.src_ip, seg.src_port, seg.dst_ip, seg.dst_port, seg.seq) == ("10.0.0.1", 40000, "10.0.0.2", 443, 1234)
    assert seg.payload == b""


def test_icmp_echo_is_not_a_segment():
    from scapy.all import ICMP, IP, Ether, raw

    data = raw(Ether() / IP(src="10.0.0.9", dst="10.0.0.1") / ICMP(type=8) / b"ping")
    assert Decoder().decode(Frame(number=1, timestamp_ns=0, link_type=1, data=data, original_length=len(data))) is None
