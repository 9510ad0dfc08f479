"""Hostile captures, built byte by byte: algorithmic attacks on tlscap's data structures, and the small TLS pieces the
limit tests need.

Each generator writes a classic pcap (Ethernet, µs) to a path and returns what it wrote, streaming, so
the full-size attacks (a million frames) never sit in memory:

- `out_of_order_segments`: one connection whose client stream arrives as one-byte segments, each
  window of segments in reverse order (1,000,000 segments at full size);
- `half_open_connections`: connections that send a SYN and a ClientHello and never hear back, all
  open at once (100,000 at full size);
- `many_ca_names`: a mutual-TLS 1.2 handshake whose CertificateRequest lists 10,000 CA names;
- `long_chain`: a mutual-TLS 1.2 handshake whose client sends a chain of 1,000 certificates.

The benchmark suite times them at full size (`python tests/adversarial.py DIR` writes all four); the
tests run them smaller and check that tlscap completes with sane results.
"""

from __future__ import annotations

import ipaddress
import os
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

# --------------------------------------------------------------------------- pcap writing

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_RECORD = struct.Struct("<IIII")
_ETHERNET_IPV4 = bytes.fromhex("020000000002" "020000000001" "0800")
_IPV4 = struct.Struct(">BBHHHBBH4s4s")
_TCP = struct.Struct(">HHIIBBHHH")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
BASE_TIME = 1_780_000_000  # 2026-05-28, within the test certificates' validity


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_frame(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
              payload: bytes = b"") -> bytes:
    """An Ethernet / IPv4 / TCP frame (IP checksum right, TCP checksum left 0: nobody checks it)."""
    total = 20 + 20 + len(payload)
    ip = _IPV4.pack(0x45, 0, total, 0, 0x4000, 64, 6, 0, ipaddress.IPv4Address(src).packed,
                    ipaddress.IPv4Address(dst).packed)
    ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
    tcp = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    return _ETHERNET_IPV4 + ip + tcp + payload


class PcapWriter:
    """Writes frames to a pcap file as they come; the clock moves 100 µs per frame unless told."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._out: BinaryIO = open(self.path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self._out.write(_PCAP_HEADER)
        self.frames = 0
        self.micros = 0

    def write(self, frame: bytes, *, step_us: int = 100) -> int:
        """Append one frame; returns its (Wireshark) frame number."""
        self.micros += step_us
        seconds, micros = divmod(self.micros, 1_000_000)
        self._out.write(_RECORD.pack(BASE_TIME + seconds, micros, len(frame), len(frame)))
        self._out.write(frame)
        self.frames += 1
        return self.frames

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass
class Conversation:
    """One TCP connection written to a PcapWriter: the handshake, data in segments, the close."""

    writer: PcapWriter
    client: tuple[str, int] = ("10.0.0.1", 40000)
    server: tuple[str, int] = ("10.0.0.2", 443)
    seq: dict[bool, int] = field(default_factory=lambda: {True: 1000, False: 5000})

    def _frame(self, from_client: bool, flags: int, payload: bytes = b"", seq: int | None = None) -> bytes:
        a, b = (self.client, self.server) if from_client else (self.server, self.client)
        return tcp_frame(a[0], b[0], a[1], b[1], self.seq[from_client] if seq is None else seq,
                         self.seq[not from_client], flags, payload)

    def open(self) -> None:
        self.writer.write(self._frame(True, SYN))
        self.seq[True] += 1
        self.writer.write(self._frame(False, SYN | ACK))
        self.seq[False] += 1
        self.writer.write(self._frame(True, ACK))

    def send(self, from_client: bool, data: bytes, mss: int = 1460) -> list[int]:
        """Send `data` in order, in segments of at most `mss` bytes; the frame numbers used."""
        frames = []
        for start in range(0, len(data), mss):
            piece = data[start : start + mss]
            frames.append(self.writer.write(self._frame(from_client, PSH | ACK, piece)))
            self.seq[from_client] += len(piece)
        return frames

    def close(self) -> None:
        for side in (True, False):
            self.writer.write(self._frame(side, FIN | ACK))
            self.seq[side] += 1
        self.writer.write(self._frame(True, ACK))


# --------------------------------------------------------------------------- TLS pieces


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def vec8(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def vec16(data: bytes) -> bytes:
    return u16(len(data)) + data


def vec24(data: bytes) -> bytes:
    return u24(len(data)) + data


def records(content_type: int, data: bytes, version: int = 0x0303, size: int = 16384) -> bytes:
    """`data` as TLS records of at most `size` bytes each."""
    out = []
    for start in range(0, max(len(data), 1), size):
        piece = data[start : start + size]
        out.append(bytes([content_type]) + u16(version) + u16(len(piece)) + piece)
    return b"".join(out)


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + u24(len(body)) + body


def client_hello(sni: str = "server.example", random: bytes = b"\x11" * 32) -> bytes:
    name = sni.encode()
    server_name = vec16(b"\x00" + vec16(name))
    extensions = u16(0) + vec16(server_name) + u16(13) + vec16(vec16(u16(0x0403) + u16(0x0804)))
    body = u16(0x0303) + random + vec8(b"") + vec16(u16(0xC02F) + u16(0xC02B)) + vec8(b"\x00") + vec16(extensions)
    return handshake(1, body)


def server_hello(random: bytes = b"\x22" * 32, cipher_suite: int = 0xC02B) -> bytes:
    return handshake(2, u16(0x0303) + random + vec8(b"") + u16(cipher_suite) + b"\x00" + vec16(b""))


def certificate(ders: Sequence[bytes]) -> bytes:
    return handshake(11, vec24(b"".join(vec24(der) for der in ders)))


def certificate_request(names: Sequence[bytes], certificate_types: bytes = b"\x01\x40") -> bytes:
    """A TLS 1.2 CertificateRequest listing these DER names."""
    algorithms = vec16(u16(0x0403) + u16(0x0804) + u16(0x0401))
    return handshake(13, vec8(certificate_types) + algorithms + vec16(b"".join(vec16(n) for n in names)))


SERVER_HELLO_DONE = handshake(14, b"")
CHANGE_CIPHER_SPEC = records(20, b"\x01")


def client_key_exchange() -> bytes:
    return handshake(16, vec8(b"\x04" + b"\x33" * 64))


def encrypted_finished() -> bytes:
    """What a Finished looks like after ChangeCipherSpec: an opaque handshake record."""
    return records(22, b"\x5a" * 40)


def mtls12_handshake(conv: Conversation, *, server_chain: Sequence[bytes], ca_names: Sequence[bytes],
                     client_chain: Sequence[bytes]) -> None:
    """A complete TLS 1.2 mutual-TLS handshake on `conv`, as nginx and curl send it."""
    conv.open()
    conv.send(True, records(22, client_hello()))
    conv.send(False, records(22, server_hello() + certificate(server_chain) + certificate_request(ca_names)
                             + SERVER_HELLO_DONE))
    conv.send(True, records(22, certificate(client_chain) + client_key_exchange()) + CHANGE_CIPHER_SPEC
              + encrypted_finished())
    conv.send(False, CHANGE_CIPHER_SPEC + encrypted_finished())
    conv.close()


# --------------------------------------------------------------------------- certificates and names


def small_names(count: int) -> list[bytes]:
    """`count` distinct DER names small enough that 10,000 fit in one CertificateRequest (whose list is
    at most 65,535 bytes): as many one-CN names (`CN=<n>`) as fit, the rest empty Names (`30 00`)."""
    names: list[bytes] = []
    budget = 65535
    for index in range(count):
        left = count - index - 1
        value = str(index).encode()
        atv = b"\x30" + bytes([5 + 2 + len(value)]) + b"\x06\x03\x55\x04\x03" + b"\x0c" + vec8(value)
        rdn = b"\x31" + vec8(atv)
        name = b"\x30" + vec8(rdn)
        if budget - (2 + len(name)) >= 4 * left:
            names.append(name)
            budget -= 2 + len(name)
        else:
            names.append(b"\x30\x00")
            budget -= 4
    return names


def make_chain(length: int) -> list[bytes]:
    """A chain of `length` small EC certificates, leaf first, each issued by the next, the last self-signed."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.fromtimestamp(BASE_TIME, UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(length)]
    names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"link {i}")]) for i in range(length)]
    ders = []
    for i in range(length):
        issuer = min(i + 1, length - 1)
        cert = (x509.CertificateBuilder().subject_name(names[i]).issuer_name(names[issuer])
                .public_key(keys[i].public_key()).serial_number(i + 1)
                .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=30))
                .sign(keys[issuer], hashes.SHA256()))
        ders.append(cert.public_bytes(serialization.Encoding.DER))
    return ders


# --------------------------------------------------------------------------- the attacks


def out_of_order_segments(path: str | os.PathLike[str], segments: int = 1_000_000, window: int = 64) -> int:
    """One connection whose client sends a ClientHello and then application data, `segments` bytes in
    all, one byte per segment, each run of `window` segments in reverse order (a window above the
    reassembler's 256 waiting segments makes it declare holes lost). Returns the frames written."""
    stream = bytearray(records(22, client_hello()))
    while len(stream) < segments:
        stream += records(23, b"\x77" * min(16384, segments))
    data = bytes(stream[:segments])
    with PcapWriter(path) as writer:
        conv = Conversation(writer)
        conv.open()
        base = conv.seq[True]
        for start in range(0, len(data), window):
            for offset in reversed(range(start, min(start + window, len(data)))):
                writer.write(conv._frame(True, PSH | ACK, data[offset : offset + 1], seq=base + offset),
                             step_us=1)
        conv.seq[True] = base + len(data)
        conv.close()
        return writer.frames


def _host(index: int) -> tuple[str, int]:
    """A distinct client endpoint per index: 10.x.y.z addresses, ports 1024..65023."""
    address = ipaddress.IPv4Address(0x0A000000 + 1 + index // 64000)
    return str(address), 1024 + index % 64000


def half_open_connections(path: str | os.PathLike[str], connections: int = 100_000) -> int:
    """`connections` clients each send a SYN, then (after every SYN) a ClientHello; no server ever answers,
    so all are open at once until the capture ends. Returns the frames written."""
    hello = records(22, client_hello())
    server = ("192.0.2.1", 443)
    with PcapWriter(path) as writer:
        for index in range(connections):
            ip, port = _host(index)
            writer.write(tcp_frame(ip, server[0], port, server[1], 1000, 0, SYN), step_us=10)
        for index in range(connections):
            ip, port = _host(index)
            writer.write(tcp_frame(ip, server[0], port, server[1], 1001, 0, PSH, hello), step_us=10)
        return writer.frames


def many_ca_names(path: str | os.PathLike[str], names: int = 10_000,
                  chain: Sequence[bytes] | None = None) -> list[bytes]:
    """A TLS 1.2 mutual-TLS handshake whose CertificateRequest lists `names` CA names. Returns the names."""
    listed = small_names(names)
    certs = list(chain) if chain is not None else make_chain(2)
    with PcapWriter(path) as writer:
        mtls12_handshake(Conversation(writer), server_chain=certs[-1:], ca_names=listed, client_chain=certs)
    return listed


def long_chain(path: str | os.PathLike[str], certificates: int = 1_000,
               chain: Sequence[bytes] | None = None) -> list[bytes]:
    """A TLS 1.2 mutual-TLS handshake whose client sends a chain of `certificates` certificates (a
    Certificate message of about 400 bytes each). Returns the chain."""
    ders = list(chain) if chain is not None else make_chain(certificates)
    root = _name_of(ders[-1])
    with PcapWriter(path) as writer:
        mtls12_handshake(Conversation(writer), server_chain=ders[-1:], ca_names=[root], client_chain=ders)
    return ders


def _name_of(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.public_bytes()


def write_all(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """The four attacks at full size, for the benchmark suite."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    jobs: Iterable[tuple[str, object]] = (
        ("out-of-order-1M-segments.pcap", out_of_order_segments),
        ("half-open-100k-connections.pcap", half_open_connections),
        ("certificate-request-10k-ca-names.pcap", many_ca_names),
        ("chain-1000-certificates.pcap", long_chain),
    )
    for name, make in jobs:
        path = out / name
        make(path)  # type: ignore[operator]
        yield path


if __name__ == "__main__":
    for written in write_all(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written, written.stat().st_size)
