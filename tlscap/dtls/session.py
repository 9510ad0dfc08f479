"""Sans-IO DTLS connection: both directions' datagrams in, the same timeline of TLS events out.

The events are `tls.events`' types (a handshake event says whether it is a retransmitted copy), and the
messages are read by the TLS parsers (`tls.messages`), so the rules and the diagnosis read a DTLS
connection as they read a TLS one. What differs is below the messages: records come whole in datagrams,
with an epoch (0: plaintext; any other, and every DTLS 1.3 unified header: protected), and handshake
messages come in fragments that `reassembly` puts together.

Given a key log with the connection's secrets, protected records are opened (`protection`) and read as
plaintext ones are: the Finished messages, alerts, application data, and in DTLS 1.3 the handshake after
the ServerHello (CertificateRequest, Certificates). A record that cannot be opened stays opaque, as
without keys; the first failure is kept as the connection's key problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap import limits
from tlscap.dtls.protection import DecryptError, DtlsProtection, find_protection
from tlscap.dtls.reassembly import HandshakeReassembler, Incomplete, Malformed, Message, Retransmission
from tlscap.dtls.records import (
    DtlsRecord,
    split_datagram,
)
from tlscap.errors import TlscapError
from tlscap.side import Side
from tlscap.tls import constants as C
from tlscap.tls import messages as M
from tlscap.tls.constants import ContentType, HandshakeType, ProtocolVersion
from tlscap.tls.events import (
    AlertEvent,
    ApplicationDataEvent,
    ChangeCipherSpecEvent,
    DesyncEvent,
    HandshakeEvent,
    TlsEvent,
)
from tlscap.tls.keylog import KeyLog
from tlscap.tls.session import ALERT_LENGTH

EXTENSION_CONNECTION_ID = 54  # RFC 9146 / RFC 9147: the connection ID the sender wants to receive
# Records whose content is opaque application data (tls12_cid: its real type is inside the protection).
_OPAQUE_TYPES = (ContentType.APPLICATION_DATA, ContentType.TLS12_CID)
# A ServerHello's type, or HELLO_RETRY_REQUEST once it showed itself one.
_SERVER_HELLOS = (HandshakeType.SERVER_HELLO, HandshakeType.HELLO_RETRY_REQUEST)


@dataclass(slots=True)
class _Direction:
    handshake: HandshakeReassembler = field(default_factory=HandshakeReassembler)
    protected_handshakes: dict[int, int] = field(default_factory=dict)  # epoch -> length of its first record
    cid_length: int | None = None  # the connection ID this side asked to receive
    app_data_records: int = 0
    acks: int = 0  # DTLS 1.3 ACK records opened (RFC 9147 §7): counted, not listed
    # Read by the report builder as for TLS (the head of the decrypted application data).
    app_plaintext: bytearray = field(default_factory=bytearray)
    app_plaintext_frame: int = 0


class DtlsSession:
    """Both directions of one UDP flow, read as DTLS. Sides are the transport's (`Side`). `keylog` (it may
    still grow while the capture is read: secrets in a pcapng's blocks) is looked up at the ServerHello."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.keylog = keylog
        self.protection: DtlsProtection | None = None
        self.key_problem: str | None = None  # why protected records could not be opened, once
        self.key_problem_frame: int | None = None
        self.directions: dict[Side, _Direction] = {Side.FIRST: _Direction(), Side.SECOND: _Direction()}
        self.events: list[TlsEvent] = []
        self._new_event_frames: list[int] = []  # see take_new_event_frames
        self.events_dropped = 0
        self.client_side: Side | None = None
        self.version: int | None = None
        self.cipher_suite: int | None = None
        self.sni: str | None = None
        self.hello_retry = False
        self.tls_seen = False
        self.client_random: bytes | None = None
        self.latest_client_random: bytes | None = None  # the ClientHello the ServerHello answers
        self.capwap = False
        self.datagrams_unread = 0  # datagrams of the flow that held no DTLS record (STUN, RTP, ...)

    @property
    def is_tls(self) -> bool:
        return self.tls_seen

    @property
    def decrypted(self) -> bool:
        return self.protection is not None and self.protection.records_opened > 0

    def feed_datagram(self, side: Side, payload: bytes, frame: int) -> None:
        """One datagram's payload from `side`."""
        # Records to `side`'s peer carry the connection ID the peer asked for.
        datagram = split_datagram(payload, cid_length=self.directions[side.other].cid_length)
        if not datagram.records:
            self.datagrams_unread += 1
            return
        self.tls_seen = True
        self.capwap = self.capwap or datagram.capwap
        for record in datagram.records:
            self._on_record(side, record, frame)
        if datagram.stopped is not None and self.client_side is not None and not self._finished(side):
            self._event(DesyncEvent(frame=frame, frames=(frame,), side=side, error=datagram.stopped))

    def _finished(self, side: Side) -> bool:
        return any(isinstance(ev, HandshakeEvent) and ev.side == side and ev.msg_type == HandshakeType.FINISHED
                   for ev in self.events)

    def finish(self) -> None:
        """The capture ended: messages still missing fragments become damaged handshake events."""
        for side, direction in self.directions.items():
            for gap in direction.handshake.finish():
                self._incomplete(side, gap)

    # -- records -----------------------------------------------------------------------------------

    def _event(self, event: TlsEvent) -> None:
        if len(self.events) < limits.MAX_EVENTS_PER_CONNECTION:
            self.events.append(event)
            self._new_event_frames.append(event.frame)
        else:
            self.events_dropped += 1

    def take_new_event_frames(self) -> list[int]:
        """The frames of the events kept since the last call, for the caller to note their times."""
        frames, self._new_event_frames = self._new_event_frames, []
        return frames

    def _open(self, side: Side, record: DtlsRecord, frame: int) -> DtlsRecord:
        """The record opened with the key log's keys for its epoch, or as it came."""
        if self.protection is None or not record.protected:
            return record
        try:
            return self.protection.open(side, record) or record
        except DecryptError as exc:
            if self.key_problem is None:
                self.key_problem, self.key_problem_frame = f"record in frame {frame}: {exc}", frame
            return record

    def _on_record(self, side: Side, record: DtlsRecord, frame: int) -> None:
        direction = self.directions[side]
        record = self._open(side, record, frame)
        ctype = record.content_type
        if ctype == ContentType.HANDSHAKE and not record.protected:
            for event in direction.handshake.feed(record.fragment, frame):
                self._on_handshake_event(side, event, record)
        elif ctype == ContentType.HANDSHAKE:
            self._protected_handshake(side, direction, record, frame)
        elif ctype == ContentType.CHANGE_CIPHER_SPEC:
            self._event(ChangeCipherSpecEvent(frame=frame, frames=(frame,), side=side, length=record.length))
        elif ctype == ContentType.ALERT:
            plain = not record.protected and record.length == ALERT_LENGTH
            self._event(AlertEvent(frame=frame, frames=(frame,), side=side, encrypted=not plain, length=record.length,
                                   decrypted=record.decrypted, level=record.fragment[0] if plain else None,
                                   description=record.fragment[1] if plain else None))
        elif ctype == ContentType.ACK and record.decrypted:
            direction.acks += 1
        elif ctype in _OPAQUE_TYPES or (record.unified and not record.decrypted):
            # Application data, or a protected record whose type is hidden (DTLS 1.3, connection IDs).
            direction.app_data_records += 1
            if record.decrypted and len(direction.app_plaintext) < limits.MAX_APP_PLAINTEXT:
                if not direction.app_plaintext:
                    direction.app_plaintext_frame = frame
                direction.app_plaintext += record.fragment[: limits.MAX_APP_PLAINTEXT - len(direction.app_plaintext)]
            if direction.app_data_records <= limits.MAX_APP_DATA_EVENTS:
                self._event(ApplicationDataEvent(frame=frame, frames=(frame,), side=side, length=record.length,
                                                 encrypted=record.protected, decrypted=record.decrypted))

    def _protected_handshake(self, side: Side, direction: _Direction, record: DtlsRecord, frame: int) -> None:
        """DTLS <= 1.2 after ChangeCipherSpec: the first handshake record of an epoch is its Finished
        (RFC 6347 puts it first); the same length again in that epoch is a retransmitted Finished."""
        first = direction.protected_handshakes.get(record.epoch)
        msg_type: int | None = HandshakeType.FINISHED
        if first is None:
            direction.protected_handshakes[record.epoch] = record.length
            again = False
        elif first == record.length:
            again = True
        else:
            msg_type, again = None, False
        name = "EncryptedHandshakeMessage" if msg_type is None else C.handshake_name(msg_type)
        self._event(HandshakeEvent(frame=frame, frames=(frame,), side=side, name=name, msg_type=msg_type,
                                   encrypted=True, length=record.length, retransmission=again))

    # -- handshake messages ------------------------------------------------------------------------

    def _on_handshake_event(self, side: Side, event: object, record: DtlsRecord) -> None:
        if isinstance(event, Message):
            self._on_message(side, event, record)
        elif isinstance(event, Retransmission):
            name, msg_type = self._kind(event.msg_type, side)
            self._event(HandshakeEvent(frame=event.frame, frames=(event.frame,), side=side, name=name,
                                       msg_type=msg_type, retransmission=True))
        elif isinstance(event, Incomplete):
            self._incomplete(side, event)
        elif isinstance(event, Malformed):
            self._event(DesyncEvent(frame=event.frame, frames=(event.frame,), side=side, error=event.detail))

    def _kind(self, msg_type: int, side: Side) -> tuple[str, int]:
        """A retransmitted message's name and type; a ServerHello keeps those its original got (a
        HelloRetryRequest's)."""
        if msg_type == HandshakeType.SERVER_HELLO:
            original = next((ev for ev in self.events if isinstance(ev, HandshakeEvent) and ev.side == side
                             and ev.msg_type in _SERVER_HELLOS and not ev.retransmission), None)
            if original is not None and original.msg_type is not None:
                return original.name, original.msg_type
        return C.handshake_name(msg_type), msg_type

    def _incomplete(self, side: Side, gap: Incomplete) -> None:
        self._event(HandshakeEvent(frame=gap.frame, frames=gap.frames, side=side, name=C.handshake_name(gap.msg_type),
                                   msg_type=gap.msg_type, damaged=gap.detail, length=gap.length))

    def _on_message(self, side: Side, msg: Message, record: DtlsRecord) -> None:
        msg_type = msg.msg_type
        parsed: object | None = None
        error = None
        try:
            parsed = self._parse(side, msg, record)
        except TlscapError as exc:
            error = str(exc)
        if isinstance(parsed, M.ServerHello) and parsed.is_hello_retry_request:
            msg_type = HandshakeType.HELLO_RETRY_REQUEST
        self._event(HandshakeEvent(frame=msg.frame, frames=msg.frames, side=side, name=C.handshake_name(msg_type),
                                   msg_type=msg_type, length=len(msg.body), decrypted=record.decrypted, parsed=parsed,
                                   error=error))

    def _parse(self, side: Side, msg: Message, record: DtlsRecord) -> object | None:
        t = msg.msg_type
        if t == HandshakeType.CLIENT_HELLO:
            hello = M.parse_client_hello(msg.body, dtls=True)
            if self.client_side is None:
                self.client_side = side
            if self.sni is None:
                self.sni = hello.sni
            if self.client_random is None:
                self.client_random = hello.random
            self.latest_client_random = hello.random
            self.directions[side].cid_length = _cid_length(hello.extensions)
            return hello
        if t == HandshakeType.SERVER_HELLO:
            sh = M.parse_server_hello(msg.body)
            if self.client_side is None:
                self.client_side = side.other
            self.version = sh.version
            if sh.is_hello_retry_request:
                self.hello_retry = True
                return sh
            self.cipher_suite = sh.cipher_suite
            self.directions[side].cid_length = _cid_length(sh.extensions)
            if self.protection is None:
                self._find_keys(side.other, sh)
            return sh
        if t == HandshakeType.HELLO_VERIFY_REQUEST and self.client_side is None:
            self.client_side = side.other
        if t == HandshakeType.CERTIFICATE:
            return M.parse_certificate(msg.body, tls13=self._dtls13())
        if t == HandshakeType.CERTIFICATE_REQUEST:
            version = self.version or record.version or ProtocolVersion.DTLS1_2
            return M.parse_certificate_request(msg.body, version=version)
        return None

    def _find_keys(self, client_side: Side, sh: M.ServerHello) -> None:
        protection, problem = find_protection(
            self.keylog, client_random=self.latest_client_random, server_random=sh.random, client_side=client_side,
            version=sh.version, cipher_suite=sh.cipher_suite, server_extensions=[e.type for e in sh.extensions])
        self.protection = protection
        if problem is not None and self.key_problem is None:
            self.key_problem = problem

    def _dtls13(self) -> bool:
        return self.version is not None and C.is_tls13(self.version)


def _cid_length(extensions: list[M.Extension]) -> int | None:
    """The connection ID length an extension asks for (its first byte is the ID's length)."""
    for ext in extensions:
        if ext.type == EXTENSION_CONNECTION_ID and ext.data:
            return ext.data[0]
    return None
