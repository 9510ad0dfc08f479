"""Certificate summaries: the report's fields, names in DER, and certificates cryptography refuses.

Certificates are built here with `cryptography`; the real ones come from corpus captures through tshark,
which is also the oracle for their subject and issuer.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tlscap.pki import certificate as certificate_module
from tlscap.pki import certificate_by_hand
from tlscap.pki import der as der_module
from tlscap.pki.certificate import CertificateSummary, summarize_certificate
from tlscap.pki.certificate_by_hand import split_signed
from tlscap.pki.der import name_to_rfc4514, parse_name_der

CORPUS_FILES = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "files"
UTC = dt.UTC
NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2025, 1, 1, 12, 30, 5, tzinfo=UTC)


# --------------------------------------------------------------------------- building certificates


def attr(oid: x509.ObjectIdentifier, value: str, kind: _ASN1Type | None = None) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=kind) if kind else x509.NameAttribute(oid, value)


def name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """A Name from (oid, value) pairs in wire order (C first, CN last, as certificates carry them)."""
    return x509.Name([attr(oid, value) for oid, value in pairs])


def build(
    subject: x509.Name,
    issuer: x509.Name | None = None,
    *,
    key: object,
    signer: object | None = None,
    serial: int = 0x1234,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
    hash_algorithm: hashes.HashAlgorithm | None = None,
    rsa_padding: padding.AsymmetricPadding | None = None,
) -> bytes:
    signer = signer or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        hash_algorithm = None
    elif hash_algorithm is None:
        hash_algorithm = hashes.SHA256()
    if rsa_padding is not None:
        cert = builder.sign(signer, hash_algorithm, rsa_padding=rsa_padding)  # type: ignore[arg-type]
    else:
        cert = builder.sign(signer, hash_algorithm)  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


CLIENT = name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.ORGANIZATION_NAME, "Capture Lab"),
    (NameOID.COMMON_NAME, "client-markw"),
)
CA = name((NameOID.ORGANIZATION_NAME, "Capture Lab"), (NameOID.COMMON_NAME, "Capture Lab Client CA"))


def leaf_extensions() -> list[x509.ExtensionType]:
    return [
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier("1.2.3.4")]),
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        x509.BasicConstraints(ca=False, path_length=None),
        x509.SubjectAlternativeName(
            [
                x509.DNSName("client.example.com"),
                x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
                x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                x509.RFC822Name("markw@example.com"),
                x509.UniformResourceIdentifier("spiffe://example.com/client"),
                x509.DirectoryName(name((NameOID.COMMON_NAME, "dir"))),
                x509.RegisteredID(x509.ObjectIdentifier("1.2.3.5")),
                x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x0fmarkw@corp.test"),
            ]
        ),
    ]


# --------------------------------------------------------------------------- ordinary certificates


def test_rsa_client_certificate_fields(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    der = build(CLIENT, CA, key=rsa_key, signer=ec_key, serial=0x00C0FFEE, extensions=leaf_extensions())
    summary = summarize_certificate(der)
    assert summary.subject_rfc4514 == "CN=client-markw,O=Capture Lab,C=US"
    assert summary.issuer_rfc4514 == "CN=Capture Lab Client CA,O=Capture Lab"
    assert summary.subject_name == CLIENT and summary.issuer_name == CA
    assert summary.serial_hex == "00c0ffee"  # top bit set: DER keeps a 00 byte, as tshark shows it
    assert summary.not_before_utc == NOT_BEFORE and summary.not_after_utc == NOT_AFTER
    assert summary.not_after_utc is not None and summary.not_after_utc.tzinfo is not None
    assert summary.public_key == "RSA 2048"
    assert summary.signature_algorithm == "ecdsa-with-SHA256"
    assert summary.extended_key_usage == ["clientAuth", "1.2.3.4"]
    assert summary.key_usage == ["digitalSignature", "keyEncipherment"]
    assert summary.basic_constraints_ca is False
    assert summary.subject_alt_names == [
        "DNS:client.example.com",
        "IP:192.0.2.7",
        "IP:2001:db8::1",
        "email:markw@example.com",
        "URI:spiffe://example.com/client",
        "DirName:CN=dir",
        "RID:1.2.3.5",
        "othername:UPN:markw@corp.test",
    ]
    assert summary.self_issued is False
    assert summary.parse_error is None
    assert summary.der == der


def test_to_dict_is_the_design_cert_object(rsa_key: rsa.RSAPrivateKey) -> None:
    der = build(CLIENT, CA, key=rsa_key, serial=0x7F01, extensions=leaf_extensions())
    out = summarize_certificate(der).to_dict()
    assert list(out) == [
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "sha256",
        "public_key",
        "signature_algorithm",
        "extended_key_usage",
        "subject_alt_names",
    ]
    assert out["serial"] == "7f01"
    assert out["not_before"] == "2024-01-01T00:00:00Z"
    assert out["not_after"] == "2025-01-01T12:30:05Z"
    assert re.fullmatch(r"[0-9a-f]{64}", str(out["sha256"]))
    assert out["sha256"] == certificate_module.hashlib.sha256(der).hexdigest()
    assert out["signature_algorithm"] == "sha256WithRSAEncryption"


@pytest.mark.parametrize(
    ("make_key", "public_key", "signature"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "EC secp256r1", "ecdsa-with-SHA256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "EC secp384r1", "ecdsa-with-SHA256"),
        (ed25519.Ed25519PrivateKey.generate, "Ed25519", "ed25519"),
    ],
)
def test_key_and_signature_names(make_key: object, public_key: str, signature: str) -> None:
    key = make_key()  # type: ignore[operator]
    summary = summarize_certificate(build(CLIENT, key=key))
    assert (summary.public_key, summary.signature_algorithm) == (public_key, signature)
    assert summary.parse_error is None


def test_pss_signature_named(rsa_key: rsa.RSAPrivateKey) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    summary = summarize_certificate(build(CLIENT, key=rsa_key, rsa_padding=pss))
    assert summary.signature_algorithm == "rsassaPss"


def test_extensions_absent(ec_key: ec.EllipticCurvePrivateKey) -> None:
    summary = summarize_certificate(build(CLIENT, CA, key=ec_key))
    assert summary.extended_key_usage == []
    assert summary.key_usage is None
    assert summary.basic_constraints_ca is None
    assert summary.subject_alt_names == []


def test_eku_names_and_any_usage(ec_key: ec.EllipticCurvePrivateKey) -> None:
    usages = [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CODE_SIGNING,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.TIME_STAMPING,
        ExtendedKeyUsageOID.OCSP_SIGNING,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    ]
    summary = summarize_certificate(build(CLIENT, key=ec_key, extensions=[x509.ExtendedKeyUsage(usages)]))
    assert summary.extended_key_usage == [
        "serverAuth",
        "codeSigning",
        "emailProtection",
        "timeStamping",
        "OCSPSigning",
        "anyExtendedKeyUsage",
    ]
    assert "clientAuth" not in summary.extended_key_usage


def test_self_signed_ca(rsa_key: rsa.RSAPrivateKey) -> None:
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=True,
    )
    extensions = [x509.BasicConstraints(ca=True, path_length=0), usage]
    summary = summarize_certificate(build(CA, key=rsa_key, extensions=extensions))
    assert summary.self_issued is True
    assert summary.basic_constraints_ca is True
    assert summary.key_usage == ["keyAgreement", "keyCertSign", "cRLSign", "decipherOnly"]


def test_self_issued_compares_names_by_rfc5280(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = x509.Name([attr(NameOID.COMMON_NAME, "Lab  Root", _ASN1Type.PrintableString)])
    issuer = x509.Name([attr(NameOID.COMMON_NAME, "lab root", _ASN1Type.UTF8String)])
    summary = summarize_certificate(build(subject, issuer, key=ec_key))
    assert summary.subject_rfc4514 != summary.issuer_rfc4514
    assert summary.self_issued is True


def test_validity_dates_before_1950_and_after_2049(ec_key: ec.EllipticCurvePrivateKey) -> None:
    # cryptography builds no date before 1950, so a 2050 GeneralizedTime is rewritten to 1940 in place.
    later = dt.datetime(2050, 5, 6, 7, 8, 9, tzinfo=UTC)
    far = dt.datetime(2100, 1, 1, tzinfo=UTC)
    der = patch(
        build(CLIENT, key=ec_key, not_before=later, not_after=far), b"20500506070809Z", b"19400506070809Z"
    )
    summary = summarize_certificate(der)
    assert summary.not_before_utc == dt.datetime(1940, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert summary.not_after_utc == far
    assert summary.to_dict()["not_before"] == "1940-05-06T07:08:09Z"


def test_cache_parses_once(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = build(CLIENT, key=ec_key, serial=98765)
    first = summarize_certificate(der)
    assert summarize_certificate(bytes(bytearray(der))) is first
    assert summarize_certificate(bytearray(der)) is first  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "text"),
    [(1, "01"), (0x7F, "7f"), (0x80, "0080"), (0, "00"), (-1, "ff"), (-128, "80"), (-129, "ff7f")],
)
def test_serial_is_der_content_octets(number: int, text: str) -> None:
    assert certificate_module._serial_hex(number) == text


# --------------------------------------------------------------------------- refused by cryptography


def patch(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and der.count(old) == 1
    return der.replace(old, new)


def resign_rsa(der: bytes, signer: rsa.RSAPrivateKey) -> bytes:
    """Sign the (patched) TBSCertificate again; RSA signatures keep their length, so they swap in place."""
    parts = split_signed(der)
    assert parts is not None
    signature = signer.sign(parts.tbs, padding.PKCS1v15(), hashes.SHA256())
    assert der.endswith(parts.signature) and len(signature) == len(parts.signature)
    return der[: -len(signature)] + signature


def test_garbage_never_raises() -> None:
    for data in (b"", b"\x00", b"\x30", b"\x30\x80\x00\x00", b"not a certificate", bytes(range(256))):
        summary = summarize_certificate(data)
        assert isinstance(summary, CertificateSummary)
        assert summary.parse_error
        assert summary.subject_rfc4514 == "" and summary.public_key == "unknown"
        assert summary.sha256_hex == certificate_module.hashlib.sha256(data).hexdigest()


def test_truncated_certificate_keeps_what_was_read(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = build(CLIENT, CA, key=ec_key, extensions=leaf_extensions())
    for length in range(len(der)):
        summary = summarize_certificate(der[:length])
        assert summary.parse_error, length
    # As a snap length cuts it: the fields that arrived are still read.
    whole = summarize_certificate(der)
    no_signature = summarize_certificate(der[: len(der) - 60])
    assert "cryptography cannot load it" in (no_signature.parse_error or "")
    assert no_signature.to_dict() | {"sha256": ""} == whole.to_dict() | {"sha256": ""}
    no_key = summarize_certificate(der[:200])
    assert (no_key.subject_rfc4514, no_key.issuer_rfc4514, no_key.serial_hex) == (
        whole.subject_rfc4514, whole.issuer_rfc4514, whole.serial_hex)
    assert no_key.public_key == "unknown"
    assert "ends before its subjectPublicKeyInfo" in (no_key.parse_error or "")


def test_damaged_certificates_never_raise(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = build(CLIENT, CA, key=ec_key, extensions=leaf_extensions())
    rng = random.Random(1234)
    for _ in range(400):
        damaged = bytearray(der)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        summary = summarize_certificate(bytes(damaged))
        assert isinstance(summary, CertificateSummary)
        summary.to_dict()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    summary = summarize_certificate(b"\x30\x82" + len(data).to_bytes(2, "big") + data)
    summary.to_dict()


def test_negative_serial(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = build(CLIENT, key=ec_key, serial=0x7F0102030405)
    negative = patch(der, bytes.fromhex("02067f0102030405"), bytes.fromhex("0206ff0102030405"))
    summary = summarize_certificate(negative)
    assert summary.serial_hex == "ff0102030405"
    assert summary.parse_error and "negative" in summary.parse_error
    assert summary.subject_rfc4514 == "CN=client-markw,O=Capture Lab,C=US"


def test_nul_in_printable_string_read_by_hand(rsa_key: rsa.RSAPrivateKey) -> None:
    subject = x509.Name(
        [
            attr(NameOID.ORGANIZATION_NAME, "Microsoft Corporatxon", _ASN1Type.PrintableString),
            attr(NameOID.COMMON_NAME, "go.example.com", _ASN1Type.UTF8String),
        ]
    )
    der = patch(
        build(subject, CA, key=rsa_key, extensions=leaf_extensions()), b"Corporatxon", b"Corporat\x00on"
    )
    summary = summarize_certificate(der)
    assert summary.parse_error and summary.parse_error.startswith("cryptography cannot load it")
    assert summary.subject_rfc4514 == "CN=go.example.com,O=Microsoft Corporat\\00on"
    assert summary.issuer_rfc4514 == "CN=Capture Lab Client CA,O=Capture Lab"
    assert summary.subject_name is not None
    organization = summary.subject_name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0]
    assert organization.value == "Microsoft Corporat\x00on"
    assert organization._type == _ASN1Type.PrintableString
    # Every other field still comes from the hand reader, identical to the unpatched certificate.
    clean = summarize_certificate(
        build(subject, CA, key=rsa_key, extensions=leaf_extensions(), serial=0x1234)
    )
    for field in ("serial_hex", "not_before_utc", "not_after_utc", "public_key", "signature_algorithm"):
        assert getattr(summary, field) == getattr(clean, field), field
    for field in ("extended_key_usage", "key_usage", "basic_constraints_ca", "subject_alt_names"):
        assert getattr(summary, field) == getattr(clean, field), field


def test_hand_reader_agrees_with_cryptography(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    for der in (
        build(CLIENT, CA, key=rsa_key, signer=ed_key, extensions=leaf_extensions()),
        build(CA, key=ed_key, extensions=[x509.BasicConstraints(ca=True, path_length=None)]),
    ):
        summary = summarize_certificate(der)
        hand = certificate_by_hand.parse_certificate_by_hand(der)
        assert hand.error is None
        assert (hand.subject, hand.issuer) == (summary.subject_name, summary.issuer_name)
        assert (hand.serial, hand.not_before, hand.not_after) == (
            summary.serial_hex,
            summary.not_before_utc,
            summary.not_after_utc,
        )
        assert hand.public_key == summary.public_key
        assert certificate_module._signature_name(hand.signature_oid or "") == summary.signature_algorithm
        assert hand.extended_key_usage == summary.extended_key_usage
        assert hand.key_usage == summary.key_usage
        assert hand.basic_constraints_ca == summary.basic_constraints_ca
        assert hand.subject_alt_names == summary.subject_alt_names


def test_resigned_patched_certificate_is_still_signed(rsa_key: rsa.RSAPrivateKey) -> None:
    subject = x509.Name([attr(NameOID.COMMON_NAME, "nulzx", _ASN1Type.PrintableString)])
    der = resign_rsa(patch(build(subject, CA, key=rsa_key), b"nulzx", b"nul\x00x"), rsa_key)
    parts = split_signed(der)
    assert parts is not None and parts.signature_algorithm_oid == "1.2.840.113549.1.1.11"
    rsa_key.public_key().verify(parts.signature, parts.tbs, padding.PKCS1v15(), hashes.SHA256())
    assert split_signed(b"\x30\x03\x02\x01\x01") is None


@pytest.mark.parametrize(
    ("tag", "text", "expected"),
    [
        (0x17, "491231235959Z", dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (0x17, "500101000000Z", dt.datetime(1950, 1, 1, tzinfo=UTC)),
        (0x17, "9912310000Z", dt.datetime(1999, 12, 31, tzinfo=UTC)),  # old UTCTime without seconds
        (0x18, "19450101120000Z", dt.datetime(1945, 1, 1, 12, tzinfo=UTC)),
        (0x18, "20200101000000.123Z", dt.datetime(2020, 1, 1, tzinfo=UTC)),
        (0x18, "20200101010000+0100", dt.datetime(2020, 1, 1, tzinfo=UTC)),
        (0x18, "20201301000000Z", None),
        (0x18, "garbage", None),
        (0x04, "20200101000000Z", None),
    ],
)
def test_hand_time_parsing(tag: int, text: str, expected: dt.datetime | None) -> None:
    raw = text.encode()
    buf = bytes([tag, len(raw)]) + raw
    tlv = der_module.read_tlv(buf, 0, len(buf))
    assert certificate_by_hand.parse_time(buf, tlv) == expected


# --------------------------------------------------------------------------- names in DER


def tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 128
    return bytes([tag, len(content)]) + content


CN_OID = bytes.fromhex("0603550403")
O_OID = bytes.fromhex("060355040a")


def der_name(*rdns: list[tuple[bytes, int, bytes]]) -> bytes:
    return tlv(
        0x30, b"".join(tlv(0x31, b"".join(tlv(0x30, oid + tlv(t, v)) for oid, t, v in rdn)) for rdn in rdns)
    )


def test_parse_name_der_keeps_types_and_multivalued_rdns() -> None:
    original = x509.Name(
        [
            x509.RelativeDistinguishedName([attr(NameOID.COUNTRY_NAME, "US")]),
            x509.RelativeDistinguishedName(
                [
                    attr(NameOID.ORGANIZATION_NAME, "Lab", _ASN1Type.PrintableString),
                    attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops", _ASN1Type.UTF8String),
                ]
            ),
            x509.RelativeDistinguishedName([attr(NameOID.COMMON_NAME, "x", _ASN1Type.BMPString)]),
        ]
    )
    der = original.public_bytes()
    for parsed in (parse_name_der(der), der_module.parse_name_by_hand(der)):
        assert parsed == original
        assert parsed is not None and parsed.public_bytes() == der
        assert [a._type for a in parsed] == [a._type for a in original]
        assert len(parsed.rdns[1]) == 2
    assert name_to_rfc4514(der) == original.rfc4514_string() == "CN=x,O=Lab+OU=Ops,C=US"


@pytest.mark.parametrize(
    ("der", "expected"),
    [
        (der_name([(CN_OID, 19, b"a\x00b")]), "CN=a\\00b"),  # NUL in a PrintableString
        (der_name([(CN_OID, 19, b"under_score")]), "CN=under_score"),  # '_' is not Printable
        (der_name([(CN_OID, 20, b"caf\xe9")]), "CN=café"),  # T61String read as Latin-1
        (der_name([(CN_OID, 12, b"bad\xff")]), "CN=bad\ufffd"),  # invalid UTF-8 kept visible
        (der_name([(CN_OID, 0x30, b"")]), "CN=#3000"),  # not a string: RFC 4514 hex of the TLV
        (der_name([(O_OID, 12, b"#x,y")], [(CN_OID, 12, b" a+b ")]), "CN=\\ a\\+b\\ ,O=\\#x\\,y"),
        (tlv(0x30, b""), ""),
    ],
)
def test_names_cryptography_refuses_are_read_by_hand(der: bytes, expected: str) -> None:
    assert parse_name_der(der) is not None
    assert name_to_rfc4514(der) == expected


def test_unreadable_name() -> None:
    for der in (b"", b"\x30", b"\x31\x00", b"\x30\x03\x31\x01\x00", b"\x30\x00trailing"):
        assert parse_name_der(der) is None
        assert name_to_rfc4514(der) == "#" + der.hex()


def test_hand_names_match_cryptography_escaping() -> None:
    values = ["plain", " lead", "trail ", "#hash", 'q"uote', "semi;colon", "<angle>", "back\\slash", "ünï"]
    for value in values:
        der = der_name([(CN_OID, 12, value.encode())])
        assert der_module.name_rfc4514(der_module.parse_name_by_hand(der)) == (
            x509.Name.from_bytes(der).rfc4514_string()
            if hasattr(x509.Name, "from_bytes")
            else name((NameOID.COMMON_NAME, value)).rfc4514_string()
        )


# --------------------------------------------------------------------------- real certificates via tshark

needs_tshark = pytest.mark.usefixtures("tshark_and_corpus")  # conftest: fails, never skips


def _paren(text: str | None) -> str:
    text = text or ""
    start = text.find("(")
    return text[start + 1 : -1] if start >= 0 and text.endswith(")") else ""


def _tshark_values(rdn_text: str) -> str:
    """'id-at-commonName=a+id-at-organizationName=b' → 'a+b', with tshark's \\ooo escapes decoded."""
    items = re.split(r"\+(?=id-[a-zA-Z-]+=|\d+(?:\.\d+)+=)", rdn_text)
    values = [item.split("=", 1)[1] if "=" in item else item for item in items]
    return "+".join(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), v) for v in values)


def tshark_certificates(relative: str) -> Iterator[tuple[bytes, dict[str, list[str] | None]]]:
    """(DER, {'subject': RDN values, 'issuer': ..., 'serial': ..., 'not_before': ...}) per certificate."""
    completed = subprocess.run(
        ["tshark", "-n", "-r", str(CORPUS_FILES / relative), "-Y", "tls.handshake.certificate", "-T", "pdml"],
        capture_output=True,
        check=False,
        timeout=300,
    )
    for element in ET.fromstring(completed.stdout).iter("field"):
        if element.get("name") != "tls.handshake.certificate":
            continue
        facts: dict[str, list[str] | None] = {"subject": None, "issuer": None}
        for child in element.iter("field"):
            kind = {"x509af.subject": "subject", "x509af.issuer": "issuer"}.get(child.get("name") or "")
            if kind and facts[kind] is None:
                facts[kind] = [
                    _tshark_values(_paren(rdn.get("showname")))
                    for rdn in child.iter("field")
                    if rdn.get("name") == "x509if.RDNSequence_item"
                ]
            elif child.get("name") == "x509af.serialNumber" and "serial" not in facts:
                facts["serial"] = [(child.get("show") or "").replace(":", "")]
        yield bytes.fromhex(element.get("value") or ""), facts


def rdn_values(name: x509.Name | None) -> list[str] | None:
    return None if name is None else ["+".join(str(a.value) for a in rdn) for rdn in name.rdns]


CORPUS_CERTIFICATES = {
    # capture: (certificates tshark decodes, of which cryptography refuses...)
    "suricata-verify/tls__tls-subject-zero__input.pcap": "NUL in the subject's PrintableString",
    "suricata-verify/tls__tls-issuer-zero__input.pcap": "NUL in the issuer's PrintableString",
    "zeek/ml-dsa-44-cert.pcap": "ML-DSA-44 key and signature",
    "suricata-verify/tls__tls-pre-1970__input.pcap": "notBefore in 1969",
    "zeek/x509-generalizedtime.pcap": "GeneralizedTime validity",
    "suricata-verify/tls.pcap": "empty issuer Name",
    "zeek/missing-intermediate.pcap": "BasicConstraints with an encoded default cA FALSE",
    "ja4/badcurveball.pcap": "EC key with explicit curve parameters (CVE-2020-0601)",
    "zeek/client-certificate.pcap": "a client certificate",
}


@needs_tshark
@pytest.mark.parametrize("relative", sorted(CORPUS_CERTIFICATES))
def test_corpus_names_match_tshark(relative: str) -> None:
    seen = 0
    for der, facts in tshark_certificates(relative):
        summary = summarize_certificate(der)
        seen += 1
        assert rdn_values(summary.subject_name) == facts["subject"], summary.subject_rfc4514
        assert rdn_values(summary.issuer_name) == facts["issuer"], summary.issuer_rfc4514
        assert [summary.serial_hex] == facts.get("serial")
        assert summary.not_before_utc is not None and summary.not_after_utc is not None
        assert summary.public_key != "unknown"
        summary.to_dict()
    assert seen, "tshark decoded no certificate"


@needs_tshark
def test_corpus_certificates_needing_the_fallback() -> None:
    def first(relative: str) -> CertificateSummary:
        return summarize_certificate(next(tshark_certificates(relative))[0])

    zero = first("suricata-verify/tls__tls-subject-zero__input.pcap")
    assert zero.parse_error and zero.parse_error.startswith("cryptography cannot load it")
    assert "O=Microsoft Corporat\\00on" in zero.subject_rfc4514
    assert zero.extended_key_usage == ["clientAuth", "serverAuth"]
    assert "DNS:go.microsoft.com" in zero.subject_alt_names

    issuer_zero = first("suricata-verify/tls__tls-issuer-zero__input.pcap")
    assert issuer_zero.issuer_rfc4514 == "CN=Microsoft RSA TL\\00 CA 01,O=Microsoft Corporation,C=US"

    no_issuer = first("suricata-verify/tls.pcap")
    assert no_issuer.issuer_rfc4514 == "" and no_issuer.issuer_name == x509.Name([])
    assert no_issuer.parse_error is None and no_issuer.self_issued is False

    pre_1970 = first("suricata-verify/tls__tls-pre-1970__input.pcap")
    assert pre_1970.not_before_utc == dt.datetime(1969, 12, 31, tzinfo=UTC)

    ml_dsa = first("zeek/ml-dsa-44-cert.pcap")
    assert (ml_dsa.public_key, ml_dsa.signature_algorithm) == ("ML-DSA-44", "ML-DSA-44")
    assert ml_dsa.self_issued

    curveball = [summarize_certificate(der) for der, _ in tshark_certificates("ja4/badcurveball.pcap")]
    explicit = [s for s in curveball if s.public_key == "EC (explicit parameters)"]
    assert len(explicit) == 1 and explicit[0].subject_rfc4514 == "CN=INFIGO,O=INFIGO IS,ST=Zagreb,C=HR"
    assert explicit[0].parse_error and explicit[0].parse_error.startswith("public key:")

    roots = [summarize_certificate(der) for der, _ in tshark_certificates("zeek/missing-intermediate.pcap")]
    zero_serial = next(
        s for s in roots if s.serial_hex == "00"
    )  # Starfield's root: serial 0 is tolerated, unflagged
    assert zero_serial.parse_error is None and zero_serial.self_issued

    leaf = first("zeek/missing-intermediate.pcap")
    assert leaf.parse_error and leaf.parse_error.startswith("extensions:")
    assert leaf.basic_constraints_ca is False and leaf.extended_key_usage == ["serverAuth", "clientAuth"]


@needs_tshark
def test_damaged_der_in_corpus() -> None:
    for relative in (
        "suricata-verify/tls_DER-incomplete-content.pcap",
        "suricata-verify/tls_DER-incomplete-header.pcap",
    ):
        for der, _facts in tshark_certificates(relative):
            summary = summarize_certificate(der)
            assert summary.parse_error and summary.subject_rfc4514 == "" and summary.serial_hex == ""
