"""OpenVPN over TCP: unwraps the TLS handshake that OpenVPN carries in its control channel.

OpenVPN authenticates both peers with certificates, so its TLS handshake is a mutual-TLS handshake
like any other; it travels inside P_CONTROL_V1 packets, each prefixed by a 2-byte length on TCP and
numbered by a message packet-id (retransmissions repeat the id). Layout of a control packet:
opcode/key-id (1), session id (8), [tls-auth: HMAC, packet-id (4), time (4)], ack count (1), acked
ids (4 each), [remote session id (8) when acks], message packet-id (4, not in P_ACK_V1), payload.
The HMAC size is found from the client's first packet (P_CONTROL_HARD_RESET_CLIENT_V2/V3).
Sans-IO: bytes in, (TLS bytes, carrying frame) out, in packet-id order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap import limits

P_CONTROL_HARD_RESET_CLIENT_V1 = 1
P_CONTROL_SOFT_RESET_V1 = 3
P_CONTROL_V1 = 4
P_ACK_V1 = 5
P_DATA_V1 = 6
P_CONTROL_HARD_RESET_CLIENT_V2 = 7
P_DATA_V2 = 9
P_CONTROL_HARD_RESET_CLIENT_V3 = 10
_CLIENT_RESETS = (P_CONTROL_HARD_RESET_CLIENT_V1, P_CONTROL_HARD_RESET_CLIENT_V2, P_CONTROL_HARD_RESET_CLIENT_V3)
_DATA = (P_DATA_V1, P_DATA_V2)
# tls-auth HMAC sizes: none, MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512.
_HMAC_SIZES = (0, 16, 20, 28, 32, 48, 64)
# Payloads a client hard reset may carry: none, or OpenVPN 2.6's early-negotiation TLV.
_RESET_PAYLOADS = (0, 6)
# OpenVPN's classic control-channel fragment size; Wireshark reassembles on it.
FRAGMENT_SIZE = 100


def looks_like_openvpn_tcp(data: bytes) -> bool:
    """The first bytes of a client's stream: a short length-prefixed client hard reset."""
    if len(data) < 3:
        return False
    length = int.from_bytes(data[:2], "big")
    return 14 <= length <= 200 and data[2] >> 3 in _CLIENT_RESETS and data[2] & 7 == 0


def hmac_size_of_reset(packet: bytes) -> int | None:
    """The tls-auth HMAC size that makes a client hard reset parse, or None."""
    for size in _HMAC_SIZES:
        off = 1 + 8 + (size + 8 if size else 0)
        if off + 5 > len(packet):
            continue
        if packet[off] == 0 and packet[off + 1 : off + 5] == b"\0\0\0\0" and len(packet) - off - 5 in _RESET_PAYLOADS:
            return size
    return None


@dataclass(slots=True)
class OpenVpnChannel:
    """What both directions share: the tls-auth HMAC size, once known."""

    hmac_size: int | None = None
    broken: str | None = None


@dataclass(slots=True)
class OpenVpnReader:
    """One direction of an OpenVPN-over-TCP stream."""

    channel: OpenVpnChannel
    _buf: bytearray = field(default_factory=bytearray)
    _carriers: list[int] = field(default_factory=list)
    _next_id: int | None = None
    _pending: dict[int, tuple[bytes, int]] = field(default_factory=dict)
    _message: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes, carrier: int) -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        if self.channel.broken:
            return out
        self._buf += data
        self._carriers.append(carrier)
        while len(self._buf) >= 2:
            length = int.from_bytes(self._buf[:2], "big")
            if length == 0 or length > limits.MAX_OPENVPN_PACKET:
                self.channel.broken = f"bad OpenVPN packet length {length}"
                return out
            if len(self._buf) < 2 + length:
                break
            packet = bytes(self._buf[2 : 2 + length])
            del self._buf[: 2 + length]
            self._packet(packet, self._carriers[-1], out)
            self._carriers = [self._carriers[-1]] if self._buf else []
        return out

    def _packet(self, packet: bytes, carrier: int, out: list[tuple[bytes, int]]) -> None:
        opcode = packet[0] >> 3
        if opcode in _DATA:
            return
        channel = self.channel
        if channel.hmac_size is None:
            if opcode not in _CLIENT_RESETS:
                return
            channel.hmac_size = hmac_size_of_reset(packet)
            if channel.hmac_size is None:
                channel.broken = "cannot tell the tls-auth HMAC size (tls-crypt?)"
                return
        off = 1 + 8 + (channel.hmac_size + 8 if channel.hmac_size else 0)
        if off >= len(packet):
            return
        acks = packet[off]
        off += 1 + 4 * acks + (8 if acks else 0)
        if opcode == P_ACK_V1 or off + 4 > len(packet):
            return
        message_id = int.from_bytes(packet[off : off + 4], "big")
        payload = packet[off + 4 :]
        if self._next_id is None:
            self._next_id = message_id
        if message_id < self._next_id or message_id in self._pending:
            return  # a retransmission
        if message_id != self._next_id and len(self._pending) >= limits.MAX_OPENVPN_PENDING:
            return  # too far ahead to hold; the packet expected next is always taken
        self._pending[message_id] = (payload if opcode in (P_CONTROL_V1, P_CONTROL_SOFT_RESET_V1) else b"", carrier)
        while self._next_id in self._pending:
            data, frame = self._pending.pop(self._next_id)
            self._next_id += 1
            if not data:
                continue
            # As Wireshark does, a payload of exactly FRAGMENT_SIZE bytes is taken for a fragment of
            # a longer message, which is handed on when its last (shorter) fragment arrives.
            self._message += data
            if len(data) != FRAGMENT_SIZE or len(self._message) > limits.MAX_OPENVPN_MESSAGE:
                out.append((bytes(self._message), frame))
                self._message.clear()
