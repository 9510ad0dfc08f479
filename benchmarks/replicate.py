#!/usr/bin/env python3
"""Grow the benchmark seed capture into a large, realistic pcap by replication.

Reads the seed (classic pcap, as tcpdump writes it), splits it into TCP connections and
writes N copies of every connection into one pcap until the target size is reached. Each
copy of each connection gets its own client address and port (IPv4 addresses and ports
rewritten, IPv4 and TCP checksums updated incrementally, RFC 1624; the seed's TCP checksums,
partial on loopback, are computed first), the server moves to
one documentation address, and timestamps are shifted forward. Connections start at a
steady (jittered) pace so that about ``--concurrency`` of them are open at once and their
packets interleave, as on a busy server; inside a connection the seed's own packet order
and timing are kept.

Standard library only (struct, heapq), streaming: the seed is held in memory, the output
is written as it is produced. Output and a ``.json`` manifest go to the cache dir; a
build is skipped when the manifest shows the same parameters and seed.

    python3 benchmarks/replicate.py --size 100M
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import ipaddress
import json
import math
import os
import random
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_VERSION = 1  # bump when the output for the same parameters changes

PCAP_MAGICS = {  # magic as read little-endian -> (byte order, ticks per second)
    0xA1B2C3D4: ("<", 1_000_000),
    0xD4C3B2A1: (">", 1_000_000),
    0xA1B23C4D: ("<", 1_000_000_000),
    0x4D3CB2A1: (">", 1_000_000_000),
}
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = {101, 228}
LINKTYPE_LINUX_SLL = 113
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = {0x8100, 0x88A8}
TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST = 0x02, 0x10, 0x01, 0x04

CLIENTS_PER_HOST = 500  # connections per rewritten client address before the next one


class SeedError(Exception):
    """The seed cannot be replicated (not a pcap, unknown link type, no TCP)."""


@dataclass(slots=True)
class SeedPacket:
    """One TCP/IPv4 packet of the seed, with where its fields sit in ``data``."""

    rel_ticks: int  # time since its connection's first packet
    data: bytes
    orig_len: int
    ip_off: int
    tcp_off: int
    from_client: bool


@dataclass(slots=True)
class SeedConnection:
    """The packets of one TCP connection of the seed, in file order."""

    client: tuple[bytes, int]  # (4-byte address, port)
    server: tuple[bytes, int]
    first_ticks: int
    packets: list[SeedPacket] = field(default_factory=list)

    @property
    def duration(self) -> int:
        """Ticks from first to last packet."""
        return self.packets[-1].rel_ticks if self.packets else 0


@dataclass(slots=True)
class Seed:
    """The parsed seed: file header fields and its connections in order of first packet."""

    endian: str
    ticks_per_second: int
    header: bytes  # the 24-byte file header, written unchanged
    linktype: int
    connections: list[SeedConnection]
    skipped: int  # packets that are not TCP/IPv4 (left out of the output)


def parse_size(text: str) -> int:
    """'10M' -> 10_000_000, '1G' -> 10**9 (decimal units), plain digits as bytes."""
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def ip_offset(linktype: int, data: bytes) -> int | None:
    """Where the IPv4 header starts in a frame, or None when it is not IPv4."""
    if linktype == LINKTYPE_ETHERNET:
        off, ethertype = 14, int.from_bytes(data[12:14], "big") if len(data) >= 14 else 0
        while ethertype in ETHERTYPE_VLAN and len(data) >= off + 4:
            ethertype = int.from_bytes(data[off + 2 : off + 4], "big")
            off += 4
        return off if ethertype == ETHERTYPE_IPV4 else None
    if linktype == LINKTYPE_LINUX_SLL:
        return 16 if len(data) >= 16 and int.from_bytes(data[14:16], "big") == ETHERTYPE_IPV4 else None
    if linktype in LINKTYPE_RAW:
        return 0 if data and data[0] >> 4 == 4 else None
    raise SeedError(f"link type {linktype} is not supported (Ethernet, Linux SLL, raw IPv4)")


def read_seed(path: Path) -> Seed:
    """Read a classic pcap into connections; a new SYN on a closed 4-tuple starts a new one."""
    raw = path.read_bytes()
    if len(raw) < 24:
        raise SeedError(f"{path}: too short for a pcap")
    magic = struct.unpack_from("<I", raw)[0]
    if magic not in PCAP_MAGICS:
        raise SeedError(f"{path}: not a classic pcap (pcapng seeds are not supported)")
    endian, tps = PCAP_MAGICS[magic]
    linktype = struct.unpack_from(endian + "I", raw, 20)[0] & 0xFFFF
    rec = struct.Struct(endian + "IIII")
    open_by_tuple: dict[tuple[bytes, int, bytes, int], tuple[SeedConnection, bool]] = {}
    closed: set[int] = set()  # id() of connections that saw FIN/RST
    connections: list[SeedConnection] = []
    skipped, pos = 0, 24
    while pos + 16 <= len(raw):
        sec, frac, incl, orig = rec.unpack_from(raw, pos)
        data = raw[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ticks = sec * tps + frac
        ip = ip_offset(linktype, data)
        if ip is None or len(data) < ip + 20 or data[ip + 9] != 6:
            skipped += 1
            continue
        tcp = ip + (data[ip] & 0x0F) * 4
        if len(data) < tcp + 14:
            skipped += 1
            continue
        src, dst = data[ip + 12 : ip + 16], data[ip + 16 : ip + 20]
        sport, dport = struct.unpack_from("!HH", data, tcp)
        flags = data[tcp + 13]
        key = (src, sport, dst, dport)
        found = open_by_tuple.get(key)
        is_new_syn = flags & TCP_SYN and not flags & TCP_ACK
        if found is None or (is_new_syn and id(found[0]) in closed):
            # The side that sends the bare SYN is the client; without one, the first sender.
            conn = SeedConnection(client=(src, sport), server=(dst, dport), first_ticks=ticks)
            connections.append(conn)
            open_by_tuple[key] = (conn, True)
            open_by_tuple[(dst, dport, src, sport)] = (conn, False)
            found = (conn, True)
        conn, from_client = found
        if flags & (TCP_FIN | TCP_RST):
            closed.add(id(conn))
        data = with_tcp_checksum(data, ip, tcp) if incl == orig else data
        conn.packets.append(SeedPacket(ticks - conn.first_ticks, data, orig, ip, tcp, from_client))
    if not connections:
        raise SeedError(f"{path}: no TCP/IPv4 packet")
    return Seed(endian, tps, raw[:24], linktype, connections, skipped)


def with_tcp_checksum(data: bytes, ip: int, tcp: int) -> bytes:
    """The frame with its TCP checksum computed (loopback captures hold partial ones).

    The ones' complement sum of 16-bit words is the number mod 0xFFFF (2**16 = 1 mod
    0xFFFF), which int.from_bytes computes in C: fast enough for the seed.
    """
    ip_len = struct.unpack_from("!H", data, ip + 2)[0]
    end = ip + ip_len
    if ip_len < tcp - ip + 20 or end > len(data):
        return data  # truncated or odd: leave it
    segment = bytearray(data[tcp:end])
    segment[16:18] = b"\0\0"
    pseudo = data[ip + 12 : ip + 20] + struct.pack("!BBH", 0, 6, len(segment))
    blob = pseudo + bytes(segment) + (b"\0" if len(segment) % 2 else b"")
    checksum = 0xFFFF - int.from_bytes(blob, "big") % 0xFFFF
    return data[: tcp + 16] + struct.pack("!H", checksum) + data[tcp + 18 :]


def fold(value: int) -> int:
    """Fold a sum into 16 bits, ones' complement."""
    while value >> 16:
        value = (value & 0xFFFF) + (value >> 16)
    return value


def words(blob: bytes) -> list[int]:
    """Big-endian 16-bit words of an even-length byte string."""
    return list(struct.unpack(f"!{len(blob) // 2}H", blob))


def checksum_delta(old: bytes, new: bytes) -> int:
    """RFC 1624 addend: ~m + m' over every changed word, for HC' = ~(~HC + delta)."""
    return fold(sum(0xFFFF - w for w in words(old)) + sum(words(new)))


def apply_delta(checksum: int, delta: int) -> int:
    """New checksum after fields whose delta is given changed."""
    return 0xFFFF - fold((0xFFFF - checksum) + delta)


@dataclass(slots=True, frozen=True)
class Rewrite:
    """The new addresses of one copy of one connection, and the checksum updates they cause."""

    client_ip: bytes
    client_port: int
    server_ip: bytes
    server_port: int
    ip_delta: int  # same for both directions: the header sums both addresses
    tcp_delta: int  # likewise: pseudo-header addresses + both ports


def make_rewrite(conn: SeedConnection, g: int, server_ip: bytes, server_port: int) -> Rewrite:
    """Addresses for the g-th connection written: 10.0.0.1 + g // 500, ports 33000 + 60 * (g % 500)."""
    client_ip = (0x0A000001 + g // CLIENTS_PER_HOST).to_bytes(4, "big")
    client_port = 33000 + 60 * (g % CLIENTS_PER_HOST)
    old_ips = conn.client[0] + conn.server[0]
    new_ips = client_ip + server_ip
    old_ports = struct.pack("!HH", conn.client[1], conn.server[1])
    new_ports = struct.pack("!HH", client_port, server_port)
    return Rewrite(
        client_ip, client_port, server_ip, server_port,
        ip_delta=checksum_delta(old_ips, new_ips),
        tcp_delta=checksum_delta(old_ips + old_ports, new_ips + new_ports),
    )


def rewrite_packet(pkt: SeedPacket, rw: Rewrite) -> bytearray:
    """A copy of the packet with the connection's new addresses, ports and checksums."""
    buf = bytearray(pkt.data)
    ip, tcp = pkt.ip_off, pkt.tcp_off
    if pkt.from_client:
        buf[ip + 12 : ip + 20] = rw.client_ip + rw.server_ip
        struct.pack_into("!HH", buf, tcp, rw.client_port, rw.server_port)
    else:
        buf[ip + 12 : ip + 20] = rw.server_ip + rw.client_ip
        struct.pack_into("!HH", buf, tcp, rw.server_port, rw.client_port)
    ip_sum = struct.unpack_from("!H", buf, ip + 10)[0]
    struct.pack_into("!H", buf, ip + 10, apply_delta(ip_sum, rw.ip_delta))
    if len(buf) >= tcp + 18:  # the TCP checksum field was captured
        tcp_sum = struct.unpack_from("!H", buf, tcp + 16)[0]
        struct.pack_into("!H", buf, tcp + 16, apply_delta(tcp_sum, rw.tcp_delta))
    return buf


def schedule(seed: Seed, copies: int, concurrency: float, rng: random.Random) -> list[int]:
    """Start time (ticks after the seed's start) of every connection written, in order.

    Starts are spaced by mean duration / concurrency (jittered ±50 %), so that on average
    about ``concurrency`` connections are open at a time.
    """
    durations = [c.duration for c in seed.connections]
    mean = max(1, sum(durations) // len(durations))
    gap = mean / max(concurrency, 1e-9)
    starts, now = [], 0.0
    for _ in range(copies * len(seed.connections)):
        starts.append(int(now))
        now += gap * rng.uniform(0.5, 1.5)
    return starts


def write_replicas(seed: Seed, out_path: Path, copies: int, concurrency: float,
                   server_ip: bytes, server_port: int | None, rng_seed: int) -> dict[str, int]:
    """Write the merged copies into out_path; return counts for the manifest."""
    conns = seed.connections
    starts = schedule(seed, copies, concurrency, random.Random(rng_seed))
    base = conns[0].first_ticks
    tps = seed.ticks_per_second
    rec = struct.Struct(seed.endian + "IIII")
    # heap entries: (absolute ticks, g, packet index); g orders ties in connection order
    heap: list[tuple[int, int, int]] = []
    rewrites: dict[int, Rewrite] = {}
    total = len(starts)
    next_g, packets, max_open, written = 0, 0, 0, 24
    chunk: list[bytes | bytearray] = []
    chunk_bytes = 0
    with open(out_path, "wb", buffering=1 << 20) as out:
        out.write(seed.header)
        while heap or next_g < total:
            if next_g < total and (not heap or base + starts[next_g] <= heap[0][0]):
                conn = conns[next_g % len(conns)]
                sp = server_port if server_port is not None else conn.server[1]
                rewrites[next_g] = make_rewrite(conn, next_g, server_ip, sp)
                heapq.heappush(heap, (base + starts[next_g], next_g, 0))
                max_open = max(max_open, len(heap))
                next_g += 1
                continue
            t0, g, i = heap[0]
            conn = conns[g % len(conns)]
            pkt = conn.packets[i]
            data = rewrite_packet(pkt, rewrites[g])
            sec, frac = divmod(t0, tps)
            chunk.append(rec.pack(sec, frac, len(data), pkt.orig_len))
            chunk.append(data)
            chunk_bytes += 16 + len(data)
            packets += 1
            if i + 1 < len(conn.packets):
                start = t0 - pkt.rel_ticks
                heapq.heapreplace(heap, (start + conn.packets[i + 1].rel_ticks, g, i + 1))
            else:
                heapq.heappop(heap)
                del rewrites[g]
            if chunk_bytes >= 1 << 22:
                out.write(b"".join(chunk))
                written += chunk_bytes
                chunk, chunk_bytes = [], 0
        out.write(b"".join(chunk))
        written += chunk_bytes
    return {"bytes": written, "packets": packets, "connections": total, "max_open_connections": max_open}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Command line: build (or find in the cache) the capture of the requested size."""
    cache_default = Path(os.environ.get("TLSCAP_BENCH_CACHE", "/var/tmp/tlscap-bench"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", required=True, help="target size: 10M, 100M, 1G (decimal units) or bytes")
    p.add_argument("--seed", type=Path, help="seed pcap (default CACHE/seed.pcap)")
    p.add_argument("--cache", type=Path, default=cache_default, help=f"output dir (default {cache_default})")
    p.add_argument("--concurrency", type=float, default=8.0,
                   help="about how many connections are open at once (default 8)")
    p.add_argument("--server-ip", default="192.0.2.10", help="server address in the output (default 192.0.2.10)")
    p.add_argument("--server-port", type=int, help="server port in the output (default: the seed's)")
    p.add_argument("--rng-seed", type=int, default=1, help="seed of the start-time jitter (default 1)")
    p.add_argument("--force", action="store_true", help="rebuild even when the cached file matches")
    args = p.parse_args(argv)

    target = parse_size(args.size)
    seed_path = args.seed or args.cache / "seed.pcap"
    if not seed_path.is_file():
        print(f"replicate: no seed at {seed_path}; run benchmarks/make_seed.sh first", file=sys.stderr)
        return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    label = args.size.strip().upper().removesuffix("B")
    out_path = args.cache / f"tlscap-bench-{label}.pcap"
    manifest_path = out_path.with_suffix(".json")
    seed_sha = sha256_file(seed_path)
    seed_bytes = seed_path.stat().st_size
    params = {
        "target_bytes": target, "seed_sha256": seed_sha, "concurrency": args.concurrency,
        "server_ip": args.server_ip, "server_port": args.server_port, "rng_seed": args.rng_seed,
        "format_version": FORMAT_VERSION,
    }
    if not args.force and out_path.is_file() and manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("params") == params and old.get("bytes") == out_path.stat().st_size:
            print(f"replicate: up to date: {out_path} ({old['bytes']:,} bytes)", file=sys.stderr)
            return 0

    began = time.monotonic()
    seed = read_seed(seed_path)
    copies = max(1, math.ceil((target - 24) / max(1, seed_bytes - 24)))
    tmp = out_path.with_suffix(".pcap.tmp")
    manifest_path.unlink(missing_ok=True)
    out_path.unlink(missing_ok=True)
    try:
        counts = write_replicas(seed, tmp, copies, args.concurrency,
                                ipaddress.IPv4Address(args.server_ip).packed, args.server_port, args.rng_seed)
        tmp.replace(out_path)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = {
        "file": out_path.name, "params": params, **counts, "copies": copies,
        "seed": str(seed_path), "seed_bytes": seed_bytes, "seed_connections": len(seed.connections),
        "seed_packets_skipped_per_copy": seed.skipped,
        "build_seconds": round(time.monotonic() - began, 2),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"replicate: wrote {out_path}: {counts['bytes']:,} bytes, {counts['packets']:,} packets, "
          f"{counts['connections']:,} connections ({copies} copies), "
          f"max {counts['max_open_connections']} open at once, {manifest['build_seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
