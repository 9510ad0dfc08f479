"""Parsers for TLS handshake message bodies and plaintext alerts (sans-IO, bytes in, values out).

Each `parse_*` function takes one complete handshake message body — the bytes after the 4-byte
handshake header (TLS) or the 12-byte one (DTLS), put together by the handshake framing — and
returns a frozen dataclass. Every length field is checked against the bytes that remain; any
inconsistency (a length that overruns, bytes left over, an odd-sized list of 2-byte values)
raises `MalformedMessage` with a one-line reason, never IndexError or struct.error.

Where a field is only a convenience view of an extension (ClientHello.sni, .alpn, ...), a
malformed extension leaves that view empty instead of failing the whole message: the raw
extension is still in `extensions`, and a server that rejects it will say so with an alert.
Where the extensions *are* the message's content (TLS 1.3 CertificateRequest), they are strict.

Lists a peer controls are capped (`limits.MAX_CHAIN_CERTIFICATES`, `limits.MAX_CA_NAMES`): the first
ones are kept in the order sent, the rest are still checked for well-formed lengths and only counted
(`CertificateMessage.omitted`, `CertificateRequest.ca_names_omitted`).

Layouts: RFC 5246 (TLS 1.2), RFC 8446 (TLS 1.3), RFC 6347/9147 (DTLS), RFC 5246 appendix E.2
(SSL 2.0 compatible ClientHello), and the TLS 1.3 drafts seen in real captures.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from tlscap import limits
from tlscap.errors import TlscapError
from tlscap.tls.constants import (
    ExtensionType,
    alert_level_name,
    alert_name,
    has_signature_algorithms,
    is_tls13,
    tls13_draft,
)

__all__ = [
    "HELLO_RETRY_REQUEST_RANDOM",
    "Alert",
    "CertificateMessage",
    "CertificateRequest",
    "ClientHello",
    "EncryptedExtensions",
    "Extension",
    "HelloVerifyRequest",
    "KeyUpdate",
    "MalformedMessage",
    "NewSessionTicket",
    "ServerHello",
    "is_sslv2_client_hello",
    "parse_alert",
    "parse_certificate",
    "parse_certificate_request",
    "parse_client_hello",
    "parse_encrypted_extensions",
    "parse_hello_verify_request",
    "parse_key_update",
    "parse_new_session_ticket",
    "parse_server_hello",
    "parse_sslv2_client_hello",
    "sslv2_record_length",
]


class MalformedMessage(TlscapError):
    """A handshake message or alert whose lengths do not add up; the message says where."""


# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
HELLO_RETRY_REQUEST_RANDOM: bytes = hashlib.sha256(b"HelloRetryRequest").digest()

# RFC 8446 §4.1.3: the last 8 bytes of a TLS 1.3 server's random when it negotiates an older version.
_DOWNGRADE_TLS12 = b"DOWNGRD\x01"
_DOWNGRADE_TLS11 = b"DOWNGRD\x00"


class Extension(NamedTuple):
    """One extension as sent: its type and its undecoded data. It is a (type, data) tuple."""

    type: int
    data: bytes


# --------------------------------------------------------------------------------------------
# Reading
#
# The hot paths (every hello of a capture) read with one call per field: bounds checks inline,
# 2-byte values through a precompiled struct, and error texts formatted only when raised.

_unpack_u16 = struct.Struct(">H").unpack_from
_unpack_u16_pair = struct.Struct(">HH").unpack_from
_new_tuple = tuple.__new__  # builds an Extension without NamedTuple's Python-level __new__


class _Reader:
    """A cursor over one message body whose every read checks what remains."""

    __slots__ = ("_data", "_pos", "_end", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data if type(data) is bytes else bytes(data)
        self._pos = 0
        self._end = len(self._data)
        self._what = what

    @property
    def what(self) -> str:
        return self._what

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def fail(self, reason: str) -> MalformedMessage:
        return MalformedMessage(f"{self._what}: {reason}")

    def _short(self, n: int, field_name: str) -> MalformedMessage:
        return self.fail(f"{field_name} needs {n} bytes, only {self._end - self._pos} left")

    def take(self, n: int, field_name: str) -> bytes:
        pos = self._pos
        stop = pos + n
        if stop > self._end:
            raise self._short(n, field_name)
        self._pos = stop
        return self._data[pos:stop]

    def uint(self, size: int, field_name: str) -> int:
        return int.from_bytes(self.take(size, field_name), "big")

    def u8(self, field_name: str) -> int:
        pos = self._pos
        if pos >= self._end:
            raise self._short(1, field_name)
        self._pos = pos + 1
        return self._data[pos]

    def u16(self, field_name: str) -> int:
        pos = self._pos
        if pos + 2 > self._end:
            raise self._short(2, field_name)
        self._pos = pos + 2
        value: int = _unpack_u16(self._data, pos)[0]
        return value

    def u32(self, field_name: str) -> int:
        return self.uint(4, field_name)

    def vector(self, length_size: int, field_name: str) -> bytes:
        """An opaque<..2^(8*length_size)-1>: its length prefix, then that many bytes."""
        data, pos, end = self._data, self._pos, self._end
        start = pos + length_size
        if start > end:
            raise self.fail(f"{field_name} length needs {length_size} bytes, only {end - pos} left")
        if length_size == 1:
            length = data[pos]
        elif length_size == 2:
            length = _unpack_u16(data, pos)[0]
        else:
            length = int.from_bytes(data[pos:start], "big")
        stop = start + length
        if stop > end:
            raise self.fail(f"{field_name} length {length} exceeds the {end - start} bytes left")
        self._pos = stop
        return data[start:stop]

    def end(self) -> None:
        if self._pos != self._end:
            raise self.fail(f"{self._end - self._pos} unexpected bytes after the last field")


def _u16_list(data: bytes, field_name: str, what: str) -> list[int]:
    count, odd = divmod(len(data), 2)
    if odd:
        raise MalformedMessage(f"{what}: {field_name} length {len(data)} is odd")
    return list(struct.unpack(f">{count}H", data))


def _extensions(data: bytes, what: str) -> list[Extension]:
    """The body of an Extension extensions<..2^16-1> vector (without its length prefix)."""
    result: list[Extension] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise _extension_cut_short(data, pos, what)
        ext_type, length = _unpack_u16_pair(data, pos)
        start = pos + 4
        pos = start + length
        if pos > end:
            raise MalformedMessage(
                f"{what}: extension 0x{ext_type:04x} length {length} exceeds the {end - start} bytes left"
            )
        result.append(_new_tuple(Extension, (ext_type, data[start:pos])))
    return result


def _extension_cut_short(data: bytes, pos: int, what: str) -> MalformedMessage:
    """The error for an extension whose type or length field is cut short at `pos`."""
    left = len(data) - pos
    if left < 2:
        return MalformedMessage(f"{what}: extension type needs 2 bytes, only {left} left")
    ext_type = _unpack_u16(data, pos)[0]
    return MalformedMessage(f"{what}: extension 0x{ext_type:04x} length needs 2 bytes, only {left - 2} left")


def _read_extensions(reader: _Reader, *, optional: bool) -> list[Extension]:
    """The trailing extensions<..> block of a hello: absent (when optional) or exactly what remains."""
    if optional and reader.remaining == 0:
        return []
    block = reader.vector(2, "extensions")
    reader.end()
    return _extensions(block, reader.what)


def _find(extensions: list[Extension], ext_type: int) -> bytes | None:
    for ext in extensions:
        if ext.type == ext_type:
            return ext.data
    return None


def _text(raw: bytes) -> str:
    """Bytes a peer meant as text (host names, ALPN ids): never raises, keeps odd bytes visible."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


# --------------------------------------------------------------------------------------------
# Extension contents (lenient views, empty when absent or malformed; strict ones for message content)


def _strict_u16_vector(data: bytes, length_size: int, field_name: str, what: str) -> list[int]:
    reader = _Reader(data, what)
    values = _u16_list(reader.vector(length_size, field_name), field_name, what)
    reader.end()
    return values


def _u16_view(data: bytes | None, length_size: int) -> list[int]:
    """The 2-byte values of the one vector that fills `data`; [] when absent or malformed."""
    if data is None or len(data) < length_size:
        return []
    length = int.from_bytes(data[:length_size], "big")
    if length != len(data) - length_size or length % 2:
        return []
    return list(struct.unpack_from(f">{length // 2}H", data, length_size))


def _server_name(data: bytes | None) -> str | None:
    """RFC 6066 §3: the first host_name (type 0) of a ServerNameList; None when the extension is
    absent, its list length is wrong, or no host_name comes before the end or a malformed entry."""
    if data is None or len(data) < 2 or _unpack_u16(data, 0)[0] != len(data) - 2:
        return None
    pos, end = 2, len(data)
    while pos < end:
        if end - pos < 3:
            return None
        name_type = data[pos]
        start = pos + 3
        pos = start + _unpack_u16(data, pos + 1)[0]
        if pos > end:
            return None
        if name_type == 0:
            return _text(data[start:pos])
    return None


def _alpn(data: bytes | None) -> list[str]:
    """RFC 7301 §3.1: ProtocolNameList; [] when absent or malformed."""
    if data is None or len(data) < 2 or _unpack_u16(data, 0)[0] != len(data) - 2:
        return []
    result: list[str] = []
    pos, end = 2, len(data)
    while pos < end:
        start = pos + 1
        pos = start + data[start - 1]
        if pos > end:
            return []
        result.append(_text(data[start:pos]))
    return result


def _distinguished_names(data: bytes, what: str) -> tuple[list[bytes], int]:
    """The body of a DistinguishedName authorities<..2^16-1> vector: each DER Name, in order, up to
    `limits.MAX_CA_NAMES`; and how many more were sent."""
    reader = _Reader(data, what)
    names: list[bytes] = []
    cap = limits.MAX_CA_NAMES
    count = 0
    while reader.remaining:
        count += 1
        name = reader.vector(2, f"distinguished name #{count}")
        if not name:
            raise reader.fail(f"distinguished name #{count} is empty")
        if count <= cap:
            names.append(name)
    return names, count - len(names)


# --------------------------------------------------------------------------------------------
# ClientHello


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """A ClientHello (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2), or an SSL 2.0 compatible one.

    `sni`, `alpn`, `supported_versions`, `signature_algorithms`, `supported_groups` are read
    from the extensions (empty / None when absent or unreadable). `cookie` is the DTLS cookie
    (None for TLS). An SSLv2-format hello has `sslv2=True`, its challenge as `random` (left-padded
    with zeros to 32 bytes), every 3-byte spec in `sslv2_cipher_specs`, and in `cipher_suites`
    those specs that are TLS cipher suites (first byte 0).
    """

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    compression_methods: list[int]
    extensions: list[Extension]
    cookie: bytes | None = None
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)
    signature_algorithms_cert: list[int] = field(default_factory=list)
    supported_groups: list[int] = field(default_factory=list)
    sslv2: bool = False
    sslv2_cipher_specs: list[int] = field(default_factory=list)

    def extension(self, ext_type: int) -> bytes | None:
        """The data of the first extension of this type, or None."""
        return _find(self.extensions, ext_type)

    @property
    def max_version(self) -> int:
        """The highest version offered: from supported_versions when sent, else legacy_version."""
        return max(self.supported_versions, default=self.legacy_version)


def parse_client_hello(body: bytes, *, dtls: bool | None = None) -> ClientHello:
    """Parse a ClientHello body. `dtls` (the DTLS layout has a cookie after session_id) is
    detected from legacy_version (0xfeXX, 0x0100) when not given. A hello without extensions
    (SSL 3.0, early TLS) is valid."""
    reader = _Reader(body, "ClientHello")
    legacy_version = reader.u16("legacy_version")
    random = reader.take(32, "random")
    session_id = reader.vector(1, "session_id")
    if len(session_id) > 32:
        raise reader.fail(f"session_id length {len(session_id)} exceeds 32")
    if dtls is None:
        dtls = (legacy_version >> 8) == 0xFE or legacy_version == 0x0100
    cookie = reader.vector(1, "cookie") if dtls else None
    cipher_suites = _u16_list(reader.vector(2, "cipher_suites"), "cipher_suites", "ClientHello")
    compression_methods = list(reader.vector(1, "compression_methods"))
    extensions = _read_extensions(reader, optional=True)
    views = _hello_views(extensions)
    return ClientHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cookie=cookie,
        cipher_suites=cipher_suites,
        compression_methods=compression_methods,
        extensions=extensions,
        sni=views.sni,
        alpn=views.alpn,
        supported_versions=views.supported_versions,
        signature_algorithms=views.signature_algorithms,
        signature_algorithms_cert=views.signature_algorithms_cert,
        supported_groups=views.supported_groups,
    )


class _HelloViews(NamedTuple):
    sni: str | None
    alpn: list[str]
    supported_versions: list[int]
    signature_algorithms: list[int]
    signature_algorithms_cert: list[int]
    supported_groups: list[int]


def _hello_views(extensions: list[Extension]) -> _HelloViews:
    """The ClientHello fields read out of its extensions, each empty when absent or unreadable."""
    first = {ext_type: data for ext_type, data in reversed(extensions)}  # the first of each type
    return _HelloViews(
        sni=_server_name(first.get(ExtensionType.SERVER_NAME)),
        alpn=_alpn(first.get(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION)),
        supported_versions=_u16_view(first.get(ExtensionType.SUPPORTED_VERSIONS), 1),
        signature_algorithms=_u16_view(first.get(ExtensionType.SIGNATURE_ALGORITHMS), 2),
        signature_algorithms_cert=_u16_view(first.get(ExtensionType.SIGNATURE_ALGORITHMS_CERT), 2),
        supported_groups=_u16_view(first.get(ExtensionType.SUPPORTED_GROUPS), 2),
    )


# --------------------------------------------------------------------------------------------
# SSL 2.0 compatible ClientHello (RFC 5246 appendix E.2)

_SSLV2_MSG_CLIENT_HELLO = 1
_SSLV2_HEADER = 2  # the 2-byte record header whose high bit is set (no padding)
_SSLV2_HELLO_FIXED = 9  # msg_type, version, cipher_spec_length, session_id_length, challenge_length


def sslv2_record_length(data: bytes) -> int | None:
    """Total length (header included) of the SSLv2 record that starts `data` when it has the
    2-byte header (high bit set), else None. Needs at least 2 bytes."""
    if len(data) < 2 or not data[0] & 0x80:
        return None
    return _SSLV2_HEADER + (((data[0] & 0x7F) << 8) | data[1])


def is_sslv2_client_hello(data: bytes) -> bool:
    """Heuristic for the first bytes of a client's stream: does it start with an SSLv2-format
    ClientHello? Needs the 11 bytes up to challenge_length; checks the message type, a version
    that is SSL 2.0 .. TLS 1.2, a cipher spec length that is a non-zero multiple of 3, a
    challenge of 16..32 bytes, and that the lengths add up to the record length."""
    if len(data) < _SSLV2_HEADER + _SSLV2_HELLO_FIXED:
        return False
    record_length = sslv2_record_length(data)
    if record_length is None or data[2] != _SSLV2_MSG_CLIENT_HELLO:
        return False
    version = int.from_bytes(data[3:5], "big")
    if version != 0x0002 and not 0x0300 <= version <= 0x03FF:
        return False
    spec_len = int.from_bytes(data[5:7], "big")
    session_len = int.from_bytes(data[7:9], "big")
    challenge_len = int.from_bytes(data[9:11], "big")
    return (
        spec_len > 0
        and spec_len % 3 == 0
        and session_len <= 32
        and 16 <= challenge_len <= 32
        and _SSLV2_HEADER + _SSLV2_HELLO_FIXED + spec_len + session_len + challenge_len == record_length
    )


def parse_sslv2_client_hello(record: bytes) -> ClientHello:
    """Parse one SSLv2-format ClientHello: the whole record with its 2-byte header (high bit
    set), or the record's body alone (starting with msg_type 1, as a record layer that strips
    the header hands it over; the two cannot be confused since msg_type has no high bit).

    The challenge (16..32 bytes) becomes `random`, left-padded with zeros to 32 bytes as RFC 5246
    E.2 says; `compression_methods` is [0] (SSLv2 has none) and there are no extensions."""
    reader = _Reader(record, "SSLv2 ClientHello")
    if not record:
        raise reader.fail("no bytes")
    if record[0] & 0x80:
        if reader.remaining < _SSLV2_HEADER:
            raise reader.fail("2-byte record header cut short")
        length = reader.u16("record length") & 0x7FFF
        if length != reader.remaining:
            raise reader.fail(f"record length {length} does not match the {reader.remaining} bytes given")
    msg_type = reader.u8("msg_type")
    if msg_type != _SSLV2_MSG_CLIENT_HELLO:
        raise reader.fail(f"msg_type {msg_type} is not CLIENT-HELLO (1)")
    version = reader.u16("version")
    spec_len = reader.u16("cipher_spec_length")
    session_len = reader.u16("session_id_length")
    challenge_len = reader.u16("challenge_length")
    if spec_len % 3:
        raise reader.fail(f"cipher_spec_length {spec_len} is not a multiple of 3")
    if session_len > 32:
        raise reader.fail(f"session_id_length {session_len} exceeds 32")
    if not 16 <= challenge_len <= 32:
        raise reader.fail(f"challenge_length {challenge_len} is not 16..32")
    specs_raw = reader.take(spec_len, "cipher_specs")
    session_id = reader.take(session_len, "session_id")
    challenge = reader.take(challenge_len, "challenge")
    reader.end()
    specs = [int.from_bytes(specs_raw[i : i + 3], "big") for i in range(0, spec_len, 3)]
    return ClientHello(
        legacy_version=version,
        random=challenge.rjust(32, b"\x00"),
        session_id=session_id,
        cipher_suites=[spec for spec in specs if spec <= 0xFFFF],
        compression_methods=[0],
        extensions=[],
        sslv2=True,
        sslv2_cipher_specs=specs,
    )


# --------------------------------------------------------------------------------------------
# ServerHello


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHello:
    """A ServerHello (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3), HelloRetryRequest included.

    `selected_version` is the supported_versions extension's value (None when absent; for the
    TLS 1.3 drafts <= 21, whose ServerHello has no session_id, compression nor supported_versions,
    it is the version field itself). `compression_method` is None in those drafts.
    """

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int | None
    extensions: list[Extension]
    selected_version: int | None = None
    is_hello_retry_request: bool = False

    @property
    def version(self) -> int:
        """The negotiated version: selected_version when present, else legacy_version."""
        return self.selected_version if self.selected_version is not None else self.legacy_version

    @property
    def compression(self) -> int | None:
        """Alias of compression_method."""
        return self.compression_method

    @property
    def downgrade_sentinel(self) -> int | None:
        """0x0303 or 0x0302 when the random ends with RFC 8446's downgrade marker for TLS 1.2 /
        TLS 1.1-and-below (a TLS 1.3 server that negotiated less), else None."""
        tail = self.random[-8:]
        if tail == _DOWNGRADE_TLS12:
            return 0x0303
        if tail == _DOWNGRADE_TLS11:
            return 0x0302
        return None

    def extension(self, ext_type: int) -> bytes | None:
        """The data of the first extension of this type, or None."""
        return _find(self.extensions, ext_type)


def _has_draft_server_hello_layout(version: int) -> bool:
    """TLS 1.3 drafts up to 21 sent `version, random, cipher_suite, extensions` (draft 22 brought
    back legacy_version 0x0303, session_id and compression for middlebox compatibility)."""
    return (version >> 8) == 0x7F and (version & 0xFF) <= 21


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello body (TLS, DTLS, and the TLS 1.3 draft layouts)."""
    reader = _Reader(body, "ServerHello")
    legacy_version = reader.u16("version")
    random = reader.take(32, "random")
    if _has_draft_server_hello_layout(legacy_version):
        cipher_suite = reader.u16("cipher_suite")
        extensions = _read_extensions(reader, optional=False)
        return ServerHello(
            legacy_version=legacy_version,
            random=random,
            session_id=b"",
            cipher_suite=cipher_suite,
            compression_method=None,
            extensions=extensions,
            selected_version=legacy_version,
            is_hello_retry_request=random == HELLO_RETRY_REQUEST_RANDOM,
        )
    session_id = reader.vector(1, "session_id")
    if len(session_id) > 32:
        raise reader.fail(f"session_id length {len(session_id)} exceeds 32")
    cipher_suite = reader.u16("cipher_suite")
    compression_method = reader.u8("compression_method")
    extensions = _read_extensions(reader, optional=True)
    selected = _find(extensions, ExtensionType.SUPPORTED_VERSIONS)
    return ServerHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=cipher_suite,
        compression_method=compression_method,
        extensions=extensions,
        selected_version=int.from_bytes(selected, "big")
        if selected is not None and len(selected) == 2
        else None,
        is_hello_retry_request=random == HELLO_RETRY_REQUEST_RANDOM,
    )


# --------------------------------------------------------------------------------------------
# HelloVerifyRequest (DTLS)


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloVerifyRequest:
    """DTLS HelloVerifyRequest (RFC 6347 §4.2.1)."""

    server_version: int
    cookie: bytes


def parse_hello_verify_request(body: bytes) -> HelloVerifyRequest:
    """Parse a DTLS HelloVerifyRequest body."""
    reader = _Reader(body, "HelloVerifyRequest")
    version = reader.u16("server_version")
    cookie = reader.vector(1, "cookie")
    reader.end()
    return HelloVerifyRequest(server_version=version, cookie=cookie)


# --------------------------------------------------------------------------------------------
# Certificate


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateMessage:
    """A Certificate message (RFC 5246 §7.4.2, RFC 8446 §4.4.2).

    `certificates` holds each certificate's DER in the order sent (leaf first); it is empty when
    the peer sent no certificate. `request_context` and `entry_extensions` (one list per
    certificate, in the same order) exist in TLS 1.3 only and are empty before it. Only the first
    `limits.MAX_CHAIN_CERTIFICATES` certificates are kept; `omitted` counts the ones after them.
    """

    certificates: list[bytes]
    request_context: bytes = b""
    entry_extensions: list[list[Extension]] = field(default_factory=list)
    omitted: int = 0

    @property
    def empty(self) -> bool:
        return not self.certificates


def parse_certificate(body: bytes, *, tls13: bool) -> CertificateMessage:
    """Parse a Certificate body; `tls13` selects the TLS 1.3 layout (context + CertificateEntry)."""
    reader = _Reader(body, "Certificate")
    context = reader.vector(1, "certificate_request_context") if tls13 else b""
    entries = _Reader(reader.vector(3, "certificate_list"), "Certificate")
    reader.end()
    certificates: list[bytes] = []
    entry_extensions: list[list[Extension]] = []
    cap = limits.MAX_CHAIN_CERTIFICATES
    number = 0
    while entries.remaining:
        number += 1
        cert = entries.vector(3, f"certificate #{number}")
        if not cert:
            raise entries.fail(f"certificate #{number} is empty")
        extensions = entries.vector(2, f"certificate #{number} extensions") if tls13 else b""
        if number > cap:
            continue  # counted, not kept: its lengths were checked above
        certificates.append(cert)
        if tls13:
            entry_extensions.append(_extensions(extensions, "Certificate"))
    return CertificateMessage(
        certificates=certificates,
        request_context=context,
        entry_extensions=entry_extensions,
        omitted=number - len(certificates),
    )


# --------------------------------------------------------------------------------------------
# CertificateRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequest:
    """A CertificateRequest (RFC 5246 §7.4.4, RFC 4346 §7.4.4, RFC 8446 §4.3.2).

    `ca_names` holds each acceptable CA's distinguished name as DER, in the order sent: from
    certificate_authorities in TLS <= 1.2, from the certificate_authorities extension (47) in
    TLS 1.3. `signature_algorithms` is empty before TLS 1.2; in TLS 1.3 it is the
    signature_algorithms extension (13), `signature_algorithms_cert` the extension 50.
    `certificate_types` exists before TLS 1.3 only; `request_context` and `extensions` in TLS 1.3.
    Only the first `limits.MAX_CA_NAMES` names are kept; `ca_names_omitted` counts the rest.
    """

    tls13: bool
    certificate_types: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)
    signature_algorithms_cert: list[int] = field(default_factory=list)
    ca_names: list[bytes] = field(default_factory=list)
    request_context: bytes = b""
    extensions: list[Extension] = field(default_factory=list)
    ca_names_omitted: int = 0


def parse_certificate_request(
    body: bytes, version: int = 0x0303, *, tls13: bool | None = None
) -> CertificateRequest:
    """Parse a CertificateRequest body for the negotiated `version` (ServerHello.version).

    TLS 1.2 / DTLS 1.2 carry supported_signature_algorithms, older versions do not; TLS 1.3
    (and its drafts, DTLS 1.3) use context + extensions. `tls13` overrides the layout choice.
    """
    if tls13 is None:
        tls13 = is_tls13(version)
    if not tls13:
        return _parse_certificate_request_tls12(body, has_signature_algorithms(version))
    draft = tls13_draft(version)
    if draft is not None and (version >> 8) == 0x7F and draft <= 18:
        return _parse_certificate_request_draft18(body)
    return _parse_certificate_request_tls13(body)


def _parse_certificate_request_tls12(body: bytes, with_signature_algorithms: bool) -> CertificateRequest:
    reader = _Reader(body, "CertificateRequest")
    certificate_types = list(reader.vector(1, "certificate_types"))
    signature_algorithms: list[int] = []
    if with_signature_algorithms:
        raw = reader.vector(2, "supported_signature_algorithms")
        signature_algorithms = _u16_list(raw, "supported_signature_algorithms", "CertificateRequest")
    authorities = reader.vector(2, "certificate_authorities")
    reader.end()
    ca_names, omitted = _distinguished_names(authorities, "CertificateRequest")
    return CertificateRequest(
        tls13=False,
        certificate_types=certificate_types,
        signature_algorithms=signature_algorithms,
        ca_names=ca_names,
        ca_names_omitted=omitted,
    )


def _parse_certificate_request_tls13(body: bytes) -> CertificateRequest:
    what = "CertificateRequest"
    reader = _Reader(body, what)
    context = reader.vector(1, "certificate_request_context")
    extensions = _read_extensions(reader, optional=False)
    signature_algorithms: list[int] = []
    signature_algorithms_cert: list[int] = []
    ca_names: list[bytes] = []
    omitted = 0
    data = _find(extensions, ExtensionType.SIGNATURE_ALGORITHMS)
    if data is not None:
        signature_algorithms = _strict_u16_vector(data, 2, "signature_algorithms", what)
    data = _find(extensions, ExtensionType.SIGNATURE_ALGORITHMS_CERT)
    if data is not None:
        signature_algorithms_cert = _strict_u16_vector(data, 2, "signature_algorithms_cert", what)
    data = _find(extensions, ExtensionType.CERTIFICATE_AUTHORITIES)
    if data is not None:
        ext_reader = _Reader(data, what)
        ca_names, omitted = _distinguished_names(ext_reader.vector(2, "certificate_authorities"), what)
        ext_reader.end()
    return CertificateRequest(
        tls13=True,
        signature_algorithms=signature_algorithms,
        signature_algorithms_cert=signature_algorithms_cert,
        ca_names=ca_names,
        request_context=context,
        extensions=extensions,
        ca_names_omitted=omitted,
    )


def _parse_certificate_request_draft18(body: bytes) -> CertificateRequest:
    """TLS 1.3 drafts <= 18: context, supported_signature_algorithms, certificate_authorities,
    certificate_extensions (OID filters; not kept)."""
    what = "CertificateRequest"
    reader = _Reader(body, what)
    context = reader.vector(1, "certificate_request_context")
    raw = reader.vector(2, "supported_signature_algorithms")
    authorities = reader.vector(2, "certificate_authorities")
    reader.vector(2, "certificate_extensions")
    reader.end()
    ca_names, omitted = _distinguished_names(authorities, what)
    return CertificateRequest(
        tls13=True,
        signature_algorithms=_u16_list(raw, "supported_signature_algorithms", what),
        ca_names=ca_names,
        request_context=context,
        ca_names_omitted=omitted,
    )


# --------------------------------------------------------------------------------------------
# Alert


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A plaintext alert (RFC 5246 §7.2): level and description as sent."""

    level: int
    description: int

    @property
    def level_name(self) -> str:
        return alert_level_name(self.level)

    @property
    def description_name(self) -> str:
        return alert_name(self.description)


def parse_alert(fragment: bytes) -> Alert:
    """Parse one 2-byte plaintext alert; any other length is malformed (or encrypted)."""
    if len(fragment) != 2:
        raise MalformedMessage(f"Alert: {len(fragment)} bytes, an alert is 2")
    return Alert(level=fragment[0], description=fragment[1])


# --------------------------------------------------------------------------------------------
# NewSessionTicket, EncryptedExtensions, KeyUpdate


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSessionTicket:
    """NewSessionTicket (RFC 5077 §3.3; RFC 8446 §4.6.1). TLS 1.2 has lifetime and ticket only."""

    lifetime: int
    ticket: bytes
    age_add: int | None = None
    nonce: bytes = b""
    extensions: list[Extension] = field(default_factory=list)


def parse_new_session_ticket(body: bytes, *, tls13: bool) -> NewSessionTicket:
    """Parse a NewSessionTicket body in the TLS 1.2 (`tls13=False`) or TLS 1.3 layout."""
    reader = _Reader(body, "NewSessionTicket")
    lifetime = reader.u32("ticket_lifetime")
    if not tls13:
        ticket = reader.vector(2, "ticket")
        reader.end()
        return NewSessionTicket(lifetime=lifetime, ticket=ticket)
    age_add = reader.u32("ticket_age_add")
    nonce = reader.vector(1, "ticket_nonce")
    ticket = reader.vector(2, "ticket")
    extensions = _read_extensions(reader, optional=False)
    return NewSessionTicket(
        lifetime=lifetime, ticket=ticket, age_add=age_add, nonce=nonce, extensions=extensions
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedExtensions:
    """EncryptedExtensions (RFC 8446 §4.3.1)."""

    extensions: list[Extension]

    @property
    def alpn(self) -> str | None:
        """The protocol the server selected, when it sent ALPN."""
        protocols = _alpn(_find(self.extensions, ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION))
        return protocols[0] if len(protocols) == 1 else None


def parse_encrypted_extensions(body: bytes) -> EncryptedExtensions:
    """Parse an EncryptedExtensions body."""
    reader = _Reader(body, "EncryptedExtensions")
    return EncryptedExtensions(extensions=_read_extensions(reader, optional=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyUpdate:
    """KeyUpdate (RFC 8446 §4.6.3): whether the peer asks for an update in return."""

    request_update: int

    @property
    def update_requested(self) -> bool:
        return self.request_update == 1


def parse_key_update(body: bytes) -> KeyUpdate:
    """Parse a KeyUpdate body (one byte: 0 update_not_requested, 1 update_requested)."""
    reader = _Reader(body, "KeyUpdate")
    request_update = reader.u8("request_update")
    reader.end()
    if request_update > 1:
        raise MalformedMessage(f"KeyUpdate: request_update {request_update} is neither 0 nor 1")
    return KeyUpdate(request_update=request_update)
