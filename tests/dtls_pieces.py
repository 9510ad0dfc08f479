"""DTLS pieces for tests: UDP frames, DTLS records and fragmented handshake messages (RFC 6347)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import adversarial as A

_ETHERNET_IPV4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An Ethernet / IPv4 / UDP frame (IP checksum right, UDP checksum 0: none)."""
    total = 20 + 8 + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0, ipaddress.IPv4Address(src).packed,
                     ipaddress.IPv4Address(dst).packed)
    ip = ip[:10] + struct.pack(">H", A._checksum(ip)) + ip[12:]
    return _ETHERNET_IPV4 + ip + struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def record(content_type: int, body: bytes, *, epoch: int = 0, sequence: int = 0, version: int = 0xFEFD) -> bytes:
    return (bytes([content_type]) + A.u16(version) + A.u16(epoch) + sequence.to_bytes(6, "big") + A.u16(len(body))
            + body)


def fragments(message: bytes, message_seq: int, size: int = 1 << 24) -> list[bytes]:
    """A TLS-style handshake message (type, u24 length, body) as DTLS fragments of at most `size` bytes."""
    msg_type, body = message[0], message[4:]
    out = []
    for offset in range(0, max(len(body), 1), size):
        piece = body[offset : offset + size]
        out.append(bytes([msg_type]) + A.u24(len(body)) + A.u16(message_seq) + A.u24(offset) + A.u24(len(piece))
                   + piece)
    return out


def client_hello(cookie: bytes = b"", random: bytes = b"\x11" * 32, cid: bytes | None = None) -> bytes:
    extensions = A.u16(13) + A.vec16(A.vec16(A.u16(0x0403) + A.u16(0x0804)))
    if cid is not None:
        extensions += A.u16(54) + A.vec16(A.vec8(cid))
    body = (A.u16(0xFEFD) + random + A.vec8(b"") + A.vec8(cookie) + A.vec16(A.u16(0xC02B)) + A.vec8(b"\x00")
            + A.vec16(extensions))
    return A.handshake(1, body)


def hello_verify_request(cookie: bytes = b"\xc0" * 20) -> bytes:
    return A.handshake(3, A.u16(0xFEFF) + A.vec8(cookie))


def server_hello(version: int = 0xFEFD) -> bytes:
    return A.handshake(2, A.u16(version) + b"\x22" * 32 + A.vec8(b"") + A.u16(0xC02B) + b"\x00" + A.vec16(b""))


@dataclass
class Flow:
    """One DTLS flow written to a PcapWriter: each side keeps its message_seq and record sequence."""

    writer: A.PcapWriter
    client: tuple[str, int] = ("10.0.0.1", 50000)
    server: tuple[str, int] = ("10.0.0.2", 4433)
    message_seq: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    record_seq: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    epoch: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})

    def datagram(self, from_client: bool, payload: bytes) -> int:
        a, b = (self.client, self.server) if from_client else (self.server, self.client)
        return self.writer.write(udp_frame(a[0], b[0], a[1], b[1], payload))

    def records(self, from_client: bool, content_type: int, bodies: Sequence[bytes]) -> bytes:
        out = b""
        for body in bodies:
            out += record(content_type, body, epoch=self.epoch[from_client], sequence=self.record_seq[from_client])
            self.record_seq[from_client] += 1
        return out

    def flight(self, from_client: bool, messages: Sequence[bytes], *, size: int = 1 << 24,
               per_datagram: int = 1 << 16) -> tuple[list[int], list[bytes]]:
        """Send the messages (each fragmented to `size`) in datagrams of at most `per_datagram` bytes;
        returns the frames and the datagrams (to send again as a retransmission)."""
        pieces = []
        for message in messages:
            pieces += fragments(message, self.message_seq[from_client], size)
            self.message_seq[from_client] += 1
        datagrams, current = [], b""
        for piece in pieces:
            rec = self.records(from_client, 22, [piece])
            if current and len(current) + len(rec) > per_datagram:
                datagrams.append(current)
                current = b""
            current += rec
        if current:
            datagrams.append(current)
        return [self.datagram(from_client, d) for d in datagrams], datagrams

    def change_cipher_spec_and_finished(self, from_client: bool) -> int:
        ccs = self.records(from_client, 20, [b"\x01"])
        self.epoch[from_client] += 1
        self.record_seq[from_client] = 0
        fin = self.records(from_client, 22, [b"\x5a" * 48])
        return self.datagram(from_client, ccs + fin)
