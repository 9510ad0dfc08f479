"""What the decoder hands over for a UDP packet: addresses, ports and payload (see Decoder.on_datagram)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, kw_only=True)
class Datagram:
    """One UDP datagram decoded from a frame. `payload` holds the captured UDP payload; `payload_missing`
    counts the bytes the UDP length announces but the snap length cut. `tunnel` is as in `Segment`."""

    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    payload: bytes
    payload_missing: int = 0
    tunnel: tuple[str, ...] = ()
    frame: int = 0
    timestamp_ns: int = 0
    quoted: bool = False
