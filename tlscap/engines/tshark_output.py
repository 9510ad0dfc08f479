"""Reading what tshark prints for the tshark engine (`tshark_engine`): pass A's line of fields per frame
(`parse_row`) and pass B's JSON, one packet at a time (`json_packets`), which gives each TLS record's bytes
in the pieces each frame carried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tlscap.tls.constants import ContentType

# Pass A's columns, in order (`-e` options of its command line).
FIELDS = (
    "frame.number", "frame.time_epoch", "frame.protocols", "tcp.stream",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.len",
    "tls.record.version", "tls.record.length",
    "vxlan.vni", "geneve.vni", "gtp.teid", "gre.key", "erspan.version", "erspan.spanid",
)  # fmt: skip
_F = {name: i for i, name in enumerate(FIELDS)}
_TUNNEL_ID_FIELDS = ("vxlan.vni", "geneve.vni", "gtp.teid", "gre.key", "erspan.version", "erspan.spanid")
IGNORED = "Ignored Unknown Record"  # the text item tshark adds where bytes in a TLS layer are no record


# --------------------------------------------------------------------------------------------
# Pass A: one line of fields per frame


@dataclass(slots=True)
class Row:
    """One frame as pass A shows it; `stream` is None for frames that are not (readable) TCP."""

    frame: int
    time_ns: int
    stream: int | None
    src: tuple[str, int]
    dst: tuple[str, int]
    flags: int
    payload: int  # TCP payload length
    records: list[tuple[int, int]]  # (version, length) of each TLS record tshark shows in it
    cols: list[str]

    def tunnel(self) -> tuple[str, ...]:
        return _tunnel_labels(self.cols)


def parse_row(line: str) -> Row | None:
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) < len(FIELDS) or not cols[0].isdigit():
        return None
    frame = int(cols[0])
    time_ns = _epoch_ns(cols[_F["frame.time_epoch"]])
    protocols = cols[_F["frame.protocols"]].split(":")
    stream_text = _last(cols[_F["tcp.stream"]])
    if not stream_text or "tcp" not in protocols or _quoted(protocols):
        return Row(frame, time_ns, None, ("", 0), ("", 0), 0, 0, [], cols)
    inner_v6 = _inner_family(protocols) == "ipv6"
    src_ip = _last(cols[_F["ipv6.src" if inner_v6 else "ip.src"]])
    dst_ip = _last(cols[_F["ipv6.dst" if inner_v6 else "ip.dst"]])
    try:
        src = (src_ip, int(_last(cols[_F["tcp.srcport"]])))
        dst = (dst_ip, int(_last(cols[_F["tcp.dstport"]])))
        flags = int(_last(cols[_F["tcp.flags"]]) or "0", 16)
        payload = int(_last(cols[_F["tcp.len"]]) or "0")
        stream = int(stream_text)
    except ValueError:
        return Row(frame, time_ns, None, ("", 0), ("", 0), 0, 0, [], cols)
    versions = _values(cols[_F["tls.record.version"]])
    lengths = _values(cols[_F["tls.record.length"]])
    records = []
    for version, length in zip(versions, lengths, strict=False):
        try:
            records.append((int(version, 16), int(length)))
        except ValueError:
            continue
    return Row(frame, time_ns, stream, src, dst, flags, payload, records, cols)


def _values(text: str) -> list[str]:
    return text.split(",") if text else []


def _last(text: str) -> str:
    return text.rsplit(",", 1)[-1] if text else ""


def _epoch_ns(text: str) -> int:
    """`1795742062.970190000` → ns, exactly (a float would round the nanoseconds)."""
    negative = text.startswith("-")
    seconds, _, fraction = text.lstrip("-").partition(".")
    try:
        value = int(seconds or "0") * 1_000_000_000 + int((fraction + "000000000")[:9])
    except ValueError:
        return 0
    return -value if negative else value


def _quoted(protocols: list[str]) -> bool:
    """A TCP header quoted in an ICMP error: it takes a stream index but is no segment."""
    tcp = len(protocols) - 1 - protocols[::-1].index("tcp")
    return any(p in ("icmp", "icmpv6") for p in protocols[:tcp])


def _inner_family(protocols: list[str]) -> str:
    tcp = len(protocols) - 1 - protocols[::-1].index("tcp")
    return next((p for p in reversed(protocols[:tcp]) if p in ("ip", "ipv6")), "ip")


def _tunnel_labels(cols: list[str]) -> tuple[str, ...]:
    """The tunnels a frame came through, labelled as decode/tunnels.py labels them."""
    protocols = cols[_F["frame.protocols"]].split(":")
    addresses = {
        "ip": list(zip(_values(cols[_F["ip.src"]]), _values(cols[_F["ip.dst"]]), strict=False)),
        "ipv6": list(zip(_values(cols[_F["ipv6.src"]]), _values(cols[_F["ipv6.dst"]]), strict=False)),
    }
    ids = {name: _values(cols[_F[name]]) for name in _TUNNEL_ID_FIELDS}
    used = {name: 0 for name in [*addresses, *ids]}

    def take(name: str) -> str | None:
        """The next value of a tunnel's identifier field (one per header of that kind, in order)."""
        index = used[name]
        used[name] += 1
        return ids[name][index] if index < len(ids[name]) else None

    labels: list[str] = []
    outer: tuple[str, str, str] | None = None  # family, src, dst of the last IP header
    previous = ""
    for name in protocols:
        if name == "tcp":
            break
        if name in ("ip", "ipv6"):
            index = used[name]
            used[name] += 1
            pair = addresses[name][index] if index < len(addresses[name]) else ("?", "?")
            if previous in ("ip", "ipv6") and outer is not None:
                inner, outside = (4 if name == "ip" else 6), (4 if outer[0] == "ip" else 6)
                kind = "ipip" if inner == outside == 4 else "ip6ip6" if inner == outside else f"{inner}in{outside}"
                labels.append(f"{kind} {outer[1]}>{outer[2]}")
            outer = (name, pair[0], pair[1])
        elif outer is not None:
            path = f"{outer[1]}>{outer[2]}"
            if name == "vxlan":
                labels.append(f"vxlan vni={_number(take('vxlan.vni'))} {path}")
            elif name == "geneve":
                labels.append(f"geneve vni={_number(take('geneve.vni'))} {path}")
            elif name == "gtp":
                teid = _number(take("gtp.teid"))
                labels.append(f"gtp teid=0x{teid:x} {path}" if isinstance(teid, int) else f"gtp {path}")
            elif name == "gre":
                key = take("gre.key")
                labels.append(f"gre key={_number(key)} {path}" if key else f"gre {path}")
            elif name == "erspan" and labels and labels[-1].startswith("gre"):
                version = _number(take("erspan.version"))
                session = _number(take("erspan.spanid"))
                erspan = {1: "erspan2", 2: "erspan3"}.get(version) if isinstance(version, int) else None
                labels[-1] = f"{erspan} session={session} {path}" if erspan else f"erspan1 {path}"
        previous = name
    return tuple(labels)


def _number(text: str | None) -> int | str:
    try:
        return int(text or "", 0)
    except ValueError:
        return text or "?"


# --------------------------------------------------------------------------------------------
# Pass B: the records' bytes, from tshark's JSON


@dataclass(frozen=True, slots=True)
class TlsRecord:
    """One TLS record as tshark found it: its bytes in stream order, each piece with its frame."""

    chunks: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class Packet:
    """A frame of pass B: its TLS records, and how many bytes of it the snap length cut off."""

    frame: int
    records: list[TlsRecord]
    cut: int = 0


def application_data_record(frame: int, version: int, length: int) -> TlsRecord:
    """An application-data record pass A listed: its body is not needed, only its length."""
    header = bytes([ContentType.APPLICATION_DATA, version >> 8 & 0xFF, version & 0xFF, length >> 8 & 0xFF,
                    length & 0xFF])
    return TlsRecord(chunks=((frame, header + bytes(length)),))


def json_packets(stream: Iterable[str], on_unreadable: Callable[[], None]) -> Iterator[Packet]:
    """The frame number and TLS records of each packet of `tshark -T json`, one packet at a time.

    tshark prints a JSON array whose packets open with a line `  {` and close with `  }` or
    `  },` (two spaces: deeper lines are indented further), so each is parsed on its own.
    """
    lines: list[str] = []
    inside = False
    for line in stream:
        if not inside:
            if line.startswith("  {"):
                inside, lines = True, [line]
            continue
        lines.append(line)
        if line.rstrip("\r\n") not in ("  }", "  },"):
            continue
        inside = False
        try:
            layers = json.loads("".join(lines).rstrip().rstrip(","))["_source"]["layers"]
            found = _packet_records(layers)
        except (ValueError, KeyError, TypeError, IndexError):
            on_unreadable()
            continue
        if found is not None:
            yield found


@dataclass(frozen=True, slots=True)
class _Segments:
    """A reassembled PDU: its bytes (hex) and, in order, (frame, offset, length) of each segment."""

    data: str
    parts: tuple[tuple[int, int, int], ...]


def _packet_records(layers: dict[str, Any]) -> Packet | None:
    frame_layer = layers.get("frame")
    if not isinstance(frame_layer, dict):
        return None
    frame = int(frame_layer["frame.number"])
    frame_raw = _raws(layers.get("frame_raw"))
    frame_hex = frame_raw[0][0] if frame_raw else ""
    sources = [s for s in (_segments(item) for item in _items(layers.get("tcp.segments"))) if s is not None]
    records: list[TlsRecord] = []
    tls_layers = _items(layers.get("tls"))
    tls_raws = _raws(layers.get("tls_raw"))
    for layer, layer_raw in zip(tls_layers, tls_raws, strict=False):
        if not isinstance(layer, dict):
            continue
        source = _source_of(layer_raw, frame_hex, sources)
        end = int(layer_raw[1])
        for raw in _raws(layer.get("tls.record_raw")):
            records.append(_record(frame, str(raw[0]), int(raw[1]), source))
            end = int(raw[1]) + int(raw[2])
        if IGNORED in layer:
            # tshark stopped at bytes that are no record and skipped the rest of the layer; the
            # native engine reads them and loses sync there, so they are fed too.
            start = end - int(layer_raw[1])
            if 0 <= start < int(layer_raw[2]):
                records.append(_record(frame, str(layer_raw[0])[2 * start :], end, source))
    cut = int(frame_layer.get("frame.len", 0)) - int(frame_layer.get("frame.cap_len", 0))
    return Packet(frame=frame, records=records, cut=max(cut, 0))


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _raws(value: Any) -> list[list[Any]]:
    """A `*_raw` value: [hex, offset, length, bitmask, type], or a list of them."""
    if not isinstance(value, list) or not value:
        return []
    return value if isinstance(value[0], list) else [value]


def _segments(item: Any) -> _Segments | None:
    if not isinstance(item, dict):
        return None
    raws = _raws(item.get("tcp.segment_raw"))
    frames = _items(item.get("tcp.segment"))
    if not raws or len(raws) != len(frames):
        return None
    parts = sorted(((int(f), int(raw[1]), int(raw[2]), str(raw[0])) for f, raw in zip(frames, raws, strict=True)),
                   key=lambda p: p[1])
    data = "".join(p[3] for p in parts)
    if any(p[1] != sum(q[2] for q in parts[:i]) for i, p in enumerate(parts)):
        return None  # not contiguous: offsets cannot be trusted
    return _Segments(data=data, parts=tuple((p[0], p[1], p[2]) for p in parts))


def _source_of(layer_raw: list[Any], frame_hex: str, sources: list[_Segments]) -> _Segments | None:
    """The reassembled PDU a TLS layer was dissected from, or None when it lies in the frame itself.

    Raw offsets are relative to the layer's data source (the frame, or the reassembled PDU), which
    JSON does not name: the source is the one whose bytes at that offset are the layer's bytes.
    """
    hex_text, offset, length = str(layer_raw[0]), int(layer_raw[1]), int(layer_raw[2])
    span = slice(2 * offset, 2 * (offset + length))
    if frame_hex[span] == hex_text:
        return None
    return next((s for s in sources if s.data[span] == hex_text), None)


def _record(frame: int, hex_text: str, offset: int, source: _Segments | None) -> TlsRecord:
    """The bytes `hex_text` found at `offset` of the layer's source, in the pieces frames carried."""
    data = bytes.fromhex(hex_text)
    length = len(data)
    if source is None:
        return TlsRecord(chunks=((frame, data),))
    chunks = []
    covered = 0
    for seg_frame, seg_offset, seg_length in source.parts:
        low, high = max(offset, seg_offset), min(offset + length, seg_offset + seg_length)
        if low < high:
            chunks.append((seg_frame, data[low - offset : high - offset]))
            covered += high - low
    if covered != len(data):
        return TlsRecord(chunks=((frame, data),))
    return TlsRecord(chunks=tuple(chunks))
