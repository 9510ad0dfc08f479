"""What the decoder yields for a TCP packet: addresses, sequence numbers, flags and payload."""

from __future__ import annotations

from dataclasses import dataclass

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10


@dataclass(slots=True)
class Segment:
    """One TCP segment decoded from a frame.

    Addresses are text (`192.0.2.1`, `2001:db8::1`). `payload` holds the captured TCP payload;
    `payload_missing` counts the payload bytes the IP header announces but the capture cut
    (snap length), so `len(payload) + payload_missing` is the segment's real payload length.
    `tunnel` names the encapsulation path the segment was found in (empty for plain IP),
    so two tenants with the same inner 4-tuple stay apart. `quoted` marks a TCP header quoted
    inside an ICMP error: not part of the connection's byte stream.

    Positional construction (in field order) is what the decoder uses: it costs a third of keywords.
    """

    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    payload_missing: int = 0
    tunnel: tuple[str, ...] = ()
    frame: int = 0
    timestamp_ns: int = 0
    quoted: bool = False

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)
