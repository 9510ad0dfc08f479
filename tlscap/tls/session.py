"""Sans-IO TLS connection: both directions' bytes in, a timeline of TLS events out.

It follows the handshake far enough to know what is readable: the negotiated version, when each
direction starts encrypting (ChangeCipherSpec in TLS <= 1.2; right after the ServerHello in TLS 1.3),
and so which alerts and handshake records can be read without keys. Given a key log with this
connection's secrets, it opens the protected records (see `protection`) and reads them like plaintext:
the TLS 1.3 CertificateRequest and client Certificate, alerts, a renegotiation, the HTTP behind them.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field, replace

from tlscap import limits
from tlscap.errors import TlscapError
from tlscap.side import Side
from tlscap.tls import constants as C
from tlscap.tls import messages as M
from tlscap.tls.constants import ContentType, HandshakeType
from tlscap.tls.decrypt import DecryptError, Tls12Decryptor, Tls13Decryptor
from tlscap.tls.events import (
    AlertEvent,
    ApplicationDataEvent,
    ChangeCipherSpecEvent,
    DesyncEvent,
    HandshakeEvent,
    LostStartEvent,
    TlsEvent,
)
from tlscap.tls.handshake import HandshakeMessage, HandshakeReader
from tlscap.tls.keylog import KeyLog
from tlscap.tls.protection import ConnectionProtection, find_protection
from tlscap.tls.records import SSLV2_HELLO, Desync, Record, RecordReader

# The content types every record is dispatched on, as plain ints bound once (reading an enum member
# costs several times more than a global).
_HANDSHAKE = int(ContentType.HANDSHAKE)
_CHANGE_CIPHER_SPEC = int(ContentType.CHANGE_CIPHER_SPEC)
_ALERT = int(ContentType.ALERT)
_APPLICATION_DATA = int(ContentType.APPLICATION_DATA)
ALERT_LENGTH = 2  # level and description: a longer alert record is encrypted
SSL2_MT_SERVER_HELLO = 4  # the message type of an SSL 2.0 ServerHello (SSL 2.0's own numbering)

@dataclass(slots=True)
class _Direction:
    records: RecordReader = field(default_factory=RecordReader)
    handshake: HandshakeReader = field(default_factory=HandshakeReader)
    encrypted: bool = False
    ccs_seen: bool = False
    encrypted_handshakes: int = 0
    app_data_records: int = 0
    app_data_bytes: int = 0
    app_plaintext: bytearray = field(default_factory=bytearray)
    app_plaintext_frame: int = 0


class _Directions(dict[Side, _Direction]):
    """The two directions' readers, each made when its side first carries bytes (or a gap): most of the
    connections open at once in a large capture are a SYN, or a SYN and one segment, and 16,384 of them
    may be open. `.get(side)` and `.values()` see only the directions made so far; `[side]` makes one.
    `keep_application_data` is what a direction made from now on starts with."""

    __slots__ = ("keep_application_data",)

    def __init__(self) -> None:
        super().__init__()
        self.keep_application_data = False

    def __missing__(self, side: Side) -> _Direction:
        direction = self[side] = _Direction(records=RecordReader(keep_application_data=self.keep_application_data))
        return direction


class TlsSession:
    """Both directions of one TCP connection, read as TLS. Sides are the transport's (`Side`)."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.directions = _Directions()
        self.events: list[TlsEvent] = []
        self._new_event_frames: list[int] | None = None  # see take_new_event_frames
        self.client_side: Side | None = None
        self.version: int | None = None
        self.cipher_suite: int | None = None
        self.sni: str | None = None
        self.hello_retry = False
        self.tls_seen = False  # a record (or an SSLv2 hello) was read in either direction
        self.events_dropped = 0  # events past limits.MAX_EVENTS_PER_CONNECTION
        self.keylog = keylog
        self.client_random: bytes | None = None
        self.latest_client_random: bytes | None = None  # a renegotiation's ClientHello
        self.protection: ConnectionProtection | None = None
        self.key_problem: str | None = None  # why records could not be decrypted, once
        self.key_problem_frame: int | None = None
        if keylog is not None and len(keylog):
            # Keep application-data bodies until the ServerHello tells whether this connection has keys.
            self.directions.keep_application_data = True

    @property
    def decrypted(self) -> bool:
        return self.protection is not None and self.protection.records_opened > 0

    @property
    def is_tls(self) -> bool:
        return self.tls_seen

    def feed(self, side: Side, data: bytes, carrier: int, now_frame: int, *, chunk_start: bool = True) -> None:
        for ev in self.directions[side].records.feed(data, carrier, now_frame, chunk_start=chunk_start):
            self._on_record_event(side, ev)

    def skip_application_data(self, side: Side, length: int, carrier: int) -> bool:
        """`feed` for bytes that only continue a skipped application-data record (no event can come of
        them); False, taking nothing, when they may do more. See `RecordReader.skip_body`."""
        return self.directions[side].records.skip_body(length, carrier)

    def gap(self, side: Side, length: int, frame: int, *, truncated: bool) -> None:
        for ev in self.directions[side].records.gap(length, frame, truncated=truncated):
            self._on_record_event(side, ev)

    # -- records -----------------------------------------------------------------------------

    def _event(self, event: TlsEvent) -> None:
        """Keep an event, up to limits.MAX_EVENTS_PER_CONNECTION (then count the rest). A ChangeCipherSpec or
        alert identical to the one just before it (same side, length, level, description) is counted on it.
        Events stay in frame order: bytes held behind a hole until the direction ends come after the other
        side's later events, and are put back among them (after those of the same frame)."""
        last = self.events[-1] if self.events else None
        if last is not None and event.frame >= last.frame and _repeats(last, event):
            assert isinstance(last, (ChangeCipherSpecEvent, AlertEvent))
            self.events[-1] = replace(last, repeat=last.repeat + 1, last_frame=event.frame)
            return
        if len(self.events) >= limits.MAX_EVENTS_PER_CONNECTION:
            self.events_dropped += 1
            return
        if last is not None and event.frame < last.frame:
            insort(self.events, event, key=lambda e: e.frame)
        else:
            self.events.append(event)
        if self._new_event_frames is None:
            self._new_event_frames = [event.frame]
        else:
            self._new_event_frames.append(event.frame)

    def take_new_event_frames(self) -> list[int]:
        """The frames of the events kept since the last call (a repeat counted on the event before it is not
        new), for the caller to note their times."""
        frames, self._new_event_frames = self._new_event_frames or [], None
        return frames

    def _on_record_event(self, side: Side, ev: Record | Desync) -> None:
        if isinstance(ev, Desync):
            kind = LostStartEvent if ev.at_start else DesyncEvent
            self._event(kind(frame=ev.frame, frames=(ev.frame,), side=side, error=ev.reason, truncated=ev.truncated))
            return
        self.tls_seen = True
        direction = self.directions[side]
        protection = self.protection.directions.get(side) if self.protection else None
        if protection is not None and protection.active is not None and ev.content_type != _CHANGE_CIPHER_SPEC:
            opened = self._open(side, protection.active, ev)
            if opened is None:
                protection.active = None
            else:
                ev = opened
        ctype = ev.content_type
        if ctype == _HANDSHAKE:
            self._on_handshake_record(side, direction, ev)
        elif ctype == _CHANGE_CIPHER_SPEC:
            self._event(ChangeCipherSpecEvent(frame=ev.frame, frames=ev.frames, side=side, length=ev.length))
            direction.ccs_seen = True
            if not self._tls13():
                direction.encrypted = True
                if protection is not None and protection.after_ccs is not None:
                    protection.active, protection.after_ccs = protection.after_ccs, None
        elif ctype == _ALERT:
            self._on_alert(side, direction, ev)
        elif ctype == _APPLICATION_DATA:
            direction.app_data_records += 1
            direction.app_data_bytes += ev.length
            if ev.decrypted and ev.fragment and len(direction.app_plaintext) < limits.MAX_APP_PLAINTEXT:
                if not direction.app_plaintext:
                    direction.app_plaintext_frame = ev.frame
                direction.app_plaintext += ev.fragment[: limits.MAX_APP_PLAINTEXT - len(direction.app_plaintext)]
            if direction.app_data_records > limits.MAX_APP_DATA_EVENTS:
                return  # counted, not listed: memory stays bounded on long connections
            self._event(ApplicationDataEvent(frame=ev.frame, frames=ev.frames, side=side, length=ev.length,
                                             encrypted=not ev.decrypted, decrypted=ev.decrypted))
        elif ctype == SSLV2_HELLO:
            self._on_sslv2_hello(side, ev)

    def _open(self, side: Side, cipher: Tls13Decryptor | Tls12Decryptor, rec: Record) -> Record | None:
        """The record decrypted (a plaintext Record marked `decrypted`), or None when it cannot be."""
        if rec.damaged is not None or rec.fragment is None:
            return None
        tls13 = isinstance(cipher, Tls13Decryptor)
        if tls13 and rec.content_type != ContentType.APPLICATION_DATA:
            return rec  # a plaintext record among protected ones (an alert before the keys took effect)
        try:
            if isinstance(cipher, Tls13Decryptor):
                header = bytes([rec.content_type]) + rec.version.to_bytes(2, "big") + rec.length.to_bytes(2, "big")
                inner = cipher.decrypt(header, rec.fragment)
                content_type, data = inner.content_type, inner.data
            else:
                content_type, data = rec.content_type, cipher.decrypt(rec.content_type, rec.version, rec.fragment)
        except DecryptError as exc:
            if self.key_problem is None:
                self.key_problem, self.key_problem_frame = f"record in frame {rec.frame}: {exc}", rec.frame
            return None
        assert self.protection is not None
        self.protection.records_opened += 1
        return Record(content_type=content_type, version=rec.version, length=len(data), fragment=data,
                      frame=rec.frame, frames=rec.frames, decrypted=True)

    def _tls13(self) -> bool:
        v = self.version
        return v is not None and C.is_tls13(v)

    def _on_alert(self, side: Side, direction: _Direction, rec: Record) -> None:
        frag = rec.fragment or b""
        # A TLS 1.3 protected alert travels as application_data, so a 2-byte alert record is plaintext.
        encrypted = not rec.decrypted and (
            rec.length != ALERT_LENGTH or len(frag) != ALERT_LENGTH or (direction.encrypted and not self._tls13()))
        self._event(AlertEvent(frame=rec.frame, frames=rec.frames, side=side, encrypted=encrypted, length=rec.length,
                               decrypted=rec.decrypted, level=None if encrypted else frag[0],
                               description=None if encrypted else frag[1]))

    def _on_handshake_record(self, side: Side, direction: _Direction, rec: Record) -> None:
        if direction.encrypted and not self._tls13() and not rec.decrypted:
            direction.encrypted_handshakes += 1
            # The first handshake record after ChangeCipherSpec is the Finished; later ones are not known.
            msg_type = HandshakeType.FINISHED if direction.encrypted_handshakes == 1 else None
            name = "EncryptedHandshakeMessage" if msg_type is None else C.handshake_name(msg_type)
            self._event(HandshakeEvent(frame=rec.frame, frames=rec.frames, side=side, name=name, msg_type=msg_type,
                                       encrypted=True, length=rec.length))
            return
        for msg in direction.handshake.feed(rec):
            self._on_message(side, msg, decrypted=rec.decrypted)

    def _on_sslv2_hello(self, side: Side, rec: Record) -> None:
        body = rec.fragment or b""
        if body[:1] == bytes([SSL2_MT_SERVER_HELLO]):  # the server agreed to speak SSL 2.0
            if self.client_side is None:
                self.client_side = side.other
            self.version = int.from_bytes(body[3:5], "big") if len(body) >= 5 else 0x0002
            self._event(HandshakeEvent(frame=rec.frame, frames=rec.frames, side=side, name="ServerHello",
                                       msg_type=HandshakeType.SERVER_HELLO, length=rec.length))
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
        self._event(HandshakeEvent(frame=rec.frame, frames=rec.frames, side=side, name="ClientHello", parsed=parsed,
                                   msg_type=HandshakeType.CLIENT_HELLO, error=error, length=rec.length))

    # -- handshake messages --------------------------------------------------------------------

    def _on_message(self, side: Side, msg: HandshakeMessage, *, decrypted: bool = False) -> None:
        msg_type = msg.msg_type
        parsed: object | None = None
        error = None
        if msg.damaged is None:
            try:
                parsed = self._parse(side, msg)
            except TlscapError as exc:
                error = str(exc)
            if isinstance(parsed, M.ServerHello) and parsed.is_hello_retry_request:
                msg_type = HandshakeType.HELLO_RETRY_REQUEST
        self._event(HandshakeEvent(frame=msg.frame, frames=msg.frames, side=side, name=C.handshake_name(msg_type),
                                   msg_type=msg_type, damaged=msg.damaged, truncated=msg.truncated,
                                   length=msg.declared_length, decrypted=decrypted, parsed=parsed, error=error))
        if msg.damaged is not None:
            return
        if decrypted:
            self._after_protected_message(side, msg.msg_type)

    def _after_protected_message(self, side: Side, msg_type: int) -> None:
        """TLS 1.3 key changes: application secret after Finished, the next secret after KeyUpdate."""
        protection = self.protection.directions.get(side) if self.protection else None
        if protection is None or not isinstance(protection.active, Tls13Decryptor):
            return
        if msg_type == HandshakeType.FINISHED and protection.after_finished is not None:
            protection.active = Tls13Decryptor(protection.active.cipher_suite, protection.after_finished)
            protection.after_finished = None
        elif msg_type == HandshakeType.KEY_UPDATE:
            protection.active.update_key()

    def _parse(self, side: Side, msg: HandshakeMessage) -> object | None:
        t = msg.msg_type
        tls13 = self._tls13()
        if t == HandshakeType.CLIENT_HELLO:
            hello = M.parse_client_hello(msg.body)
            if self.client_side is None:
                self.client_side = side
            if self.sni is None:
                self.sni = hello.sni
            if self.client_random is None:
                self.client_random = hello.random
            self.latest_client_random = hello.random
            return hello
        if t == HandshakeType.SERVER_HELLO:
            sh = M.parse_server_hello(msg.body)
            if self.client_side is None:
                self.client_side = side.other
            if sh.is_hello_retry_request:
                self.hello_retry = True
                self.version = sh.version
                return sh
            renegotiation = self.version is not None and self.cipher_suite is not None
            self.version = sh.version
            self.cipher_suite = sh.cipher_suite
            if self._tls13():
                # Everything after the ServerHello is protected, except (middlebox) ChangeCipherSpec.
                self.directions[side].encrypted = True
                self.directions[side.other].encrypted = True
            if renegotiation:
                self._renegotiation_keys(client_side=side.other, server_hello=sh)
            else:
                self._find_keys(client_side=side.other, server_hello=sh)
            return sh
        if t == HandshakeType.CERTIFICATE:
            return M.parse_certificate(msg.body, tls13=tls13)
        if t == HandshakeType.CERTIFICATE_REQUEST:
            return M.parse_certificate_request(msg.body, version=self.version or msg.record_version)
        return None

    def _find_keys(self, *, client_side: Side, server_hello: M.ServerHello) -> None:
        protection, problem = find_protection(
            self.keylog, client_random=self.client_random, server_random=server_hello.random,
            client_side=client_side, version=server_hello.version, cipher_suite=server_hello.cipher_suite,
            server_extensions=[e.type for e in server_hello.extensions],
        )
        self.protection = protection
        if problem is not None and self.key_problem is None:
            self.key_problem = problem
        if protection is None:
            self.directions.keep_application_data = False
            for d in self.directions.values():
                d.records.keep_application_data = False

    def _renegotiation_keys(self, *, client_side: Side, server_hello: M.ServerHello) -> None:
        """A TLS <= 1.2 renegotiation: its keys take over at each side's next ChangeCipherSpec."""
        if self.protection is None or self.protection.tls13:
            return
        renewed, problem = find_protection(
            self.keylog, client_random=self.latest_client_random, server_random=server_hello.random,
            client_side=client_side, version=server_hello.version, cipher_suite=server_hello.cipher_suite,
            server_extensions=[e.type for e in server_hello.extensions],
        )
        if renewed is None:
            if problem and self.key_problem is None:
                self.key_problem = f"renegotiation: {problem}"
            return
        for side, direction in renewed.directions.items():
            current = self.protection.directions.get(side)
            if current is not None:
                current.after_ccs = direction.after_ccs


def _repeats(last: TlsEvent, event: TlsEvent) -> bool:
    """Whether `event` is the same ChangeCipherSpec or alert record as `last` again (same side, length, level,
    description): counted on `last` rather than kept."""
    if type(event) is not type(last) or last.side != event.side:
        return False
    if isinstance(event, ChangeCipherSpecEvent) and isinstance(last, ChangeCipherSpecEvent):
        return last.length == event.length
    if isinstance(event, AlertEvent) and isinstance(last, AlertEvent):
        return (last.length, last.level, last.description, last.encrypted) == (
            event.length, event.level, event.description, event.encrypted)
    return False
