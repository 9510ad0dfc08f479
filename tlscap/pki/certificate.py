"""Certificate summaries: what the report shows of an X.509 certificate, read without ever raising.

`summarize_certificate` reads a DER certificate with `cryptography` and, wherever `cryptography` refuses a
field (bad DER, a NUL byte in a PrintableString, an explicitly encoded default, an unknown key type, ...),
fills it with a small DER reader of our own, so a capture with odd certificates still gets a report.
`parse_error` then says, in one line, what was refused.

Also here: `parse_name_der` / `name_to_rfc4514` for the DER distinguished names of a CertificateRequest,
and `load_certificate`, the cached `cryptography` object that chain checks verify signatures with.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.name import _ASN1Type

from tlscap.pki.names import names_equal

# Distinct DER names (CA lists, issuers) whose parse is remembered.
NAME_CACHE_SIZE = 4096

__all__ = [
    "CertificateSummary",
    "SignedParts",
    "load_certificate",
    "name_to_rfc4514",
    "parse_name_der",
    "split_signed",
    "summarize_certificate",
]

# --------------------------------------------------------------------------- tables

# Extended key usages by the names RFC 5280 gives them; any other purpose is shown as its dotted OID.
_EKU_NAMES: dict[str, str] = {
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
_KEY_USAGE_BITS: tuple[str, ...] = (
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
_OID_X500_UNIQUE_IDENTIFIER = "2.5.4.45"
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

_SIGNATURE_NAMES_EXTRA: dict[str, str] = {
    # Not all cryptography versions name these.
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    "1.2.156.10197.1.501": "SM2-with-SM3",
}

_OTHER_NAME_LABELS: dict[str, str] = {_OID_UPN: "UPN"}

# ASN.1 string tags a Name value may carry, with the codec that reads them. T61String is read as Latin-1,
# as OpenSSL does; the strict types are read leniently because cryptography already refused them.
_STRING_CODECS: dict[int, str] = {
    12: "utf-8",  # UTF8String
    18: "ascii",  # NumericString
    19: "ascii",  # PrintableString
    20: "latin-1",  # T61String
    22: "ascii",  # IA5String
    26: "ascii",  # VisibleString
    28: "utf-32-be",  # UniversalString
    30: "utf-16-be",  # BMPString
}

_MAX_REASON = 240


# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateSummary:
    """What tlscap shows and checks of one certificate; every field is filled, even for broken DER.

    `serial` is the INTEGER's content octets in lowercase hex, as Wireshark shows them without the colons
    (so a positive serial whose top bit is set keeps its leading `00`, and a negative one is two's
    complement). `key_usage` is None when the extension is absent; `extended_key_usage` is empty then.
    `parse_error` is None when `cryptography` read every field; otherwise one line saying what it refused
    (the fields were then read by tlscap's own DER reader where possible).

    The lists are shared by every caller of the cache: treat them as read-only.
    """

    der: bytes
    subject: str
    issuer: str
    subject_name: x509.Name | None
    issuer_name: x509.Name | None
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    sha256: str
    public_key: str
    signature_algorithm: str
    extended_key_usage: list[str] = field(hash=False)
    key_usage: list[str] | None = field(hash=False)
    basic_constraints_ca: bool | None
    subject_alt_names: list[str] = field(hash=False)
    self_issued: bool
    parse_error: str | None
    # Key identifiers (lowercase hex of the extension's keyIdentifier; None when absent or unreadable) and
    # the Authority Information Access caIssuers URLs: what links a certificate to its issuer by key.
    subject_key_id: str | None = None
    authority_key_id: str | None = None
    ca_issuers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The DESIGN's CERT object for the JSON report (times as `YYYY-MM-DDTHH:MM:SSZ`, or null)."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": _format_time(self.not_before),
            "not_after": _format_time(self.not_after),
            "sha256": self.sha256,
            "public_key": self.public_key,
            "signature_algorithm": self.signature_algorithm,
            "extended_key_usage": list(self.extended_key_usage),
            "subject_alt_names": list(self.subject_alt_names),
        }


def _format_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- a small DER reader


class _DerError(ValueError):
    """The bytes are not the DER this reader expected; the message says where."""


@dataclass(frozen=True, slots=True)
class _Tlv:
    """One DER element: `tag` is its identifier octet, the content is buf[start:end]."""

    tag: int
    start: int
    end: int
    header_start: int


def _read_header(buf: bytes, pos: int, limit: int) -> tuple[int, int, int]:
    """(tag, content start, content length) of the element at `pos`. Lenient about non-minimal lengths."""
    if pos + 2 > limit:
        raise _DerError(f"truncated element header at offset {pos}")
    tag = buf[pos]
    cursor = pos + 1
    if tag & 0x1F == 0x1F:  # high tag number form: skip its continuation octets
        while cursor < limit and buf[cursor] & 0x80:
            cursor += 1
        cursor += 1
    if cursor >= limit:
        raise _DerError(f"truncated element header at offset {pos}")
    first = buf[cursor]
    cursor += 1
    if first < 0x80:
        return tag, cursor, first
    if first == 0x80:
        raise _DerError(f"indefinite length at offset {pos}")
    count = first & 0x7F
    if count > 4 or cursor + count > limit:
        raise _DerError(f"bad length at offset {pos}")
    return tag, cursor + count, int.from_bytes(buf[cursor : cursor + count], "big")


def _read_tlv(buf: bytes, pos: int, limit: int) -> _Tlv:
    """Read the element at `pos`; its content must end by `limit`."""
    tag, start, length = _read_header(buf, pos, limit)
    if start + length > limit:
        raise _DerError(f"element at offset {pos} claims {length} bytes, only {limit - start} remain")
    return _Tlv(tag, start, start + length, pos)


def _read_clamped(buf: bytes, pos: int, limit: int) -> _Tlv:
    """Like _read_tlv, but an element claiming more bytes than remain ends where the bytes end.

    Certificates cut by a capture's snap length still show the fields that arrived.
    """
    tag, start, length = _read_header(buf, pos, limit)
    return _Tlv(tag, start, min(start + length, limit), pos)


def _children(buf: bytes, parent: _Tlv) -> list[_Tlv]:
    """The elements inside a constructed element, in order."""
    out: list[_Tlv] = []
    pos = parent.start
    while pos < parent.end:
        child = _read_tlv(buf, pos, parent.end)
        out.append(child)
        pos = child.end
    return out


def _expect(tlv: _Tlv, tag: int, what: str) -> _Tlv:
    if tlv.tag != tag:
        raise _DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{tlv.tag:02x}")
    return tlv


def _decode_oid(content: bytes) -> str:
    """Dotted string of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise _DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(arc) for arc in head + arcs[1:])


def _oid_at(buf: bytes, tlv: _Tlv) -> str:
    return _decode_oid(buf[_expect(tlv, 0x06, "OID").start : tlv.end])


# --------------------------------------------------------------------------- names


class _RawNameAttribute(x509.NameAttribute):  # type: ignore[type-arg]
    """An attribute whose value is not a string we can decode; it prints as RFC 4514 `#<hex of its TLV>`."""

    def rfc4514_string(self, attr_name_overrides: object = None) -> str:
        return f"{self.rfc4514_attribute_name}={self.value}"


def _new_attribute(
    oid: x509.ObjectIdentifier, value: str | bytes, asn1_type: _ASN1Type
) -> x509.NameAttribute:
    """A NameAttribute keeping the wire's string type, without cryptography's length checks.

    Real certificates carry three-letter countries and 70-character CNs; refusing them would lose the name.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.NameAttribute(oid, value, _type=asn1_type, _validate=False)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        attribute = x509.NameAttribute.__new__(x509.NameAttribute)
        attribute._oid = oid  # type: ignore[attr-defined]
        attribute._value = value  # type: ignore[attr-defined]
        attribute._type = asn1_type  # type: ignore[attr-defined]
        return attribute


def _raw_attribute(oid: x509.ObjectIdentifier, tlv_bytes: bytes) -> x509.NameAttribute:
    attribute = _RawNameAttribute.__new__(_RawNameAttribute)
    attribute._oid = oid  # type: ignore[attr-defined]
    attribute._value = "#" + tlv_bytes.hex()  # type: ignore[attr-defined]
    attribute._type = _ASN1Type.OctetString  # type: ignore[attr-defined]
    return attribute


def _make_oid(dotted: str) -> x509.ObjectIdentifier:
    return x509.ObjectIdentifier(dotted)


def _attribute_from_der(buf: bytes, atv: _Tlv) -> x509.NameAttribute:
    """One AttributeTypeAndValue, decoded by hand."""
    parts = _children(buf, _expect(atv, 0x30, "AttributeTypeAndValue"))
    if len(parts) != 2:
        raise _DerError("AttributeTypeAndValue must hold a type and a value")
    try:
        oid = _make_oid(_oid_at(buf, parts[0]))
    except ValueError as exc:
        raise _DerError(f"attribute type: {exc}") from exc
    value = parts[1]
    content = buf[value.start : value.end]
    codec = _STRING_CODECS.get(value.tag)
    if codec is not None:
        # Lenient: a byte the type forbids is kept visible (U+FFFD) rather than losing the whole name.
        text = content.decode(codec, errors="replace")
        return _new_attribute(oid, text, _ASN1Type(value.tag))
    if value.tag == 0x03 and oid.dotted_string == _OID_X500_UNIQUE_IDENTIFIER and content:
        return _new_attribute(oid, content[1:], _ASN1Type.BitString)
    return _raw_attribute(oid, buf[value.header_start : value.end])


def _name_from_der(buf: bytes, name_tlv: _Tlv) -> x509.Name:
    """A Name (RDNSequence) decoded by hand, keeping string types and multi-valued RDNs."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for rdn_tlv in _children(buf, _expect(name_tlv, 0x30, "Name")):
        attributes: list[x509.NameAttribute] = []
        for atv in _children(buf, _expect(rdn_tlv, 0x31, "RelativeDistinguishedName")):
            attribute = _attribute_from_der(buf, atv)
            if attribute not in attributes:  # cryptography refuses duplicates within one RDN
                attributes.append(attribute)
        if attributes:
            rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def _parse_name_by_hand(der: bytes) -> x509.Name:
    top = _read_tlv(der, 0, len(der))
    if top.end != len(der):
        raise _DerError(f"{len(der) - top.end} bytes after the Name")
    return _name_from_der(der, top)


def parse_name_der(der: bytes) -> x509.Name | None:
    """The `x509.Name` encoded in `der` (a DER RDNSequence), or None when it cannot be read at all.

    `cryptography` reads it when it can; a name it refuses (a NUL or `_` in a PrintableString, bad UTF-8,
    an unexpected value type) is decoded by hand, keeping string types and multi-valued RDNs. Cached:
    a server sends the same CA list on every connection.
    """
    return _parse_name_cached(bytes(der))


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def _parse_name_cached(data: bytes) -> x509.Name | None:
    from_bytes = getattr(x509.Name, "from_bytes", None)  # cryptography >= 44
    if from_bytes is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a three-letter country: read it, do not print a warning
                name = from_bytes(data)
            if isinstance(name, x509.Name):
                return name
        except Exception:  # noqa: BLE001 - any refusal means: try our own reader
            pass
    try:
        return _parse_name_by_hand(data)
    except (_DerError, ValueError, TypeError):
        return None


def _name_string(name: x509.Name | None) -> str:
    if name is None:
        return ""
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - a hand-built value cryptography cannot print
        return ",".join(
            "+".join(f"{attr.oid.dotted_string}=#{str(attr.value).encode().hex()}" for attr in rdn)
            for rdn in reversed(name.rdns)
        )


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def name_to_rfc4514(der: bytes) -> str:
    """RFC 4514 string of a DER Name as `cryptography` prints it; `#<hex>` of the bytes if unreadable."""
    name = parse_name_der(der)
    return "#" + bytes(der).hex() if name is None else _name_string(name)


# --------------------------------------------------------------------------- certificate by hand


@dataclass(slots=True)
class _HandCertificate:
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


def _parse_time(buf: bytes, tlv: _Tlv) -> datetime | None:
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


def _describe_spki_by_hand(buf: bytes, spki: _Tlv) -> str:
    """'RSA 2048', 'EC secp256r1', 'Ed25519', ... from a SubjectPublicKeyInfo's DER."""
    algorithm, key_bits = _children(buf, _expect(spki, 0x30, "SubjectPublicKeyInfo"))[:2]
    alg_parts = _children(buf, _expect(algorithm, 0x30, "AlgorithmIdentifier"))
    oid = _oid_at(buf, alg_parts[0])
    params = alg_parts[1] if len(alg_parts) > 1 else None
    if oid in _PLAIN_KEY_NAMES:
        return _PLAIN_KEY_NAMES[oid]
    if oid in (_OID_RSA, _OID_RSA_PSS):
        key_der = buf[key_bits.start + 1 : key_bits.end]  # skip the unused-bits octet
        rsa_key = _read_tlv(key_der, 0, len(key_der))
        modulus = _children(key_der, rsa_key)[0]
        return f"RSA {int.from_bytes(key_der[modulus.start : modulus.end], 'big').bit_length()}"
    if oid == _OID_EC:
        if params is not None and params.tag == 0x06:
            curve = _oid_at(buf, params)
            return f"EC {_CURVE_NAMES.get(curve, curve)}"
        if params is not None and params.tag == 0x30:
            return "EC (explicit parameters)"
        return "EC (no named curve)"
    if oid == _OID_DSA and params is not None and params.tag == 0x30:
        prime = _children(buf, params)[0]
        return f"DSA {int.from_bytes(buf[prime.start : prime.end], 'big').bit_length()}"
    return f"unknown ({oid})"


def _general_name_by_hand(buf: bytes, tlv: _Tlv) -> str:
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
        return "RID:" + _decode_oid(content)
    if number == 4:
        inner = _read_tlv(buf, tlv.start, tlv.end)
        return "DirName:" + _name_string(_name_from_der(buf, inner))
    if number == 0:
        parts = _children(buf, tlv)
        type_id = _oid_at(buf, parts[0])
        return _format_other_name(type_id, buf[parts[1].start : parts[1].end] if len(parts) > 1 else b"")
    return f"[{number}]:#{content.hex()}"


def _format_other_name(type_id: str, value_der: bytes) -> str:
    """'othername:UPN:user@example.com' when the value is a string, else 'othername:<oid>'."""
    label = _OTHER_NAME_LABELS.get(type_id, type_id)
    try:
        inner = _read_tlv(value_der, 0, len(value_der))
        codec = _STRING_CODECS.get(inner.tag)
        if codec is not None:
            return f"othername:{label}:{value_der[inner.start : inner.end].decode(codec, errors='replace')}"
    except _DerError:
        pass
    return f"othername:{label}"


def _bits_to_key_usage(content: bytes) -> list[str]:
    bits = content[1:]  # first octet counts unused bits
    return [
        name
        for index, name in enumerate(_KEY_USAGE_BITS)
        if index // 8 < len(bits) and bits[index // 8] & (0x80 >> (index % 8))
    ]


def _read_extensions_by_hand(buf: bytes, wrapper: _Tlv, out: _HandCertificate) -> None:
    """EKU, KeyUsage, BasicConstraints and SAN out of the [3] EXPLICIT Extensions."""
    for extension in _children(buf, _read_tlv(buf, wrapper.start, wrapper.end)):
        parts = _children(buf, extension)
        oid = _oid_at(buf, parts[0])
        value = _expect(parts[-1], 0x04, "extnValue")
        inner = _read_tlv(buf, value.start, value.end)
        if oid == "2.5.29.37":
            out.extended_key_usage = [
                _EKU_NAMES.get(purpose, purpose)
                for purpose in (_oid_at(buf, t) for t in _children(buf, inner))
            ]
        elif oid == "2.5.29.15":
            out.key_usage = _bits_to_key_usage(buf[inner.start : inner.end])
        elif oid == "2.5.29.19":
            fields = _children(buf, inner)
            out.basic_constraints_ca = bool(fields and fields[0].tag == 0x01 and buf[fields[0].start] != 0)
        elif oid == "2.5.29.17":
            out.subject_alt_names = [_general_name_by_hand(buf, name) for name in _children(buf, inner)]


def _fields_partial(buf: bytes, parent: _Tlv) -> tuple[list[_Tlv], str | None]:
    """The elements inside `parent` up to the first unreadable one, and why reading stopped."""
    out: list[_Tlv] = []
    pos = parent.start
    while pos < parent.end:
        try:
            child = _read_tlv(buf, pos, parent.end)
        except _DerError as exc:
            return out, str(exc)
        out.append(child)
        pos = child.end
    return out, None


_TBS_FIELDS = ("serialNumber", "signature", "issuer", "validity", "subject", "subjectPublicKeyInfo")


def _parse_certificate_by_hand(der: bytes) -> _HandCertificate:
    """Walk Certificate → TBSCertificate as far as the bytes allow; never raises."""
    out = _HandCertificate()
    try:
        certificate = _read_clamped(der, 0, len(der))
        tbs = _expect(_read_clamped(der, certificate.start, certificate.end), 0x30, "TBSCertificate")
        fields, stopped = _fields_partial(der, tbs)
        if fields and fields[0].tag == 0xA0:
            fields = fields[1:]  # [0] EXPLICIT version
        if len(fields) < len(_TBS_FIELDS):
            missing = _TBS_FIELDS[len(fields)]
            stopped = f"certificate ends before its {missing}" + (f" ({stopped})" if stopped else "")
        # One reader per TBSCertificate field, in order; a truncated certificate runs the first few.
        readers = (
            lambda f: setattr(out, "serial", der[_expect(f, 0x02, "serialNumber").start : f.end].hex()),
            lambda f: setattr(out, "signature_oid", _oid_at(der, _children(der, f)[0])),
            lambda f: setattr(out, "issuer", _name_from_der(der, f)),
            lambda f: _read_validity(der, f, out),
            lambda f: setattr(out, "subject", _name_from_der(der, f)),
            lambda f: setattr(out, "public_key", _describe_spki_by_hand(der, f)),
        )
        for reader, tlv in zip(readers, fields, strict=False):
            reader(tlv)
        for extra in fields[len(readers) :]:
            if extra.tag == 0xA3:
                _read_extensions_by_hand(der, extra, out)
        out.error = stopped
    except (_DerError, IndexError, ValueError, TypeError) as exc:
        out.error = str(exc) or type(exc).__name__
    return out


def _read_validity(buf: bytes, tlv: _Tlv, out: _HandCertificate) -> None:
    times = _children(buf, _expect(tlv, 0x30, "Validity"))
    out.not_before = _parse_time(buf, times[0])
    out.not_after = _parse_time(buf, times[1])


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
        certificate = _read_tlv(data, 0, len(data))
        tbs, algorithm, signature = _children(data, _expect(certificate, 0x30, "Certificate"))[:3]
        _expect(tbs, 0x30, "TBSCertificate")
        alg_parts = _children(data, _expect(algorithm, 0x30, "signatureAlgorithm"))
        params = alg_parts[1] if len(alg_parts) > 1 else None
        fields = _children(data, tbs)
        if fields and fields[0].tag == 0xA0:
            fields = fields[1:]
        spki = _expect(fields[5], 0x30, "SubjectPublicKeyInfo")
        return SignedParts(
            tbs=data[tbs.header_start : tbs.end],
            signature_algorithm_oid=_oid_at(data, alg_parts[0]),
            signature_parameters=b"" if params is None else data[params.header_start : params.end],
            signature=data[_expect(signature, 0x03, "signature").start + 1 : signature.end],
            subject_public_key_info=data[spki.header_start : spki.end],
        )
    except (_DerError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- with cryptography


@functools.lru_cache(maxsize=4096)
def _load_cached(der: bytes) -> tuple[x509.Certificate | None, str | None, list[str]]:
    """(certificate, why it could not be loaded, warnings cryptography gave while loading)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            certificate = x509.load_der_x509_certificate(der)
        except Exception as exc:  # noqa: BLE001 - cryptography raises several types for bad input
            return None, _one_line(exc), []
    return certificate, None, [str(w.message) for w in caught]


def load_certificate(der: bytes) -> x509.Certificate | None:
    """The `cryptography` certificate for `der` (cached), or None if `cryptography` refuses it."""
    return _load_cached(bytes(der))[0]


def _one_line(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _serial_hex(number: int) -> str:
    """The INTEGER's minimal two's-complement content octets in hex (what DER carries)."""
    width = ((number if number >= 0 else ~number).bit_length() + 8) // 8
    return number.to_bytes(width, "big", signed=True).hex()


def _oid_label(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    if name and name != "Unknown OID":
        return str(name)
    return _SIGNATURE_NAMES_EXTRA.get(oid.dotted_string, oid.dotted_string)


def _signature_name(dotted: str) -> str:
    try:
        return _oid_label(_make_oid(dotted))
    except ValueError:
        return dotted


def _describe_key(certificate: x509.Certificate) -> str | None:
    """Key description via cryptography; None when the key type is not one it names."""
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    for key_type, label in (
        (ed25519.Ed25519PublicKey, "Ed25519"),
        (ed448.Ed448PublicKey, "Ed448"),
        (x25519.X25519PublicKey, "X25519"),
        (x448.X448PublicKey, "X448"),
    ):
        if isinstance(key, key_type):
            return label
    return None


def _general_name(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DNSName):
        return "DNS:" + name.value
    if isinstance(name, x509.IPAddress):
        return "IP:" + str(name.value)
    if isinstance(name, x509.RFC822Name):
        return "email:" + name.value
    if isinstance(name, x509.UniformResourceIdentifier):
        return "URI:" + name.value
    if isinstance(name, x509.DirectoryName):
        return "DirName:" + _name_string(name.value)
    if isinstance(name, x509.RegisteredID):
        return "RID:" + name.value.dotted_string
    if isinstance(name, x509.OtherName):
        return _format_other_name(name.type_id.dotted_string, name.value)
    return str(name)


def _key_usage_names(usage: x509.KeyUsage) -> list[str]:
    flags = [
        usage.digital_signature,
        usage.content_commitment,
        usage.key_encipherment,
        usage.data_encipherment,
        usage.key_agreement,
        usage.key_cert_sign,
        usage.crl_sign,
        usage.key_agreement and usage.encipher_only,
        usage.key_agreement and usage.decipher_only,
    ]
    return [name for name, flag in zip(_KEY_USAGE_BITS, flags, strict=True) if flag]


@dataclass(slots=True)
class _Extensions:
    extended_key_usage: list[str]
    key_usage: list[str] | None
    basic_constraints_ca: bool | None
    subject_alt_names: list[str]


def _extensions(certificate: x509.Certificate) -> _Extensions:
    """The four extensions the report uses, read with cryptography (raises if it refuses them)."""
    out = _Extensions([], None, None, [])
    for extension in certificate.extensions:
        value = extension.value
        if isinstance(value, x509.ExtendedKeyUsage):
            out.extended_key_usage = [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in value]
        elif isinstance(value, x509.KeyUsage):
            out.key_usage = _key_usage_names(value)
        elif isinstance(value, x509.BasicConstraints):
            out.basic_constraints_ca = value.ca
        elif isinstance(value, x509.SubjectAlternativeName):
            out.subject_alt_names = [_general_name(name) for name in value]
    return out


@dataclass(frozen=True, slots=True)
class _KeyLinks:
    subject_key_id: str | None = None
    authority_key_id: str | None = None
    ca_issuers: tuple[str, ...] = ()


def _key_links(certificate: x509.Certificate | None) -> _KeyLinks:
    """SKI, AKI and caIssuers via cryptography; each left empty where it is absent or refused (they are
    evidence for the verdict, never shown as a field of their own, so a refusal is not a parse error)."""
    if certificate is None:
        return _KeyLinks()
    found: dict[type, object] = {}
    for extension_type in (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier, x509.AuthorityInformationAccess):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found[extension_type] = certificate.extensions.get_extension_for_class(extension_type).value
        except Exception:  # noqa: BLE001 - absent, or a form cryptography refuses: no link from it
            continue
    ski = found.get(x509.SubjectKeyIdentifier)
    aki = found.get(x509.AuthorityKeyIdentifier)
    aia = found.get(x509.AuthorityInformationAccess)
    urls: tuple[str, ...] = ()
    if isinstance(aia, x509.AuthorityInformationAccess):
        urls = tuple(d.access_location.value for d in aia
                     if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS
                     and isinstance(d.access_location, x509.UniformResourceIdentifier))
    return _KeyLinks(
        subject_key_id=ski.digest.hex() if isinstance(ski, x509.SubjectKeyIdentifier) else None,
        authority_key_id=(aki.key_identifier.hex() if isinstance(aki, x509.AuthorityKeyIdentifier)
                          and aki.key_identifier else None),
        ca_issuers=urls,
    )


_T = TypeVar("_T")


class _Reader:
    """Reads each field with cryptography, falling back to the hand reader and noting what failed."""

    def __init__(self, der: bytes) -> None:
        self.der = der
        self.problems: list[str] = []
        self._hand: _HandCertificate | None = None
        self.certificate, load_error, self.warnings = _load_cached(der)
        if load_error is not None:
            self.problems.append(f"cryptography cannot load it ({load_error})")

    @property
    def hand(self) -> _HandCertificate:
        if self._hand is None:
            self._hand = _parse_certificate_by_hand(self.der)
            if self._hand.error is not None:
                self.problems.append(f"DER reader stopped: {_one_line(self._hand.error)}")
        return self._hand

    def read(
        self,
        what: str,
        from_certificate: Callable[[x509.Certificate], _T | None],
        from_hand: Callable[[_HandCertificate], _T],
    ) -> _T:
        """The field via cryptography; where it refuses (or has no answer), via the hand reader."""
        if self.certificate is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # loading already recorded them
                    value = from_certificate(self.certificate)
                if value is not None:
                    return value
            except Exception as exc:  # noqa: BLE001 - any refusal: the hand reader fills the field
                self.problems.append(f"{what}: {_one_line(exc)}")
        return from_hand(self.hand)


def _hand_extensions(hand: _HandCertificate) -> _Extensions:
    return _Extensions(
        hand.extended_key_usage, hand.key_usage, hand.basic_constraints_ca, hand.subject_alt_names
    )


def _summarize(der: bytes) -> CertificateSummary:
    reader = _Reader(der)
    subject_name = reader.read("subject", lambda c: c.subject, lambda h: h.subject)
    issuer_name = reader.read("issuer", lambda c: c.issuer, lambda h: h.issuer)
    serial = reader.read("serial", lambda c: _serial_hex(c.serial_number), lambda h: h.serial or "")
    not_before = reader.read("not_before", lambda c: c.not_valid_before_utc, lambda h: h.not_before)
    not_after = reader.read("not_after", lambda c: c.not_valid_after_utc, lambda h: h.not_after)
    signature_algorithm = reader.read(
        "signature algorithm",
        lambda c: _oid_label(c.signature_algorithm_oid),
        lambda h: _signature_name(h.signature_oid) if h.signature_oid else "unknown",
    )
    public_key = reader.read("public key", _describe_key, lambda h: h.public_key or "unknown")
    extensions = reader.read("extensions", _extensions, _hand_extensions)
    links = _key_links(reader.certificate)

    # A two's-complement top bit means negative. Zero is left unflagged on purpose: several long-lived
    # roots (Go Daddy, Starfield, CAcert) carry it.
    if serial and int(serial[0], 16) >= 8:
        reader.problems.append("serial number is negative; RFC 5280 §4.1.2.2 requires a positive one")
    for message in reader.warnings:
        if "serial number" not in message:  # said in our words above (or, for zero, on purpose not)
            reader.problems.append(f"cryptography warns: {_one_line(message)}")

    return CertificateSummary(
        der=der,
        subject=_name_string(subject_name),
        issuer=_name_string(issuer_name),
        subject_name=subject_name,
        issuer_name=issuer_name,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        sha256=hashlib.sha256(der).hexdigest(),
        public_key=public_key,
        signature_algorithm=signature_algorithm,
        extended_key_usage=extensions.extended_key_usage,
        key_usage=extensions.key_usage,
        basic_constraints_ca=extensions.basic_constraints_ca,
        subject_alt_names=extensions.subject_alt_names,
        self_issued=names_equal(subject_name, issuer_name),
        parse_error=_join_problems(reader.problems),
        subject_key_id=links.subject_key_id,
        authority_key_id=links.authority_key_id,
        ca_issuers=links.ca_issuers,
    )


def _join_problems(problems: Iterable[str]) -> str | None:
    unique = list(dict.fromkeys(problems))
    return _one_line("; ".join(unique)) if unique else None


@functools.lru_cache(maxsize=4096)
def _summarize_cached(der: bytes) -> CertificateSummary:
    return _summarize(der)


def summarize_certificate(der: bytes) -> CertificateSummary:
    """Summarize a DER certificate; never raises, whatever the bytes (see `parse_error`).

    Results are cached by content (4096 entries), so a certificate sent on every connection is read once.
    """
    try:
        return _summarize_cached(bytes(der))
    except Exception as exc:  # noqa: BLE001 - last resort: a report must never die on one certificate
        data = bytes(der)
        return CertificateSummary(
            der=data,
            subject="",
            issuer="",
            subject_name=None,
            issuer_name=None,
            serial="",
            not_before=None,
            not_after=None,
            sha256=hashlib.sha256(data).hexdigest(),
            public_key="unknown",
            signature_algorithm="unknown",
            extended_key_usage=[],
            key_usage=None,
            basic_constraints_ca=None,
            subject_alt_names=[],
            self_issued=False,
            parse_error=_one_line(f"unreadable certificate ({type(exc).__name__}: {exc})"),
        )
