"""Connections inside tunnels: two tenants with the same inner 4-tuple stay two connections."""

from __future__ import annotations

import struct

from scapy.all import IP, TCP, UDP, VXLAN, Ether, wrpcap

from tlscap.analysis.engine import analyze_capture


def client_hello(sni: str) -> bytes:
    name = sni.encode()
    server_name = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    ext = struct.pack("!HH", 0, len(server_name)) + server_name
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack("!H", len(ext)) + ext)
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(msg)) + msg


def tenant(vni: int, sni: str, outer_src: str) -> list:
    inner = Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
    syn = inner / TCP(sport=40000, dport=443, flags="S", seq=100)
    hello = inner / TCP(sport=40000, dport=443, flags="PA", seq=101, ack=1) / client_hello(sni)
    outer = Ether() / IP(src=outer_src, dst="192.0.2.254") / UDP(sport=55555, dport=4789) / VXLAN(vni=vni)
    return [outer / syn, outer / hello]


def test_vxlan_tenants_with_the_same_inner_tuple_are_two_connections(tmp_path):
    path = tmp_path / "vxlan.pcap"
    wrpcap(str(path), tenant(100, "a.example", "192.0.2.1") + tenant(200, "b.example", "192.0.2.1"))
    report = analyze_capture(str(path))
    conns = report.connections
    assert [c.sni for c in conns] == ["a.example", "b.example"]
    assert [c.id for c in conns] == [0, 1]
    assert all(c.client.ip == "10.0.0.1" and c.server.port == 443 for c in conns)
    assert "vni=100" in conns[0].tunnel[0] and "vni=200" in conns[1].tunnel[0]
