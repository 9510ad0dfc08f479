"""Sans-IO TLS connection: both directions' bytes in, a timeline of TLS events out.

It follows the handshake far enough to know what is readable: the negotiated version, when each
direction starts encrypting (ChangeCipherSpec in TLS <= 1.2; right after the ServerHello in TLS 1.3),
and so which alerts and handshake records can be read without keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap.errors import TlscapError
from tlscap.tls import constants as C
from tlscap.tls import messages as M
from tlscap.tls.handshake import HandshakeMessage, HandshakeReader
from tlscap.tls.records import (
    CONTENT_ALERT,
    CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC,
    CONTENT_HANDSHAKE,
    SSLV2_HELLO,
    Desync,
    Record,
    RecordReader,
)

TLS13 = 0x0304
# Application-data records listed per direction (the first ones tell the handshake's fate; the
# rest are only counted).
MAX_APP_DATA_EVENTS = 4


@dataclass(slots=True, kw_only=True)
class TlsEvent:
    """One thing seen on the connection, in capture order.

    kind: "handshake" (name is the message name; `parsed` holds the parsed message or None),
    "change_cipher_spec", "alert" (`level`/`description` None when encrypted), "application_data",
    "damaged" (bytes of a handshake message missing), "desync" (the stream stopped looking like TLS).
    `from_client` is None until the client side is known; the connection resolves it at the end.
    """

    kind: str
    frame: int
    frames: tuple[int, ...]
    side: bool
    name: str = ""
    encrypted: bool = False
    parsed: object | None = None
    level: int | None = None
    description: int | None = None
    length: int = 0
    msg_type: int | None = None
    damaged: str | None = None
    truncated: bool = False
    error: str | None = None


@dataclass(slots=True)
class _Direction:
    records: RecordReader = field(default_factory=RecordReader)
    handshake: HandshakeReader = field(default_factory=HandshakeReader)
    encrypted: bool = False
    ccs_seen: bool = False
    encrypted_handshakes: int = 0
    app_data_records: int = 0
    app_data_bytes: int = 0


class TlsSession:
    """Both directions of one TCP connection, read as TLS. Sides are the caller's booleans."""

    def __init__(self) -> None:
        self.directions: dict[bool, _Direction] = {True: _Direction(), False: _Direction()}
        self.events: list[TlsEvent] = []
        self.client_side: bool | None = None
        self.version: int | None = None
        self.cipher_suite: int | None = None
        self.sni: str | None = None
        self.hello_retry = False

    @property
    def is_tls(self) -> bool:
        return any(d.records.records_seen for d in self.directions.values())

    def feed(self, side: bool, data: bytes, carrier: int, now: int, *, chunk_start: bool = True) -> None:
        for ev in self.directions[side].records.feed(data, carrier, now, chunk_start=chunk_start):
            self._on_record_event(side, ev)

    def gap(self, side: bool, length: int, frame: int, *, truncated: bool) -> None:
        for ev in self.directions[side].records.gap(length, frame, truncated=truncated):
            self._on_record_event(side, ev)

    # -- records -----------------------------------------------------------------------------

    def _on_record_event(self, side: bool, ev: Record | Desync) -> None:
        if isinstance(ev, Desync):
            self.events.append(TlsEvent(kind="desync", frame=ev.frame, frames=(ev.frame,), side=side,
                                        error=ev.reason, truncated=ev.truncated))
            return
        direction = self.directions[side]
        ctype = ev.content_type
        if ctype == CONTENT_HANDSHAKE:
            self._on_handshake_record(side, direction, ev)
        elif ctype == CONTENT_CHANGE_CIPHER_SPEC:
            self.events.append(TlsEvent(kind="change_cipher_spec", frame=ev.frame, frames=ev.frames,
                                        side=side, name="ChangeCipherSpec", length=ev.length))
            direction.ccs_seen = True
            if not self._tls13():
                direction.encrypted = True
        elif ctype == CONTENT_ALERT:
            self._on_alert(side, direction, ev)
        elif ctype == CONTENT_APPLICATION_DATA:
            direction.app_data_records += 1
            direction.app_data_bytes += ev.length
            if direction.app_data_records > MAX_APP_DATA_EVENTS:
                return  # counted, not listed: memory stays bounded on long connections
            self.events.append(TlsEvent(kind="application_data", frame=ev.frame, frames=ev.frames,
                                        side=side, name="ApplicationData", length=ev.length,
                                        encrypted=True))
        elif ctype == SSLV2_HELLO:
            self._on_sslv2_hello(side, ev)

    def _tls13(self) -> bool:
        v = self.version
        return v is not None and (v == TLS13 or 0x7F00 <= v <= 0x7FFF or 0x7E00 <= v <= 0x7EFF)

    def _on_alert(self, side: bool, direction: _Direction, rec: Record) -> None:
        frag = rec.fragment or b""
        # A TLS 1.3 protected alert travels as application_data, so a 2-byte alert record is plaintext.
        encrypted = rec.length != 2 or len(frag) != 2 or (direction.encrypted and not self._tls13())
        ev = TlsEvent(kind="alert", frame=rec.frame, frames=rec.frames, side=side, name="Alert",
                      encrypted=encrypted, length=rec.length)
        if not encrypted:
            ev.level, ev.description = frag[0], frag[1]
        self.events.append(ev)

    def _on_handshake_record(self, side: bool, direction: _Direction, rec: Record) -> None:
        if direction.encrypted and not self._tls13():
            direction.encrypted_handshakes += 1
            name = "Finished" if direction.encrypted_handshakes == 1 else "EncryptedHandshakeMessage"
            self.events.append(TlsEvent(kind="handshake", frame=rec.frame, frames=rec.frames, side=side,
                                        name=name, encrypted=True, length=rec.length))
            return
        for msg in direction.handshake.feed(rec):
            self._on_message(side, msg)

    def _on_sslv2_hello(self, side: bool, rec: Record) -> None:
        body = rec.fragment or b""
        if body[:1] == b"\x04":  # SSL 2.0 ServerHello: the server agreed to speak SSL 2.0
            if self.client_side is None:
                self.client_side = not side
            self.version = int.from_bytes(body[3:5], "big") if len(body) >= 5 else 0x0002
            self.events.append(TlsEvent(kind="handshake", frame=rec.frame, frames=rec.frames, side=side,
                                        name="ServerHello", msg_type=4, length=rec.length))
            return
        parsed: object | None = None
        error = None
        try:
            parsed = M.parse_sslv2_client_hello(body)
        except TlscapError as exc:
            error = str(exc)
        if self.client_side is None:
            self.client_side = side
        if isinstance(parsed, M.ClientHello) and self.sni is None:
            self.sni = parsed.sni
        self.events.append(TlsEvent(kind="handshake", frame=rec.frame, frames=rec.frames, side=side,
                                    name="ClientHello", parsed=parsed, msg_type=1, error=error,
                                    length=rec.length))

    # -- handshake messages --------------------------------------------------------------------

    def _on_message(self, side: bool, msg: HandshakeMessage) -> None:
        name = C.handshake_name(msg.msg_type)
        ev = TlsEvent(kind="handshake", frame=msg.frame, frames=msg.frames, side=side, name=name,
                      msg_type=msg.msg_type, damaged=msg.damaged, truncated=msg.truncated,
                      length=msg.declared_length)
        self.events.append(ev)
        if msg.damaged is not None:
            return
        try:
            ev.parsed = self._parse(side, msg)
        except TlscapError as exc:
            ev.error = str(exc)
        if isinstance(ev.parsed, M.ServerHello) and ev.parsed.is_hello_retry_request:
            ev.name = "HelloRetryRequest"

    def _parse(self, side: bool, msg: HandshakeMessage) -> object | None:
        t = msg.msg_type
        tls13 = self._tls13()
        if t == 1:
            hello = M.parse_client_hello(msg.body)
            if self.client_side is None:
                self.client_side = side
            if self.sni is None:
                self.sni = hello.sni
            return hello
        if t == 2:
            sh = M.parse_server_hello(msg.body)
            if self.client_side is None:
                self.client_side = not side
            if sh.is_hello_retry_request:
                self.hello_retry = True
                self.version = sh.version
                return sh
            self.version = sh.version
            self.cipher_suite = sh.cipher_suite
            if self._tls13():
                # Everything after the ServerHello is protected, except (middlebox) ChangeCipherSpec.
                self.directions[side].encrypted = True
                self.directions[not side].encrypted = True
            return sh
        if t == 11:
            return M.parse_certificate(msg.body, tls13=tls13)
        if t == 13:
            return M.parse_certificate_request(msg.body, version=self.version or msg.record_version)
        return None
