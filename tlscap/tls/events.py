"""What a TLS (or DTLS) session reads on a connection, in capture order: one small frozen type per kind.

Every event has the frame that completed it, all the frames that carried it, and `side`: the transport's
`Side` the bytes came from, not client or server (`TlsSession.client_side` says which side is the client
once a hello shows it). A run of identical ChangeCipherSpec or alert records is one
event with `repeat` and `last_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap.side import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    frame: int
    frames: tuple[int, ...]
    side: Side


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeEvent(_Event):
    """A handshake message, or an encrypted handshake record (`encrypted`, named by its place: the first
    is the Finished). `parsed` holds the parsed message (ClientHello, ServerHello, Certificate,
    CertificateRequest) or None; `error` says why it could not be parsed; `damaged` says which of its
    bytes are missing (it is then not parsed). A DTLS `retransmission` is listed, not read again."""

    name: str
    msg_type: int | None = None
    length: int = 0
    parsed: object | None = None
    error: str | None = None
    encrypted: bool = False
    decrypted: bool = False
    damaged: str | None = None
    truncated: bool = False
    retransmission: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeCipherSpecEvent(_Event):
    length: int = 1
    repeat: int = 1
    last_frame: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent(_Event):
    """An alert; `level` and `description` are None while it is encrypted."""

    length: int
    encrypted: bool
    decrypted: bool = False
    level: int | None = None
    description: int | None = None
    repeat: int = 1
    last_frame: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationDataEvent(_Event):
    length: int
    encrypted: bool
    decrypted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DesyncEvent(_Event):
    """The bytes stopped looking like TLS (`error` says why); `truncated` when the capture cut them."""

    error: str
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LostStartEvent(_Event):
    """Bytes missing before the direction's first record: its first handshake message is lost."""

    error: str
    truncated: bool = False


TlsEvent = HandshakeEvent | ChangeCipherSpecEvent | AlertEvent | ApplicationDataEvent | DesyncEvent | LostStartEvent
