"""Captures that try to make memory grow with the input, written packet by packet (struct level).

- `tiny_records`: open connections, each carrying a ClientHello and then a great many zero-length
  records of one content type (ChangeCipherSpec or alert);
- `short_connections`: many complete connections (handshake, a ClientHello, FIN both ways) within a
  few seconds of capture time;
- `half_open`: many connections that send a SYN and a ClientHello and never close.

Run as a script to write one and measure `tlscap analyze` on it:
`python tests/memory_captures.py short 400000 /tmp/x.pcap`.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
SERVER = bytes([10, 9, 0, 1])
T0 = 1_700_000_000


def client_hello() -> bytes:
    """A minimal TLS 1.2 ClientHello record: random, no session, one suite, null compression."""
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00"
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


HELLO = client_hello()


def _packet(index: int, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"") -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), index & 0xFFFF, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    frame = ETH + ip + tcp + payload
    return struct.pack("<IIII", T0 + index // 1_000_000, index % 1_000_000, len(frame), len(frame)) + frame


def _client(i: int) -> tuple[bytes, int]:
    return bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255]), 1024 + (i % 50_000)


def _write(path: Path, packets: Iterator[bytes]) -> Path:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        batch: list[bytes] = []
        for p in packets:
            batch.append(p)
            if len(batch) >= 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    return path


def tiny_records(path: Path, connections: int, records: int, content_type: int = 20) -> Path:
    """Open connections, each: SYN, SYN/ACK, ACK, a ClientHello, then `records` zero-length records of
    `content_type` from the client, sent in segments of 10,000 bytes."""
    def packets() -> Iterator[bytes]:
        n = 0
        for c in range(connections):
            cip, cport = _client(c)
            yield _packet(n, cip, SERVER, cport, 443, 1000, 0, SYN)
            yield _packet(n + 1, SERVER, cip, 443, cport, 5000, 1001, SYN | ACK)
            seq = 1001
            yield _packet(n + 2, cip, SERVER, cport, 443, seq, 5001, PSH | ACK, HELLO)
            seq += len(HELLO)
            n += 3
            data = bytes([content_type, 3, 3, 0, 0]) * records
            for start in range(0, len(data), 10_000):
                chunk = data[start:start + 10_000]
                yield _packet(n, cip, SERVER, cport, 443, seq, 5001, PSH | ACK, chunk)
                seq += len(chunk)
                n += 1
    return _write(path, packets())


def short_connections(path: Path, connections: int) -> Path:
    """Complete connections, all within a few seconds of capture time."""
    def packets() -> Iterator[bytes]:
        n = 0
        for c in range(connections):
            cip, cport = _client(c)
            yield _packet(n, cip, SERVER, cport, 443, 1000, 0, SYN)
            yield _packet(n + 1, SERVER, cip, 443, cport, 5000, 1001, SYN | ACK)
            yield _packet(n + 2, cip, SERVER, cport, 443, 1001, 5001, PSH | ACK, HELLO)
            end = 1001 + len(HELLO)
            yield _packet(n + 3, cip, SERVER, cport, 443, end, 5001, FIN | ACK)
            yield _packet(n + 4, SERVER, cip, 443, cport, 5001, end + 1, FIN | ACK)
            yield _packet(n + 5, cip, SERVER, cport, 443, end + 1, 5002, ACK)
            n += 6
    return _write(path, packets())


def half_open(path: Path, connections: int) -> Path:
    """Connections that send a SYN and a ClientHello and never close."""
    def packets() -> Iterator[bytes]:
        for c in range(connections):
            cip, cport = _client(c)
            yield _packet(2 * c, cip, SERVER, cport, 443, 1000, 0, SYN)
            yield _packet(2 * c + 1, cip, SERVER, cport, 443, 1001, 0, PSH | ACK, HELLO)
    return _write(path, packets())


_MEASURE = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run([sys.executable, '-m', 'tlscap', *sys.argv[1:]], capture_output=True, text=True)\n"
    "sys.stderr.write(r.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n"
)


def peak_rss_mb(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run `python -m tlscap ARGS` and return its peak RSS in MiB with the result. The run is measured
    by a fresh parent process of its own, whose only child it is (RUSAGE_CHILDREN keeps the largest child
    a process ever waited for, so the test process's own count would include earlier tests)."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, timeout=900)
    kib, code = result.stdout.split()
    result.returncode = int(code)
    return int(kib) / 1024, result


if __name__ == "__main__":
    kind, count, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if kind == "short":
        short_connections(out, count)
    elif kind == "half":
        half_open(out, count)
    elif kind in ("ccs", "alert"):
        tiny_records(out, count, int(sys.argv[4]) if len(sys.argv) > 4 else 10_000, 20 if kind == "ccs" else 21)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
