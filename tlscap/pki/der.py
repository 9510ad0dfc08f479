"""tlscap's own DER reader, and the distinguished names it reads.

The TLV reader (`read_tlv`, `children`, `expect`, `oid_at`, ...) walks DER that `cryptography` refuses,
for certificates (`certificate_by_hand`) and truststore files (`truststore`). `parse_name_der` reads the
DER distinguished names of a CertificateRequest and of certificates; `name_rfc4514` and
`name_to_rfc4514` render them as `cryptography` prints them.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.name import _ASN1Type

# Distinct DER names (CA lists, issuers) whose parse is remembered.
NAME_CACHE_SIZE = 4096
_OID_X500_UNIQUE_IDENTIFIER = "2.5.4.45"

# ASN.1 string tags a Name value may carry, with the codec that reads them. T61String is read as Latin-1,
# as OpenSSL does; the strict types are read leniently because cryptography already refused them.
STRING_CODECS: dict[int, str] = {
    12: "utf-8",  # UTF8String
    18: "ascii",  # NumericString
    19: "ascii",  # PrintableString
    20: "latin-1",  # T61String
    22: "ascii",  # IA5String
    26: "ascii",  # VisibleString
    28: "utf-32-be",  # UniversalString
    30: "utf-16-be",  # BMPString
}


# --------------------------------------------------------------------------- TLV reader


class DerError(ValueError):
    """The bytes are not the DER this reader expected; the message says where."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One DER element: `tag` is its identifier octet, the content is buf[start:end]."""

    tag: int
    start: int
    end: int
    header_start: int


def read_header(buf: bytes, pos: int, limit: int) -> tuple[int, int, int | None]:
    """(tag, content start, content length) of the element at `pos`; the length is None for BER's indefinite
    form. Lenient about non-minimal lengths."""
    if pos + 2 > limit:
        raise DerError(f"truncated element header at offset {pos}")
    tag = buf[pos]
    cursor = pos + 1
    if tag & 0x1F == 0x1F:  # high tag number form: skip its continuation octets
        while cursor < limit and buf[cursor] & 0x80:
            cursor += 1
        cursor += 1
    if cursor >= limit:
        raise DerError(f"truncated element header at offset {pos}")
    first = buf[cursor]
    cursor += 1
    if first < 0x80:
        return tag, cursor, first
    if first == 0x80:
        return tag, cursor, None
    count = first & 0x7F
    if count > 4 or cursor + count > limit:
        raise DerError(f"bad length at offset {pos}")
    return tag, cursor + count, int.from_bytes(buf[cursor : cursor + count], "big")


def read_tlv(buf: bytes, pos: int, limit: int) -> Tlv:
    """Read the element at `pos`; its content must end by `limit`."""
    tag, start, length = _definite_header(buf, pos, limit)
    if start + length > limit:
        raise DerError(f"element at offset {pos} claims {length} bytes, only {limit - start} remain")
    return Tlv(tag, start, start + length, pos)


def read_clamped(buf: bytes, pos: int, limit: int) -> Tlv:
    """Like `read_tlv`, but an element claiming more bytes than remain ends where the bytes end.

    Certificates cut by a capture's snap length still show the fields that arrived.
    """
    tag, start, length = _definite_header(buf, pos, limit)
    return Tlv(tag, start, min(start + length, limit), pos)


def _definite_header(buf: bytes, pos: int, limit: int) -> tuple[int, int, int]:
    tag, start, length = read_header(buf, pos, limit)
    if length is None:
        raise DerError(f"indefinite length at offset {pos}")
    return tag, start, length


def children(buf: bytes, parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element, in order."""
    out: list[Tlv] = []
    pos = parent.start
    while pos < parent.end:
        child = read_tlv(buf, pos, parent.end)
        out.append(child)
        pos = child.end
    return out


def expect(tlv: Tlv, tag: int, what: str) -> Tlv:
    """`tlv` itself when its tag is `tag`; DerError naming `what` otherwise."""
    if tlv.tag != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{tlv.tag:02x}")
    return tlv


def decode_oid(content: bytes) -> str:
    """Dotted string of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
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


def oid_at(buf: bytes, tlv: Tlv) -> str:
    """Dotted string of the OBJECT IDENTIFIER element `tlv`."""
    return decode_oid(buf[expect(tlv, 0x06, "OID").start : tlv.end])


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


def _attribute_from_der(buf: bytes, atv: Tlv) -> x509.NameAttribute:
    """One AttributeTypeAndValue, decoded by hand."""
    parts = children(buf, expect(atv, 0x30, "AttributeTypeAndValue"))
    if len(parts) != 2:
        raise DerError("AttributeTypeAndValue must hold a type and a value")
    try:
        oid = x509.ObjectIdentifier(oid_at(buf, parts[0]))
    except ValueError as exc:
        raise DerError(f"attribute type: {exc}") from exc
    value = parts[1]
    content = buf[value.start : value.end]
    codec = STRING_CODECS.get(value.tag)
    if codec is not None:
        # Lenient: a byte the type forbids is kept visible (U+FFFD) rather than losing the whole name.
        text = content.decode(codec, errors="replace")
        return _new_attribute(oid, text, _ASN1Type(value.tag))
    if value.tag == 0x03 and oid.dotted_string == _OID_X500_UNIQUE_IDENTIFIER and content:
        return _new_attribute(oid, content[1:], _ASN1Type.BitString)
    return _raw_attribute(oid, buf[value.header_start : value.end])


def name_from_der(buf: bytes, name_tlv: Tlv) -> x509.Name:
    """A Name (RDNSequence) decoded by hand, keeping string types and multi-valued RDNs."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for rdn_tlv in children(buf, expect(name_tlv, 0x30, "Name")):
        attributes: list[x509.NameAttribute] = []
        for atv in children(buf, expect(rdn_tlv, 0x31, "RelativeDistinguishedName")):
            attribute = _attribute_from_der(buf, atv)
            if attribute not in attributes:  # cryptography refuses duplicates within one RDN
                attributes.append(attribute)
        if attributes:
            rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def parse_name_by_hand(der: bytes) -> x509.Name:
    """The Name in `der` read by tlscap's reader alone; DerError (or ValueError) when it cannot be read."""
    top = read_tlv(der, 0, len(der))
    if top.end != len(der):
        raise DerError(f"{len(der) - top.end} bytes after the Name")
    return name_from_der(der, top)


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
        return parse_name_by_hand(data)
    except (DerError, ValueError, TypeError):
        return None


def name_rfc4514(name: x509.Name | None) -> str:
    """The name's RFC 4514 string ("" for None); a value `cryptography` cannot print shows as `#<hex>`."""
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
    return "#" + bytes(der).hex() if name is None else name_rfc4514(name)
