"""Tests for tlscap.tls.constants (name tables) and tlscap.tls.messages (handshake body parsers).

Messages are built byte by byte here, so each test shows the layout it checks; the corpus tests
compare the parsers with what tshark (the oracle) read from real captures.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlscap.errors import TlscapError
from tlscap.tls.constants import (
    CIPHER_SUITE_NAMES,
    AlertDescription,
    ContentType,
    HandshakeType,
    alert_level_name,
    alert_name,
    certificate_type_name,
    cipher_suite_name,
    content_type_name,
    extension_name,
    handshake_name,
    is_grease,
    is_tls13,
    named_group_name,
    signature_scheme_name,
    sslv2_cipher_spec_name,
    version_name,
)
from tlscap.tls.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    Extension,
    MalformedMessage,
    is_sslv2_client_hello,
    parse_alert,
    parse_certificate,
    parse_certificate_request,
    parse_client_hello,
    parse_encrypted_extensions,
    parse_hello_verify_request,
    parse_key_update,
    parse_new_session_ticket,
    parse_server_hello,
    parse_sslv2_client_hello,
    sslv2_record_length,
)

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
TRUTH_FILES = sorted((CORPUS / "truth").glob("*.json"))


# --------------------------------------------------------------------------------------------
# Byte builders (TLS presentation language: uintN, opaque<..2^N-1> with an N-byte length)


def u8(v: int) -> bytes:
    return struct.pack("!B", v)


def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def u24(v: int) -> bytes:
    return struct.pack("!I", v)[1:]


def u32(v: int) -> bytes:
    return struct.pack("!I", v)


def vec8(b: bytes) -> bytes:
    return u8(len(b)) + b


def vec16(b: bytes) -> bytes:
    return u16(len(b)) + b


def vec24(b: bytes) -> bytes:
    return u24(len(b)) + b


def u16s(*values: int) -> bytes:
    return b"".join(u16(v) for v in values)


def ext(ext_type: int, data: bytes) -> bytes:
    return u16(ext_type) + vec16(data)


def sni_ext(host: bytes) -> bytes:
    return ext(0, vec16(u8(0) + vec16(host)))


def alpn_ext(*protocols: bytes) -> bytes:
    return ext(16, vec16(b"".join(vec8(p) for p in protocols)))


RANDOM = bytes(range(32))


def client_hello(
    *,
    version: int = 0x0303,
    session_id: bytes = b"\x11" * 32,
    suites: tuple[int, ...] = (0x1301, 0xC02F, 0x00FF),
    compression: bytes = b"\x00",
    extensions: bytes | None = b"",
    cookie: bytes | None = None,
) -> bytes:
    body = u16(version) + RANDOM + vec8(session_id)
    if cookie is not None:
        body += vec8(cookie)
    body += vec16(u16s(*suites)) + vec8(compression)
    if extensions is not None:
        body += vec16(extensions)
    return body


def server_hello(
    *,
    version: int = 0x0303,
    random: bytes = RANDOM,
    session_id: bytes = b"\x22" * 32,
    suite: int = 0x1301,
    extensions: bytes | None = b"",
) -> bytes:
    body = u16(version) + random + vec8(session_id) + u16(suite) + u8(0)
    if extensions is not None:
        body += vec16(extensions)
    return body


def dn(common_name: str, org: str = "Example") -> bytes:
    """DER of a real distinguished name, as a CertificateRequest carries it."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return name.public_bytes()


CA_1 = dn("My Company Client CA", "My Company")
CA_2 = dn("Partner CA", "Partner Inc")
SIG_ALGS_12 = (0x0401, 0x0403, 0x0804, 0x0501, 0x0201)


def certificate_request_12(
    *,
    types: bytes = b"\x01\x40",
    sig_algs: tuple[int, ...] | None = SIG_ALGS_12,
    names: tuple[bytes, ...] = (CA_1, CA_2),
) -> bytes:
    body = vec8(types)
    if sig_algs is not None:
        body += vec16(u16s(*sig_algs))
    return body + vec16(b"".join(vec16(n) for n in names))


def certificate_request_13(*, context: bytes = b"", names: tuple[bytes, ...] = (CA_1, CA_2)) -> bytes:
    extensions = (
        ext(13, vec16(u16s(0x0804, 0x0403, 0x0807)))
        + ext(47, vec16(b"".join(vec16(n) for n in names)))
        + ext(50, vec16(u16s(0x0401, 0x0403)))
    )
    return vec8(context) + vec16(extensions)


CERT_A = b"\x30\x82\x01\x00" + b"A" * 256  # stands for a DER certificate: the parser keeps bytes
CERT_B = b"\x30\x81\x80" + b"B" * 128


def certificate_12(*certs: bytes) -> bytes:
    return vec24(b"".join(vec24(c) for c in certs))


def certificate_13(*certs: bytes, context: bytes = b"") -> bytes:
    entries = b"".join(vec24(c) + vec16(ext(5, b"\x01\x02")) for c in certs)
    return vec8(context) + vec24(entries)


def sslv2_hello(
    *,
    version: int = 0x0301,
    specs: tuple[int, ...] = (0x010080, 0x00002F, 0x000035),
    session_id: bytes = b"",
    challenge: bytes = b"\xaa" * 16,
) -> bytes:
    spec_bytes = b"".join(struct.pack("!I", s)[1:] for s in specs)
    msg = (
        u8(1)
        + u16(version)
        + u16(len(spec_bytes))
        + u16(len(session_id))
        + u16(len(challenge))
        + spec_bytes
        + session_id
        + challenge
    )
    return u16(0x8000 | len(msg)) + msg


# --------------------------------------------------------------------------------------------
# constants


def test_content_and_handshake_names() -> None:
    assert ContentType.HANDSHAKE == 22 and content_type_name(21) == "alert"
    assert content_type_name(99) == "unknown(99)"
    expected = {
        0: "HelloRequest",
        1: "ClientHello",
        2: "ServerHello",
        3: "HelloVerifyRequest",
        4: "NewSessionTicket",
        5: "EndOfEarlyData",
        6: "HelloRetryRequest",
        8: "EncryptedExtensions",
        11: "Certificate",
        12: "ServerKeyExchange",
        13: "CertificateRequest",
        14: "ServerHelloDone",
        15: "CertificateVerify",
        16: "ClientKeyExchange",
        20: "Finished",
        21: "CertificateURL",
        22: "CertificateStatus",
        23: "SupplementalData",
        24: "KeyUpdate",
        25: "CompressedCertificate",
        254: "MessageHash",
    }
    for value, name in expected.items():
        assert handshake_name(value) == name
    assert handshake_name(HandshakeType.CERTIFICATE_REQUEST) == "CertificateRequest"
    assert handshake_name(99) == "unknown(99)"


def test_alert_names_are_the_rfc_snake_case_names() -> None:
    names = (
        "close_notify unexpected_message bad_record_mac decryption_failed record_overflow "
        "decompression_failure handshake_failure no_certificate bad_certificate unsupported_certificate "
        "certificate_revoked certificate_expired certificate_unknown illegal_parameter unknown_ca "
        "access_denied decode_error decrypt_error export_restriction protocol_version "
        "insufficient_security internal_error inappropriate_fallback user_canceled no_renegotiation "
        "missing_extension unsupported_extension certificate_unobtainable unrecognized_name "
        "bad_certificate_status_response bad_certificate_hash_value unknown_psk_identity "
        "certificate_required no_application_protocol ech_required"
    ).split()
    table = {alert_name(v): v for v in range(256)}
    for name in names:
        assert name in table, name
    assert alert_name(48) == "unknown_ca" and alert_name(116) == "certificate_required"
    assert alert_name(AlertDescription.CERTIFICATE_EXPIRED) == "certificate_expired"
    assert alert_name(200) == "unknown(200)"
    assert (alert_level_name(1), alert_level_name(2), alert_level_name(7)) == (
        "warning",
        "fatal",
        "unknown(7)",
    )


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (0x0002, "SSL 2.0"),
        (0x0300, "SSL 3.0"),
        (0x0301, "TLS 1.0"),
        (0x0302, "TLS 1.1"),
        (0x0303, "TLS 1.2"),
        (0x0304, "TLS 1.3"),
        (0x7F10, "TLS 1.3 (draft 16)"),
        (0x7F1C, "TLS 1.3 (draft 28)"),
        (0xFB1A, "TLS 1.3 (Facebook draft 26)"),
        (0xFB17, "TLS 1.3 (Facebook draft 23)"),
        (0x7E01, "TLS 1.3 (experiment 1)"),
        (0xFEFF, "DTLS 1.0"),
        (0xFEFD, "DTLS 1.2"),
        (0xFEFC, "DTLS 1.3"),
        (0x0A0A, "unknown(0x0a0a)"),
        (0x7A7A, "unknown(0x7a7a)"),
        (0x1234, "unknown(0x1234)"),
    ],
)
def test_version_name(value: int, name: str) -> None:
    assert version_name(value) == name


def test_is_tls13_and_grease() -> None:
    assert all(is_tls13(v) for v in (0x0304, 0x7F10, 0x7F1C, 0xFB1A, 0xFEFC))
    assert not any(is_tls13(v) for v in (0x0303, 0x0300, 0xFEFD, 0x0A0A))
    assert [v for v in range(0x10000) if is_grease(v)] == [0x0A0A + 0x1010 * i for i in range(16)]


def test_cipher_suite_names() -> None:
    assert cipher_suite_name(0x002F) == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert cipher_suite_name(0xC030) == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert cipher_suite_name(0x1303) == "TLS_CHACHA20_POLY1305_SHA256"
    assert cipher_suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert cipher_suite_name(0x5600) == "TLS_FALLBACK_SCSV"
    assert cipher_suite_name(0x0003) == "TLS_RSA_EXPORT_WITH_RC4_40_MD5"
    assert cipher_suite_name(0x001D) == "SSL_FORTEZZA_KEA_WITH_FORTEZZA_CBC_SHA"
    assert cipher_suite_name(0xC102) == "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT"
    assert cipher_suite_name(0xC03C) == "TLS_RSA_WITH_ARIA_128_CBC_SHA256"
    assert cipher_suite_name(0x0041) == "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"
    assert cipher_suite_name(0xC0AC) == "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"
    assert cipher_suite_name(0x00A8) == "TLS_PSK_WITH_AES_128_GCM_SHA256"
    assert cipher_suite_name(0x0A0A) == "unknown(0x0a0a)"
    assert cipher_suite_name(0x1A2B) == "unknown(0x1a2b)"
    assert len(CIPHER_SUITE_NAMES) > 350
    assert sslv2_cipher_spec_name(0x0700C0) == "SSL2_DES_192_EDE3_CBC_WITH_MD5"
    assert sslv2_cipher_spec_name(0x00002F) == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert sslv2_cipher_spec_name(0xFF0000) == "unknown(0xff0000)"


def _truth(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.usefixtures("tshark_and_corpus")
def test_cipher_names_match_every_truth_file() -> None:
    checked = 0
    for path in TRUTH_FILES:
        truth = _truth(path)
        for message in truth.get("handshake_messages") or []:
            if message.get("cipher_suite") and message.get("cipher_suite_name"):
                value = int(message["cipher_suite"], 16)
                assert cipher_suite_name(value) == message["cipher_suite_name"], (path.name, message["frame"])
                checked += 1
        for name in truth.get("negotiated_ciphers") or {}:
            assert name in CIPHER_SUITE_NAMES.values(), (path.name, name)
    assert checked > 500


def test_signature_scheme_names() -> None:
    expected = {
        0x0401: "rsa_pkcs1_sha256",
        0x0403: "ecdsa_secp256r1_sha256",
        0x0804: "rsa_pss_rsae_sha256",
        0x0809: "rsa_pss_pss_sha256",
        0x0807: "ed25519",
        0x0808: "ed448",
        0x0201: "rsa_pkcs1_sha1",
        0x0203: "ecdsa_sha1",
        0x0904: "mldsa44",
        0x0906: "mldsa87",
        # TLS 1.2 (hash, signature) pairs that are not SignatureSchemes: OpenSSL's names.
        0x0402: "dsa_sha256",
        0x0202: "dsa_sha1",
        0x0301: "rsa_pkcs1_sha224",
        0x0303: "ecdsa_sha224",
        0x0101: "rsa_pkcs1_md5",
        0x0602: "dsa_sha512",
    }
    for value, name in expected.items():
        assert signature_scheme_name(value) == name
    assert signature_scheme_name(0x0A0A) == "unknown(0x0a0a)"
    assert signature_scheme_name(0x0709) == "gostr34102012_256a"


def test_certificate_type_extension_group_names() -> None:
    expected = {
        1: "rsa_sign",
        2: "dss_sign",
        3: "rsa_fixed_dh",
        4: "dss_fixed_dh",
        5: "rsa_ephemeral_dh",
        6: "dss_ephemeral_dh",
        20: "fortezza_dms",
        64: "ecdsa_sign",
        65: "rsa_fixed_ecdh",
        66: "ecdsa_fixed_ecdh",
    }
    for value, name in expected.items():
        assert certificate_type_name(value) == name
    assert certificate_type_name(7) == "unknown(7)"
    assert extension_name(0) == "server_name" and extension_name(47) == "certificate_authorities"
    assert extension_name(0xFF01) == "renegotiation_info" and extension_name(0x2A2A) == "unknown(0x2a2a)"
    assert named_group_name(29) == "x25519" and named_group_name(0x11EC) == "X25519MLKEM768"
    assert named_group_name(0xBEEF) == "unknown(0xbeef)"


NAME_FUNCTIONS: list[Callable[[int], str]] = [
    content_type_name,
    handshake_name,
    alert_name,
    alert_level_name,
    version_name,
    cipher_suite_name,
    signature_scheme_name,
    certificate_type_name,
    extension_name,
    named_group_name,
    sslv2_cipher_spec_name,
]


@pytest.mark.parametrize("function", NAME_FUNCTIONS, ids=lambda f: f.__name__)
def test_name_functions_never_raise(function: Callable[[int], str]) -> None:
    for value in [*range(0, 0x10000, 7), -1, 0xFFFF, 0x10000, 2**40]:
        name = function(value)
        assert isinstance(name, str) and name


# --------------------------------------------------------------------------------------------
# ClientHello


def test_client_hello_with_extensions() -> None:
    extensions = (
        ext(0x0A0A, b"")  # GREASE
        + sni_ext(b"api.example.com")
        + alpn_ext(b"h2", b"http/1.1")
        + ext(43, vec8(u16s(0x2A2A, 0x0304, 0x0303)))
        + ext(13, vec16(u16s(0x0403, 0x0804, 0x0401)))
        + ext(10, vec16(u16s(29, 23)))
        + ext(50, vec16(u16s(0x0401)))
    )
    hello = parse_client_hello(client_hello(extensions=extensions))
    assert hello.legacy_version == 0x0303
    assert hello.random == RANDOM and hello.session_id == b"\x11" * 32
    assert hello.cipher_suites == [0x1301, 0xC02F, 0x00FF]
    assert hello.compression_methods == [0]
    assert [e.type for e in hello.extensions] == [0x0A0A, 0, 16, 43, 13, 10, 50]
    assert hello.extensions[1] == (0, vec16(u8(0) + vec16(b"api.example.com")))  # a (type, bytes) pair
    assert hello.sni == "api.example.com"
    assert hello.alpn == ["h2", "http/1.1"]
    assert hello.supported_versions == [0x2A2A, 0x0304, 0x0303]
    assert hello.max_version == 0x2A2A  # GREASE is the largest: callers filter it with is_grease
    assert hello.signature_algorithms == [0x0403, 0x0804, 0x0401]
    assert hello.supported_groups == [29, 23]
    assert hello.signature_algorithms_cert == [0x0401]
    assert hello.extension(43) == vec8(u16s(0x2A2A, 0x0304, 0x0303))
    assert hello.extension(99) is None
    assert hello.cookie is None and not hello.sslv2


def test_client_hello_without_extensions_is_valid() -> None:
    hello = parse_client_hello(
        client_hello(version=0x0300, session_id=b"", suites=(0x000A,), extensions=None)
    )
    assert hello.legacy_version == 0x0300
    assert hello.extensions == [] and hello.sni is None and hello.alpn == []
    assert hello.supported_versions == [] and hello.max_version == 0x0300


def test_client_hello_empty_extension_block_is_valid() -> None:
    assert parse_client_hello(client_hello(extensions=b"")).extensions == []


def test_client_hello_sni_is_tolerant() -> None:
    utf8 = parse_client_hello(client_hello(extensions=sni_ext("bücher.example".encode())))
    assert utf8.sni == "bücher.example"
    raw = parse_client_hello(client_hello(extensions=sni_ext(b"bad\xffname")))
    assert raw.sni == "bad\\xffname"
    idna = parse_client_hello(client_hello(extensions=sni_ext(b"xn--bcher-kva.example")))
    assert idna.sni == "xn--bcher-kva.example"  # what was sent, not re-encoded
    # A server_name extension whose inner lengths are wrong leaves sni None; the hello still parses.
    broken = parse_client_hello(client_hello(extensions=ext(0, vec16(u8(0) + u16(50) + b"short"))))
    assert broken.sni is None and broken.extensions[0].type == 0
    # Only host_name (type 0) counts.
    other = parse_client_hello(client_hello(extensions=ext(0, vec16(u8(7) + vec16(b"x")))))
    assert other.sni is None


def test_dtls_client_hello_has_a_cookie() -> None:
    body = client_hello(version=0xFEFD, session_id=b"", cookie=b"\xc0" * 20, extensions=sni_ext(b"d.example"))
    hello = parse_client_hello(body)
    assert hello.cookie == b"\xc0" * 20 and hello.sni == "d.example"
    with pytest.raises(MalformedMessage):
        parse_client_hello(body, dtls=False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (client_hello(session_id=b"\x00" * 33), "session_id length 33 exceeds 32"),
        (
            u16(0x0303) + RANDOM + vec8(b"") + vec16(b"\x13\x01\x00") + vec8(b"\x00"),
            "cipher_suites length 3 is odd",
        ),
        (client_hello(extensions=b"") + b"\x00", "unexpected bytes"),
        (client_hello(extensions=None) + b"\x00", "extensions length needs 2 bytes"),
        (client_hello(extensions=ext(0, b"ab")[:-1]), "extension 0x0000 length 2 exceeds"),
    ],
)
def test_client_hello_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_client_hello(body)


# --------------------------------------------------------------------------------------------
# SSL 2.0 compatible ClientHello


def test_sslv2_client_hello() -> None:
    record = sslv2_hello(challenge=b"\x01" * 16)
    assert sslv2_record_length(record) == len(record)
    assert is_sslv2_client_hello(record) and is_sslv2_client_hello(record[:11])
    hello = parse_sslv2_client_hello(record)
    assert hello.sslv2 and hello.legacy_version == 0x0301
    assert hello.sslv2_cipher_specs == [0x010080, 0x00002F, 0x000035]
    assert hello.cipher_suites == [0x002F, 0x0035]
    assert hello.random == b"\x00" * 16 + b"\x01" * 16  # RFC 5246 E.2: right-justified challenge
    assert hello.session_id == b"" and hello.extensions == [] and hello.compression_methods == [0]
    # A record layer that strips the 2-byte header may hand over the body alone.
    assert parse_sslv2_client_hello(record[2:]) == hello
    full = parse_sslv2_client_hello(
        sslv2_hello(version=0x0002, challenge=bytes(range(32)), session_id=b"s" * 16)
    )
    assert full.random == bytes(range(32)) and full.session_id == b"s" * 16


def test_is_sslv2_client_hello_rejects_other_streams() -> None:
    tls_record = b"\x16\x03\x01\x00\x50" + client_hello()
    assert not is_sslv2_client_hello(tls_record)
    assert not is_sslv2_client_hello(b"GET / HTTP/1.1\r\n")
    assert not is_sslv2_client_hello(sslv2_hello()[:10])  # too short to decide
    bad_type = bytearray(sslv2_hello())
    bad_type[2] = 4
    assert not is_sslv2_client_hello(bytes(bad_type))
    assert not is_sslv2_client_hello(sslv2_hello(challenge=b"\x01" * 8))
    assert not is_sslv2_client_hello(sslv2_hello(version=0x7F1C))
    assert sslv2_record_length(b"\x16\x03") is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (sslv2_hello()[:-1], "record length"),
        (sslv2_hello() + b"\x00", "record length"),
        (b"\x16\x03\x01", "msg_type 22 is not CLIENT-HELLO"),
        (b"", "no bytes"),
        (b"\x80", "header cut short"),
        (sslv2_hello(challenge=b"\x01" * 8), "challenge_length 8"),
        (sslv2_hello(challenge=b"\x01" * 33), "challenge_length 33"),
        (sslv2_hello(session_id=b"\x01" * 33), "session_id_length 33"),
        (
            u16(0x8000 | 29) + u8(1) + u16(0x0301) + u16(4) + u16(0) + u16(16) + b"s" * 4 + b"c" * 16,
            "not a multiple of 3",
        ),
        (u16(0x8000 | 9) + u8(1) + u16(0x0301) + u16(3) + u16(0) + u16(16), "cipher_specs needs 3 bytes"),
    ],
)
def test_sslv2_client_hello_malformed(record: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_sslv2_client_hello(record)


# --------------------------------------------------------------------------------------------
# ServerHello


def test_server_hello_tls12() -> None:
    hello = parse_server_hello(server_hello(suite=0xC030, extensions=ext(0xFF01, b"\x00") + ext(23, b"")))
    assert hello.legacy_version == 0x0303 and hello.version == 0x0303 and hello.selected_version is None
    assert hello.cipher_suite == 0xC030 and hello.compression_method == 0 and hello.compression == 0
    assert hello.session_id == b"\x22" * 32
    assert not hello.is_hello_retry_request
    assert [e.type for e in hello.extensions] == [0xFF01, 23]


def test_server_hello_without_extensions() -> None:
    hello = parse_server_hello(server_hello(version=0x0300, suite=0x000A, extensions=None))
    assert hello.version == 0x0300 and hello.extensions == []


def test_server_hello_tls13_supported_versions() -> None:
    hello = parse_server_hello(
        server_hello(extensions=ext(51, u16(29) + vec16(b"k" * 32)) + ext(43, u16(0x0304)))
    )
    assert hello.legacy_version == 0x0303
    assert hello.selected_version == 0x0304 and hello.version == 0x0304
    assert hello.extension(51) is not None
    assert not hello.is_hello_retry_request


def test_hello_retry_request_detection() -> None:
    assert HELLO_RETRY_REQUEST_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()
    assert HELLO_RETRY_REQUEST_RANDOM.hex().startswith("cf21ad74e59a6111be1d8c021e65b891")
    hrr = parse_server_hello(
        server_hello(random=HELLO_RETRY_REQUEST_RANDOM, extensions=ext(43, u16(0x0304)) + ext(51, u16(23)))
    )
    assert hrr.is_hello_retry_request and hrr.version == 0x0304


def test_server_hello_downgrade_sentinel() -> None:
    tls12 = parse_server_hello(server_hello(random=b"\x01" * 24 + b"DOWNGRD\x01"))
    tls11 = parse_server_hello(server_hello(random=b"\x01" * 24 + b"DOWNGRD\x00"))
    assert (tls12.downgrade_sentinel, tls11.downgrade_sentinel) == (0x0303, 0x0302)
    assert parse_server_hello(server_hello()).downgrade_sentinel is None


def test_server_hello_tls13_draft_layouts() -> None:
    # Drafts <= 21: version, random, cipher_suite, extensions — no session_id, no compression.
    draft16 = u16(0x7F10) + RANDOM + u16(0x1303) + vec16(ext(40, u16(29) + vec16(b"k" * 32)))
    hello = parse_server_hello(draft16)
    assert hello.version == 0x7F10 and hello.selected_version == 0x7F10 and hello.cipher_suite == 0x1303
    assert hello.session_id == b"" and hello.compression_method is None
    assert [e.type for e in hello.extensions] == [40]
    # Draft 28 and Facebook's draft 26 use the final layout with supported_versions.
    draft28 = parse_server_hello(server_hello(suite=0x1302, extensions=ext(43, u16(0x7F1C))))
    assert draft28.version == 0x7F1C and version_name(draft28.version) == "TLS 1.3 (draft 28)"
    facebook = parse_server_hello(server_hello(extensions=ext(43, u16(0xFB1A))))
    assert version_name(facebook.version) == "TLS 1.3 (Facebook draft 26)"
    with pytest.raises(MalformedMessage):
        parse_server_hello(draft16 + b"\x00")


def test_server_hello_malformed() -> None:
    with pytest.raises(MalformedMessage, match="session_id length 33 exceeds 32"):
        parse_server_hello(server_hello(session_id=b"\x00" * 33))
    with pytest.raises(MalformedMessage, match="random needs 32 bytes"):
        parse_server_hello(u16(0x0303) + b"\x00" * 10)


def test_hello_verify_request() -> None:
    hvr = parse_hello_verify_request(u16(0xFEFF) + vec8(b"cookie"))
    assert hvr.server_version == 0xFEFF and hvr.cookie == b"cookie"
    with pytest.raises(MalformedMessage):
        parse_hello_verify_request(u16(0xFEFF) + vec8(b"cookie") + b"x")


# --------------------------------------------------------------------------------------------
# Certificate


def test_empty_certificate_tls12() -> None:
    message = parse_certificate(certificate_12(), tls13=False)
    assert message.certificates == [] and message.empty
    assert message.request_context == b"" and message.entry_extensions == []


def test_empty_certificate_tls13() -> None:
    message = parse_certificate(certificate_13(), tls13=True)
    assert message.certificates == [] and message.empty and message.request_context == b""
    with_context = parse_certificate(certificate_13(context=b"\x07\x08"), tls13=True)
    assert with_context.request_context == b"\x07\x08" and with_context.empty


def test_certificate_chain_in_sent_order() -> None:
    tls12 = parse_certificate(certificate_12(CERT_A, CERT_B), tls13=False)
    assert tls12.certificates == [CERT_A, CERT_B] and not tls12.empty
    tls13 = parse_certificate(certificate_13(CERT_B, CERT_A), tls13=True)
    assert tls13.certificates == [CERT_B, CERT_A]
    assert tls13.entry_extensions == [[Extension(5, b"\x01\x02")], [Extension(5, b"\x01\x02")]]


def test_certificate_layout_mismatch_and_empty_entry() -> None:
    with pytest.raises(MalformedMessage):
        parse_certificate(certificate_13(CERT_A), tls13=False)
    with pytest.raises(MalformedMessage, match="certificate #2 is empty"):
        parse_certificate(vec24(vec24(CERT_A) + vec24(b"")), tls13=False)


# --------------------------------------------------------------------------------------------
# CertificateRequest


def test_certificate_request_tls12_with_two_ca_names() -> None:
    request = parse_certificate_request(certificate_request_12())
    assert not request.tls13
    assert request.certificate_types == [1, 64]
    assert [certificate_type_name(t) for t in request.certificate_types] == ["rsa_sign", "ecdsa_sign"]
    assert request.signature_algorithms == list(SIG_ALGS_12)
    assert request.ca_names == [CA_1, CA_2]  # DER, in the order sent
    assert request.request_context == b"" and request.extensions == []


def test_certificate_request_before_tls12_has_no_signature_algorithms() -> None:
    body = certificate_request_12(types=b"\x01\x02", sig_algs=None, names=(CA_2,))
    for version in (0x0300, 0x0301, 0x0302, 0xFEFF):
        request = parse_certificate_request(body, version)
        assert request.signature_algorithms == [] and request.ca_names == [CA_2]
        assert request.certificate_types == [1, 2]
    # Parsed with the wrong version, the lengths no longer add up.
    with pytest.raises(MalformedMessage):
        parse_certificate_request(body, version=0x0303)
    assert parse_certificate_request(certificate_request_12(), version=0xFEFD).signature_algorithms == list(
        SIG_ALGS_12
    )


def test_certificate_request_empty_ca_list() -> None:
    request = parse_certificate_request(certificate_request_12(names=()))
    assert request.ca_names == [] and request.signature_algorithms == list(SIG_ALGS_12)


def test_certificate_request_tls13() -> None:
    request = parse_certificate_request(certificate_request_13(), version=0x0304)
    assert request.tls13 and request.request_context == b""
    assert request.signature_algorithms == [0x0804, 0x0403, 0x0807]
    assert request.signature_algorithms_cert == [0x0401, 0x0403]
    assert request.ca_names == [CA_1, CA_2]
    assert request.certificate_types == []
    assert [e.type for e in request.extensions] == [13, 47, 50]
    post_handshake = parse_certificate_request(
        certificate_request_13(context=b"\x01" * 8, names=()), tls13=True
    )
    assert post_handshake.request_context == b"\x01" * 8 and post_handshake.ca_names == []


def test_certificate_request_tls13_without_ca_names() -> None:
    body = vec8(b"") + vec16(ext(13, vec16(u16s(0x0804))))
    request = parse_certificate_request(body, version=0x7F1C)
    assert request.signature_algorithms == [0x0804] and request.ca_names == []


def test_certificate_request_tls13_draft18_layout() -> None:
    body = vec8(b"") + vec16(u16s(0x0403, 0x0804)) + vec16(vec16(CA_1)) + vec16(b"")
    request = parse_certificate_request(body, version=0x7F12)
    assert request.tls13 and request.signature_algorithms == [0x0403, 0x0804] and request.ca_names == [CA_1]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (vec8(b"") + vec16(ext(47, vec16(u16(len(CA_1) + 5) + CA_1))), "distinguished name #1 length"),
        (vec8(b"") + vec16(ext(47, vec16(vec16(CA_1)) + b"\x00")), "unexpected bytes"),
        (vec8(b"") + vec16(ext(47, vec16(vec16(b""))) + ext(13, vec16(u16s(0x0804)))), "name #1 is empty"),
        (vec8(b"") + vec16(ext(13, vec16(b"\x04\x01\x05"))), "signature_algorithms length 3 is odd"),
        (vec8(b"") + vec16(ext(13, b"\x00")), "signature_algorithms length needs 2 bytes"),
    ],
)
def test_certificate_request_tls13_malformed_extensions_raise(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_certificate_request(body, version=0x0304)


def test_certificate_request_tls12_malformed() -> None:
    with pytest.raises(MalformedMessage, match="supported_signature_algorithms length 3 is odd"):
        parse_certificate_request(vec8(b"\x01") + vec16(b"\x04\x01\x05") + vec16(b""))
    with pytest.raises(MalformedMessage, match="distinguished name #2"):
        parse_certificate_request(vec8(b"\x01") + vec16(b"") + vec16(vec16(CA_1) + b"\x00\x09abc"))


# --------------------------------------------------------------------------------------------
# Alert, NewSessionTicket, EncryptedExtensions, KeyUpdate


def test_alert() -> None:
    alert = parse_alert(b"\x02\x30")
    assert (alert.level, alert.description) == (2, 48)
    assert (alert.level_name, alert.description_name) == ("fatal", "unknown_ca")
    assert parse_alert(b"\x01\x00").description_name == "close_notify"
    assert parse_alert(b"\x09\xc8").description_name == "unknown(200)"
    for bad in (b"", b"\x02", b"\x02\x30\x00", b"\x17" * 26):
        with pytest.raises(MalformedMessage, match="an alert is 2"):
            parse_alert(bad)


def test_new_session_ticket() -> None:
    tls12 = parse_new_session_ticket(u32(7200) + vec16(b"T" * 40), tls13=False)
    assert tls12.lifetime == 7200 and tls12.ticket == b"T" * 40 and tls12.age_add is None
    tls13 = parse_new_session_ticket(
        u32(300) + u32(0xDEADBEEF) + vec8(b"\x00\x01") + vec16(b"t") + vec16(ext(42, u32(16384))), tls13=True
    )
    assert (tls13.lifetime, tls13.age_add, tls13.nonce, tls13.ticket) == (300, 0xDEADBEEF, b"\x00\x01", b"t")
    assert tls13.extensions == [(42, u32(16384))]
    with pytest.raises(MalformedMessage):
        parse_new_session_ticket(u32(7200) + vec16(b"T" * 40) + b"!", tls13=False)


def test_encrypted_extensions_and_key_update() -> None:
    ee = parse_encrypted_extensions(vec16(alpn_ext(b"h2") + ext(0, b"")))
    assert [e.type for e in ee.extensions] == [16, 0] and ee.alpn == "h2"
    assert (
        parse_encrypted_extensions(vec16(b"")).extensions == []
        and parse_encrypted_extensions(vec16(b"")).alpn is None
    )
    assert parse_key_update(b"\x01").update_requested and not parse_key_update(b"\x00").update_requested
    for bad in (b"", b"\x02", b"\x00\x00"):
        with pytest.raises(MalformedMessage):
            parse_key_update(bad)


# --------------------------------------------------------------------------------------------
# Every truncation and random input: MalformedMessage, never IndexError / struct.error

HELLO_EXTENSIONS = sni_ext(b"a.example") + alpn_ext(b"h2") + ext(43, vec8(u16s(0x0304)))
SERVER_EXTENSIONS = ext(43, u16(0x0304))

VALID_MESSAGES: list[tuple[str, Callable[[bytes], object], bytes]] = [
    ("client_hello", parse_client_hello, client_hello(extensions=HELLO_EXTENSIONS)),
    (
        "client_hello_dtls",
        parse_client_hello,
        client_hello(version=0xFEFD, cookie=b"c" * 8, extensions=HELLO_EXTENSIONS),
    ),
    ("sslv2_client_hello", parse_sslv2_client_hello, sslv2_hello()),
    ("server_hello", parse_server_hello, server_hello(extensions=SERVER_EXTENSIONS)),
    ("server_hello_draft16", parse_server_hello, u16(0x7F10) + RANDOM + u16(0x1301) + vec16(ext(40, b"k"))),
    ("certificate_12", lambda b: parse_certificate(b, tls13=False), certificate_12(CERT_A, CERT_B)),
    ("certificate_12_empty", lambda b: parse_certificate(b, tls13=False), certificate_12()),
    (
        "certificate_13",
        lambda b: parse_certificate(b, tls13=True),
        certificate_13(CERT_A, CERT_B, context=b"c"),
    ),
    ("certificate_13_empty", lambda b: parse_certificate(b, tls13=True), certificate_13()),
    ("certificate_request_12", parse_certificate_request, certificate_request_12()),
    (
        "certificate_request_11",
        lambda b: parse_certificate_request(b, 0x0302),
        certificate_request_12(sig_algs=None),
    ),
    ("certificate_request_13", lambda b: parse_certificate_request(b, 0x0304), certificate_request_13()),
    ("new_session_ticket_12", lambda b: parse_new_session_ticket(b, tls13=False), u32(1) + vec16(b"t" * 9)),
    (
        "new_session_ticket_13",
        lambda b: parse_new_session_ticket(b, tls13=True),
        u32(1) + u32(2) + vec8(b"n") + vec16(b"t") + vec16(b""),
    ),
    ("encrypted_extensions", parse_encrypted_extensions, vec16(alpn_ext(b"h2"))),
    ("hello_verify_request", parse_hello_verify_request, u16(0xFEFF) + vec8(b"cookie")),
    ("key_update", parse_key_update, b"\x01"),
    ("alert", parse_alert, b"\x02\x28"),
]

# The one cut of a hello that is itself valid: right after compression, where the optional
# extensions block would start (SSL 3.0 / early TLS hellos end there).
VALID_CUTS: dict[str, int] = {
    "client_hello": len(client_hello(extensions=None)),
    "client_hello_dtls": len(client_hello(version=0xFEFD, cookie=b"c" * 8, extensions=None)),
    "server_hello": len(server_hello(extensions=None)),
}


@pytest.mark.parametrize(("name", "parse", "data"), VALID_MESSAGES, ids=[m[0] for m in VALID_MESSAGES])
def test_every_truncation_raises_malformed(name: str, parse: Callable[[bytes], object], data: bytes) -> None:
    parse(data)  # the whole message is valid
    for cut in range(len(data)):
        if cut == VALID_CUTS.get(name):
            parse(data[:cut])
            continue
        with pytest.raises(MalformedMessage):
            parse(data[:cut])
    with pytest.raises(MalformedMessage):
        parse(data + b"\x00")


def _parse_all(data: bytes) -> Iterator[object]:
    for _name, parse, _valid in VALID_MESSAGES:
        try:
            yield parse(data)
        except MalformedMessage as error:
            assert isinstance(error, TlscapError) and "\n" not in str(error)
            yield error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_malformed(data: bytes) -> None:
    for _ in _parse_all(data):
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID_MESSAGES), st.data())
def test_mutated_messages_raise_only_malformed(
    message: tuple[str, Callable[[bytes], object], bytes], data: st.DataObject
) -> None:
    _name, parse, valid = message
    position = data.draw(st.integers(0, len(valid) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = valid[:position] + bytes([value]) + valid[position + 1 :]
    try:
        parse(mutated)
    except MalformedMessage:
        pass


# --------------------------------------------------------------------------------------------
# Real bytes: handshake messages tshark extracted from corpus captures, compared to the truth


def _raw_values(node: Any, key: str) -> Iterator[str]:
    """Every `<key>` raw hex in tshark's `-T json -x --no-duplicate-keys` output."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                if v and isinstance(v[0], str):
                    yield v[0]
                else:
                    yield from (item[0] for item in v)
            else:
                yield from _raw_values(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _raw_values(item, key)


@cache
def _tshark_handshakes(capture: str, keylog: str | None) -> dict[int, list[tuple[int, bytes]]]:
    """frame number -> [(handshake type, body)] for every complete plaintext TLS handshake message."""
    command = [
        "tshark",
        "-n",
        "-2",
        "-r",
        str(CORPUS / capture),
        "-Y",
        "tls.handshake",
        "-T",
        "json",
        "-x",
        "--no-duplicate-keys",
    ]
    if keylog:
        command[5:5] = ["-o", f"tls.keylog_file:{CORPUS / keylog}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    frames: dict[int, list[tuple[int, bytes]]] = {}
    for packet in json.loads(output or "[]"):
        layers = packet["_source"]["layers"]
        number = int(layers["frame"]["frame.number"])
        for raw in _raw_values(layers.get("tls", {}), "tls.handshake_raw"):
            message = bytes.fromhex(raw)
            if len(message) >= 4 and int.from_bytes(message[1:4], "big") == len(message) - 4:
                frames.setdefault(number, []).append((message[0], message[4:]))
    return frames


def _negotiated_versions(truth: dict[str, Any]) -> dict[int, int]:
    return {
        m["stream"]: int(m["selected_version"], 16)
        for m in truth["handshake_messages"]
        if m["hs_type"] == 2 and m.get("selected_version") and m["proto"] == "tls"
    }


def _truth_messages(truth: dict[str, Any], hs_type: int) -> Iterator[tuple[dict[str, Any], bytes, int]]:
    """Each truth message of this type with the body tshark extracted and the stream's version."""
    keylog = truth.get("keylog")
    frames = _tshark_handshakes(truth["file"], keylog if keylog and keylog.startswith("files/") else None)
    versions = _negotiated_versions(truth)
    for message in truth["handshake_messages"]:
        if message["hs_type"] != hs_type or message["proto"] != "tls" or message.get("sslv2"):
            continue
        bodies = [
            body
            for t, body in frames.get(message["frame"], [])
            if t == hs_type and len(body) == message["hs_length"]
        ]
        assert bodies, f"{truth['name']}: tshark gave no body for frame {message['frame']}"
        yield message, bodies[0], versions.get(message["stream"], 0x0303)


def _certificate_types(message: dict[str, Any]) -> list[int]:
    return [int(text.rsplit("(", 1)[1].rstrip(")")) for text in message.get("certificate_types") or []]


def _check_certificate_requests(truth_name: str) -> int:
    truth = _truth(CORPUS / "truth" / truth_name)
    count = 0
    for message, body, version in _truth_messages(truth, 13):
        request = parse_certificate_request(body, version)
        assert request.signature_algorithms == [int(v, 16) for v in message.get("signature_algorithms") or []]
        assert len(request.ca_names) == message["dn_count"]
        assert request.certificate_types == _certificate_types(message)
        for der, expected in zip(request.ca_names, message.get("distinguished_names") or [], strict=True):
            assert der[0] == 0x30  # a DER SEQUENCE (the Name)
            for rdn in expected["rdns"]:
                value = rdn.split("=", 1)[1]
                assert value.encode() in der, (rdn, der)
        count += 1
    return count


def _check_certificates(truth_name: str) -> int:
    truth = _truth(CORPUS / "truth" / truth_name)
    count = 0
    for message, body, version in _truth_messages(truth, 11):
        certificate = parse_certificate(body, tls13=is_tls13(version))
        assert len(certificate.certificates) == message["cert_count"]
        assert certificate.empty == message["empty"]
        for der in certificate.certificates:
            x509.load_der_x509_certificate(der)  # each entry is a whole DER certificate
        count += 1
    return count


needs_tshark = pytest.mark.usefixtures("tshark_and_corpus")  # conftest: fails, never skips


@needs_tshark
@pytest.mark.parametrize(
    "truth_name", ["suricata-verify__tls-client-auth.pcap.json", "zeek__client-certificate.pcap.json"]
)
def test_real_certificate_request_and_certificates(truth_name: str) -> None:
    assert _check_certificate_requests(truth_name) == 1
    assert _check_certificates(truth_name) == 2  # the server's chain and the client's


def _truth_names_with(hs_type: int) -> list[str]:
    names = []
    for path in TRUTH_FILES:
        messages = _truth(path).get("handshake_messages") or []
        if any(m["hs_type"] == hs_type and m["proto"] == "tls" for m in messages):
            names.append(path.name)
    return names


@needs_tshark
@pytest.mark.parametrize("truth_name", _truth_names_with(13))
def test_every_corpus_certificate_request(truth_name: str) -> None:
    assert _check_certificate_requests(truth_name) >= 0


HELLO_CAPTURES = [
    "zeek__tls13draft16-ff52.a01.pcap.json",
    "zeek__tls-13draft19-early-data.pcap.json",
    "suricata-verify__tls13_draft28.pcap.json",
    "nDPI__tls_2_reasms.pcapng.json",
    "suricata-verify__tls-client-auth.pcap.json",
    "zeek__client-certificate.pcap.json",
    "PcapPlusPlus__tls2.pcap.json",
    "snet__mTLS1_3_RSA.pcap.json",
]


@needs_tshark
@pytest.mark.parametrize("truth_name", HELLO_CAPTURES)
def test_corpus_hellos_match_tshark(truth_name: str) -> None:
    truth = _truth(CORPUS / "truth" / truth_name)
    seen = 0
    for message, body, _version in _truth_messages(truth, 1):
        hello = parse_client_hello(body)
        assert hello.legacy_version == int(message["hs_version"], 16)
        assert hello.sni == message.get("sni")
        assert hello.supported_versions == [int(v, 16) for v in message.get("supported_versions") or []]
        if message.get("cipher_suites_count") is not None:
            assert len(hello.cipher_suites) == message["cipher_suites_count"]
        seen += 1
    for message, body, _version in _truth_messages(truth, 2):
        server = parse_server_hello(body)
        assert server.cipher_suite == int(message["cipher_suite"], 16)
        assert cipher_suite_name(server.cipher_suite) == message["cipher_suite_name"]
        assert server.version == int(message["selected_version"], 16)
        seen += 1
    assert seen


@needs_tshark
@pytest.mark.parametrize(
    ("capture", "version", "spec_count"),
    [
        ("zeek/ssl-v2.pcap", 0x0002, 7),
        ("suricata-verify/ssl-v2-s1.pcap", 0x0301, 26),
        ("zeek/ssl.v3.pcap", 0x0301, 20),
    ],
)
def test_real_sslv2_client_hellos(capture: str, version: int, spec_count: int) -> None:
    output = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(CORPUS / "files" / capture),
            "-Y",
            "frame.number==4",
            "-T",
            "json",
            "-x",
            "--no-duplicate-keys",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    record = bytes.fromhex(next(_raw_values(json.loads(output), "tls.record_raw")))
    assert is_sslv2_client_hello(record)
    hello = parse_sslv2_client_hello(record)
    assert hello.legacy_version == version and len(hello.sslv2_cipher_specs) == spec_count
    assert len(hello.random) == 32 and hello.random.startswith(b"\x00" * 16)
