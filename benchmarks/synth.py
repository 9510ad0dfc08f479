#!/usr/bin/env python3
"""Write two ~100 MB captures whose packets are mostly bulk data, to set beside the benchmark captures
(which are handshake-dense: 30,240 full mutual-TLS handshakes in 1 GB).

    bulk-tls-100M.pcap    200 TLS connections caught mid-stream (no handshake in the capture): the
                          client sends a short application-data record, the server 500 KB in 16 KB
                          records and then an alert; FIN both ways. Ethernet, MTU-sized segments,
                          an ACK every second segment.
    bulk-tls-ipv6-100M.pcap  the same over IPv6.
    plaintext-100M.pcap   the same with a plaintext HTTP response instead of TLS records.

They are synthetic (written here, not captured): what they measure is the per-packet path of bulk
data and its ACKs, as a busy gateway's capture holds. Deterministic (fixed seed); standard library only.

    python3 benchmarks/synth.py [CACHE_DIR]
"""

from __future__ import annotations

import os
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

CONNECTIONS = 200
BYTES_PER_CONNECTION = 500_000
MSS = 1448
SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _frame(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
           payload: bytes = b"", v6: bool = False) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
    mac = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    if v6:  # 2001:db8::/96 + the four address bytes (TCP checksums are left 0, as for IPv4)
        prefix = b"\x20\x01\x0d\xb8" + bytes(8)
        ip = struct.pack("!IHBB16s16s", 0x60000000, 20 + len(payload), 6, 64, prefix + src, prefix + dst)
        return mac + b"\x86\xdd" + ip + tcp + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return mac + b"\x08\x00" + ip + tcp + payload


def _record(content_type: int, body: bytes) -> bytes:
    return struct.pack("!BHH", content_type, 0x0303, len(body)) + body


def _connection(rng: random.Random, index: int, tls: bool, v6: bool) -> Iterator[bytes]:
    client, server = bytes([10, 1, index >> 8 & 255, index & 255]), bytes([10, 2, 0, 1])
    cport, sport = 40000 + index, 443 if tls else 80
    c, s = rng.getrandbits(32), rng.getrandbits(32)
    yield _frame(client, server, cport, sport, c, 0, SYN, v6=v6)
    yield _frame(server, client, sport, cport, s, c + 1, SYN | ACK, v6=v6)
    c, s = c + 1, s + 1
    yield _frame(client, server, cport, sport, c, s, ACK, v6=v6)
    if tls:
        request = _record(23, rng.randbytes(64))
        response = b"".join(_record(23, rng.randbytes(min(16384, BYTES_PER_CONNECTION - done)))
                            for done in range(0, BYTES_PER_CONNECTION, 16384)) + _record(21, rng.randbytes(26))
    else:
        request = b"GET /export.csv HTTP/1.1\r\nHost: gateway.example\r\n\r\n"
        body = rng.randbytes(BYTES_PER_CONNECTION).replace(b"\x16", b"\x15")  # no byte looks like a TLS handshake
        response = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    yield _frame(client, server, cport, sport, c, s, PSH | ACK, request, v6=v6)
    c += len(request)
    for n, off in enumerate(range(0, len(response), MSS)):
        piece = response[off : off + MSS]
        flags = ACK | (PSH if off + MSS >= len(response) else 0)
        yield _frame(server, client, sport, cport, s + off, c, flags, piece, v6=v6)
        if n % 2:
            yield _frame(client, server, cport, sport, c, s + off + len(piece), ACK, v6=v6)
    s += len(response)
    yield _frame(server, client, sport, cport, s, c, FIN | ACK, v6=v6)
    yield _frame(client, server, cport, sport, c, s + 1, FIN | ACK, v6=v6)
    yield _frame(server, client, sport, cport, s + 1, c + 1, ACK, v6=v6)


def write(path: Path, tls: bool, v6: bool = False) -> int:
    """Write the capture (to a temporary name, then renamed); returns its packet count."""
    rng = random.Random(7 if tls else 8)
    tmp = path.with_suffix(".tmp")
    packets = 0
    t = 1_800_000_000 * 1_000_000
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for index in range(CONNECTIONS):
            for frame in _connection(rng, index, tls, v6):
                t += 40
                out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame)
                packets += 1
    os.replace(tmp, path)
    return packets


def main() -> int:
    cache = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TLSCAP_BENCH_CACHE", "/var/tmp/tlscap-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    for name, tls, v6 in (("bulk-tls-100M.pcap", True, False), ("bulk-tls-ipv6-100M.pcap", True, True),
                          ("plaintext-100M.pcap", False, False)):
        path = cache / name
        if path.is_file():
            continue
        packets = write(path, tls, v6)
        print(f"[synth] {path}: {path.stat().st_size:,} bytes, {packets:,} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
