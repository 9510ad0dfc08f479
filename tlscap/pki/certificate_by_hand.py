"""A certificate's fields read by tlscap's own DER reader, for certificates `cryptography` refuses.

`parse_certificate_by_hand` walks Certificate → TBSCertificate as far as the bytes allow and says where it
stopped; `split_signed` cuts out what a signature check needs. The tables name extended key usages, key
usage bits, key algorithms and curves as `cryptography` names them, for both readers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509

from tlscap.pki.der import (
    STRING_CODECS,
    DerError,
    Tlv,
    children,
    decode_oid,
    expect,
    name_from_der,
    name_rfc4514,
    oid_at,
    read_clamped,
    read_tlv,
)

# --------------------------------------------------------------------------- tables

# Extended key usages by the names RFC 5280 gives them; any other purpose is shown as its dotted OID.
EKU_NAMES: dict[str, str] = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    # Shown by name because verifiers treat it as allowing clientAuth too.
    "2.5.29.37.0": "anyExtendedKeyUsage",
}

# KeyUsage bits in RFC 5280 order (bit 0 is the most significant bit of the first byte).
KEY_USAGE_BITS: tuple[str, ...] = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)

_OID_RSA = "1.2.840.113549.1.1.1"
_OID_RSA_PSS = "1.2.840.113549.1.1.10"
_OID_EC = "1.2.840.10045.2.1"
_OID_DSA = "1.2.840.10040.4.1"
_OID_UPN = "1.3.6.1.4.1.311.20.2.3"

# Key algorithms that need no parameters to be named.
_PLAIN_KEY_NAMES: dict[str, str] = {
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    "2.16.840.1.101.3.4.4.1": "ML-KEM-512",
    "2.16.840.1.101.3.4.4.2": "ML-KEM-768",
    "2.16.840.1.101.3.4.4.3": "ML-KEM-1024",
}

# Named curves by OID, spelled as cryptography's `curve.name` spells them.
_CURVE_NAMES: dict[str, str] = {
    "1.2.840.10045.3.1.1": "secp192r1",
    "1.3.132.0.33": "secp224r1",
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.3.132.0.10": "secp256k1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
    "1.2.156.10197.1.301": "sm2",
}

_OTHER_NAME_LABELS: dict[str, str] = {_OID_UPN: "UPN"}


# --------------------------------------------------------------------------- the certificate


@dataclass(slots=True)
class HandCertificate:
    """Whatever tlscap's DER reader could get from a certificate; `error` is the first thing it could not."""

    serial: str | None = None
    signature_oid: str | None = None
    issuer: x509.Name | None = None
    subject: x509.Name | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    public_key: str | None = None
    extended_key_usage: list[str] = field(default_factory=list)
    key_usage: list[str] | None = None
    basic_constraints_ca: bool | None = None
    subject_alt_names: list[str] = field(default_factory=list)
    error: str | None = None


_TIME_RE = re.compile(r"^(\d{12}|\d{14})(?:[.,](\d+))?(Z|[+-]\d{4})?$")


def parse_time(buf: bytes, tlv: Tlv) -> datetime | None:
    """UTCTime (YY < 50 is 20YY) or GeneralizedTime, with or without seconds' fraction and offset."""
    text = buf[tlv.start : tlv.end].decode("ascii", errors="replace")
    if tlv.tag == 0x17:
        year_digits = 2
    elif tlv.tag == 0x18:
        year_digits = 4
    else:
        return None
    if year_digits == 2 and re.fullmatch(r"\d{10}(Z|[+-]\d{4})?", text):
        text = text[:10] + "00" + text[10:]  # seconds are optional in old UTCTime
    match = _TIME_RE.match(text)
    if match is None or len(match.group(1)) != 10 + year_digits:
        return None
    digits = match.group(1)
    year = int(digits[:year_digits])
    if year_digits == 2:
        year += 1900 if year >= 50 else 2000
    rest = digits[year_digits:]
    try:
        value = datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]), tzinfo=UTC
        )
    except ValueError:
        return None
    offset = match.group(3)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        value -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return value


def _describe_spki_by_hand(buf: bytes, spki: Tlv) -> str:
    """'RSA 2048', 'EC secp256r1', 'Ed25519', ... from a SubjectPublicKeyInfo's DER."""
    algorithm, key_bits = children(buf, expect(spki, 0x30, "SubjectPublicKeyInfo"))[:2]
    alg_parts = children(buf, expect(algorithm, 0x30, "AlgorithmIdentifier"))
    oid = oid_at(buf, alg_parts[0])
    params = alg_parts[1] if len(alg_parts) > 1 else None
    if oid in _PLAIN_KEY_NAMES:
        return _PLAIN_KEY_NAMES[oid]
    if oid in (_OID_RSA, _OID_RSA_PSS):
        key_der = buf[key_bits.start + 1 : key_bits.end]  # skip the unused-bits octet
        rsa_key = read_tlv(key_der, 0, len(key_der))
        modulus = children(key_der, rsa_key)[0]
        return f"RSA {int.from_bytes(key_der[modulus.start : modulus.end], 'big').bit_length()}"
    if oid == _OID_EC:
        if params is not None and params.tag == 0x06:
            curve = oid_at(buf, params)
            return f"EC {_CURVE_NAMES.get(curve, curve)}"
        if params is not None and params.tag == 0x30:
            return "EC (explicit parameters)"
        return "EC (no named curve)"
    if oid == _OID_DSA and params is not None and params.tag == 0x30:
        prime = children(buf, params)[0]
        return f"DSA {int.from_bytes(buf[prime.start : prime.end], 'big').bit_length()}"
    return f"unknown ({oid})"


def _general_name_by_hand(buf: bytes, tlv: Tlv) -> str:
    """One GeneralName: 'DNS:x', 'IP:1.2.3.4', 'email:x', 'URI:x', 'DirName:..', 'RID:..', 'othername:..'."""
    content = buf[tlv.start : tlv.end]
    number = tlv.tag & 0x1F
    if number == 1:
        return "email:" + content.decode("ascii", errors="replace")
    if number == 2:
        return "DNS:" + content.decode("ascii", errors="replace")
    if number == 6:
        return "URI:" + content.decode("ascii", errors="replace")
    if number == 7:
        if len(content) in (4, 16):
            return "IP:" + str(ipaddress.ip_address(content))
        return "IP:#" + content.hex()
    if number == 8:
        return "RID:" + decode_oid(content)
    if number == 4:
        inner = read_tlv(buf, tlv.start, tlv.end)
        return "DirName:" + name_rfc4514(name_from_der(buf, inner))
    if number == 0:
        parts = children(buf, tlv)
        type_id = oid_at(buf, parts[0])
        return format_other_name(type_id, buf[parts[1].start : parts[1].end] if len(parts) > 1 else b"")
    return f"[{number}]:#{content.hex()}"


def format_other_name(type_id: str, value_der: bytes) -> str:
    """'othername:UPN:user@example.com' when the value is a string, else 'othername:<oid>'."""
    label = _OTHER_NAME_LABELS.get(type_id, type_id)
    try:
        inner = read_tlv(value_der, 0, len(value_der))
        codec = STRING_CODECS.get(inner.tag)
        if codec is not None:
            return f"othername:{label}:{value_der[inner.start : inner.end].decode(codec, errors='replace')}"
    except DerError:
        pass
    return f"othername:{label}"


def _bits_to_key_usage(content: bytes) -> list[str]:
    bits = content[1:]  # first octet counts unused bits
    return [
        name
        for index, name in enumerate(KEY_USAGE_BITS)
        if index // 8 < len(bits) and bits[index // 8] & (0x80 >> (index % 8))
    ]


def _read_extensions_by_hand(buf: bytes, wrapper: Tlv, out: HandCertificate) -> None:
    """EKU, KeyUsage, BasicConstraints and SAN out of the [3] EXPLICIT Extensions."""
    for extension in children(buf, read_tlv(buf, wrapper.start, wrapper.end)):
        parts = children(buf, extension)
        oid = oid_at(buf, parts[0])
        value = expect(parts[-1], 0x04, "extnValue")
        inner = read_tlv(buf, value.start, value.end)
        if oid == "2.5.29.37":
            out.extended_key_usage = [
                EKU_NAMES.get(purpose, purpose)
                for purpose in (oid_at(buf, t) for t in children(buf, inner))
            ]
        elif oid == "2.5.29.15":
            out.key_usage = _bits_to_key_usage(buf[inner.start : inner.end])
        elif oid == "2.5.29.19":
            fields = children(buf, inner)
            out.basic_constraints_ca = bool(fields and fields[0].tag == 0x01 and buf[fields[0].start] != 0)
        elif oid == "2.5.29.17":
            out.subject_alt_names = [_general_name_by_hand(buf, name) for name in children(buf, inner)]


def _fields_partial(buf: bytes, parent: Tlv) -> tuple[list[Tlv], str | None]:
    """The elements inside `parent` up to the first unreadable one, and why reading stopped."""
    out: list[Tlv] = []
    pos = parent.start
    while pos < parent.end:
        try:
            child = read_tlv(buf, pos, parent.end)
        except DerError as exc:
            return out, str(exc)
        out.append(child)
        pos = child.end
    return out, None


_TBS_FIELDS = ("serialNumber", "signature", "issuer", "validity", "subject", "subjectPublicKeyInfo")


def parse_certificate_by_hand(der: bytes) -> HandCertificate:
    """Walk Certificate → TBSCertificate as far as the bytes allow; never raises."""
    out = HandCertificate()
    try:
        certificate = read_clamped(der, 0, len(der))
        tbs = expect(read_clamped(der, certificate.start, certificate.end), 0x30, "TBSCertificate")
        fields, stopped = _fields_partial(der, tbs)
        if fields and fields[0].tag == 0xA0:
            fields = fields[1:]  # [0] EXPLICIT version
        if len(fields) < len(_TBS_FIELDS):
            missing = _TBS_FIELDS[len(fields)]
            stopped = f"certificate ends before its {missing}" + (f" ({stopped})" if stopped else "")
        # One reader per TBSCertificate field, in order; a truncated certificate runs the first few.
        readers = (
            lambda f: setattr(out, "serial", der[expect(f, 0x02, "serialNumber").start : f.end].hex()),
            lambda f: setattr(out, "signature_oid", oid_at(der, children(der, f)[0])),
            lambda f: setattr(out, "issuer", name_from_der(der, f)),
            lambda f: _read_validity(der, f, out),
            lambda f: setattr(out, "subject", name_from_der(der, f)),
            lambda f: setattr(out, "public_key", _describe_spki_by_hand(der, f)),
        )
        for reader, tlv in zip(readers, fields, strict=False):
            reader(tlv)
        for extra in fields[len(readers) :]:
            if extra.tag == 0xA3:
                _read_extensions_by_hand(der, extra, out)
        out.error = stopped
    except (DerError, IndexError, ValueError, TypeError) as exc:
        out.error = str(exc) or type(exc).__name__
    return out


def _read_validity(buf: bytes, tlv: Tlv, out: HandCertificate) -> None:
    times = children(buf, expect(tlv, 0x30, "Validity"))
    out.not_before = parse_time(buf, times[0])
    out.not_after = parse_time(buf, times[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedParts:
    """The pieces of a certificate a signature check needs, cut out by tlscap's own DER reader.

    `tbs` is the TBSCertificate's full DER (what was signed); `signature` is the BIT STRING's bits;
    `signature_parameters` is the DER of the AlgorithmIdentifier's parameters (b"" when absent).
    """

    tbs: bytes
    signature_algorithm_oid: str
    signature_parameters: bytes
    signature: bytes
    subject_public_key_info: bytes


def split_signed(der: bytes) -> SignedParts | None:
    """Cut a certificate into TBSCertificate, signature algorithm, signature and key; None if unreadable.

    For certificates `cryptography` refuses, so their signatures can still be checked.
    """
    data = bytes(der)
    try:
        certificate = read_tlv(data, 0, len(data))
        tbs, algorithm, signature = children(data, expect(certificate, 0x30, "Certificate"))[:3]
        expect(tbs, 0x30, "TBSCertificate")
        alg_parts = children(data, expect(algorithm, 0x30, "signatureAlgorithm"))
        params = alg_parts[1] if len(alg_parts) > 1 else None
        fields = children(data, tbs)
        if fields and fields[0].tag == 0xA0:
            fields = fields[1:]
        spki = expect(fields[5], 0x30, "SubjectPublicKeyInfo")
        return SignedParts(
            tbs=data[tbs.header_start : tbs.end],
            signature_algorithm_oid=oid_at(data, alg_parts[0]),
            signature_parameters=b"" if params is None else data[params.header_start : params.end],
            signature=data[expect(signature, 0x03, "signature").start + 1 : signature.end],
            subject_public_key_info=data[spki.header_start : spki.end],
        )
    except (DerError, IndexError, ValueError):
        return None
