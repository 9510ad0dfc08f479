#!/usr/bin/env python3
"""The pure-Python floor on a benchmark capture: what the least possible per-packet work costs.

Two passes over a classic pcap, each as tight as CPython allows (one loop, precompiled structs,
no per-packet objects), standard library only:

1. **walk**: read the file in 8 MiB blocks and step over the record headers;
2. **walk + decode + records**: also decode Ethernet / IPv4 / TCP, find each packet's flow in a
   dict, and walk each direction's TLS record boundaries (headers read, bodies skipped by length;
   segments taken in order, no reassembly, no handshake parsing, no report).

tlscap has to do at least (2), plus reassembly, handshake parsing, certificates, the rules and
the report, so (2) bounds from below what any pure-Python design of it can reach on this machine.
Prints one JSON object; `run.sh` prints it beside the tlscap/tshark table.

    python3 benchmarks/floor.py /var/tmp/tlscap-bench/tlscap-bench-1G.pcap
"""

from __future__ import annotations

import json
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BLOCK = 8 << 20
_RECORD = struct.Struct("<IIII")
_IPV4_TCP = struct.Struct(">BBHHHBBH4s4sHHIIBB")  # IPv4 without options, then TCP up to the flags


def records(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(buffer, start, length) of each record's captured bytes, read in blocks (little-endian µs pcap)."""
    with path.open("rb") as f:
        buf = f.read(BLOCK)
        if buf[:4] != b"\xd4\xc3\xb2\xa1":
            raise SystemExit(f"{path}: not a little-endian microsecond pcap")
        pos = 24
        unpack = _RECORD.unpack_from
        while True:
            if len(buf) - pos < 16:
                buf = buf[pos:] + f.read(BLOCK)
                pos = 0
                if len(buf) < 16:
                    return
            caplen = unpack(buf, pos)[2]
            start = pos + 16
            if start + caplen > len(buf):
                buf = buf[pos:] + f.read(BLOCK + caplen)
                pos = 0
                continue
            yield buf, start, caplen
            pos = start + caplen


def walk(path: Path) -> int:
    """Pass 1: count the records."""
    return sum(1 for _ in records(path))


def walk_decode_records(path: Path) -> tuple[int, int, int]:
    """Pass 2: decode, look up the flow, walk the TLS records. Returns (packets, flows, records)."""
    unpack = _IPV4_TCP.unpack_from
    # per direction: [bytes still to skip in the current record body, partial header]
    flows: dict[bytes, list[object]] = {}
    packets = record_count = 0
    for buf, start, length in records(path):
        packets += 1
        if buf[start + 12 : start + 15] != b"\x08\x00\x45" or length < 54:
            continue
        (_v, _t, total, _i, _f, _ttl, proto, _s, _src, _dst, _sp, _dp, _seq, _ack, offset, _flags) = unpack(
            buf, start + 14)
        if proto != 6:
            continue
        key = buf[start + 26 : start + 38]  # addresses and ports: the direction's identity
        state = flows.get(key)
        if state is None:
            state = flows[key] = [0, b""]
        payload = start + 34 + (offset >> 4) * 4
        end = start + 14 + total
        if payload >= end:
            continue
        skip = state[0]
        assert isinstance(skip, int)
        if skip >= end - payload:  # inside a record body: skipped by length
            state[0] = skip - (end - payload)
            continue
        data = bytes(state[1]) + buf[payload + skip : end]  # type: ignore[operator]
        pos = 0
        while len(data) - pos >= 5:
            record_count += 1
            pos += 5 + ((data[pos + 3] << 8) | data[pos + 4])
        state[0], state[1] = max(0, pos - len(data)), data[pos:] if pos < len(data) else b""
    return packets, len(flows), record_count


def main(argv: list[str]) -> int:
    path = Path(argv[1])
    t0 = time.perf_counter()
    n = walk(path)
    t1 = time.perf_counter()
    packets, flows, recs = walk_decode_records(path)
    t2 = time.perf_counter()
    print(json.dumps({"capture": str(path), "packets": n, "walk_s": round(t1 - t0, 2),
                      "walk_decode_records_s": round(t2 - t1, 2), "directions": flows, "records": recs}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
