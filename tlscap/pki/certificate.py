"""Certificate summaries: what the report shows of an X.509 certificate, read without ever raising.

`summarize_certificate` reads a DER certificate with `cryptography` and, wherever `cryptography` refuses a
field (bad DER, a NUL byte in a PrintableString, an explicitly encoded default, an unknown key type, ...),
fills it with tlscap's own DER reader (`certificate_by_hand`), so a capture with odd certificates still
gets a report. `parse_error` then says, in one line, what was refused.

Also here: `load_certificate`, the cached `cryptography` object that chain checks verify signatures with.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from tlscap.pki.certificate_by_hand import (
    EKU_NAMES,
    KEY_USAGE_BITS,
    HandCertificate,
    format_other_name,
    parse_certificate_by_hand,
)
from tlscap.pki.der import name_rfc4514
from tlscap.pki.names import names_equal

__all__ = [
    "CertificateSummary",
    "load_certificate",
    "summarize_certificate",
]

_SIGNATURE_NAMES_EXTRA: dict[str, str] = {
    # Not all cryptography versions name these.
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    "1.2.156.10197.1.501": "SM2-with-SM3",
}

_MAX_REASON = 240


# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateSummary:
    """What tlscap shows and checks of one certificate; every field is filled, even for broken DER.

    Names say their unit and form, in the style of pyca/cryptography: `subject_rfc4514` beside the parsed
    `subject_name`, times in UTC (`not_after_utc`), digests and serials in hex. `serial_hex` is the
    INTEGER's content octets in lowercase hex, as Wireshark shows them without the colons (so a positive
    serial whose top bit is set keeps its leading `00`, and a negative one is two's complement).
    `key_usage` is None when the extension is absent; `extended_key_usage` is empty then.
    `parse_error` is None when `cryptography` read every field; otherwise one line saying what it refused
    (the fields were then read by tlscap's own DER reader where possible).

    The lists are shared by every caller of the cache: treat them as read-only.
    """

    der: bytes
    subject_rfc4514: str
    issuer_rfc4514: str
    subject_name: x509.Name | None
    issuer_name: x509.Name | None
    serial_hex: str
    not_before_utc: datetime | None
    not_after_utc: datetime | None
    sha256_hex: str
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
            "subject": self.subject_rfc4514,
            "issuer": self.issuer_rfc4514,
            "serial": self.serial_hex,
            "not_before": _format_time(self.not_before_utc),
            "not_after": _format_time(self.not_after_utc),
            "sha256": self.sha256_hex,
            "public_key": self.public_key,
            "signature_algorithm": self.signature_algorithm,
            "extended_key_usage": list(self.extended_key_usage),
            "subject_alt_names": list(self.subject_alt_names),
        }


def _format_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        return _oid_label(x509.ObjectIdentifier(dotted))
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
        return "DirName:" + name_rfc4514(name.value)
    if isinstance(name, x509.RegisteredID):
        return "RID:" + name.value.dotted_string
    if isinstance(name, x509.OtherName):
        return format_other_name(name.type_id.dotted_string, name.value)
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
    return [name for name, flag in zip(KEY_USAGE_BITS, flags, strict=True) if flag]


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
            out.extended_key_usage = [EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in value]
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
        self._hand: HandCertificate | None = None
        self.certificate, load_error, self.warnings = _load_cached(der)
        if load_error is not None:
            self.problems.append(f"cryptography cannot load it ({load_error})")

    @property
    def hand(self) -> HandCertificate:
        if self._hand is None:
            self._hand = parse_certificate_by_hand(self.der)
            if self._hand.error is not None:
                self.problems.append(f"DER reader stopped: {_one_line(self._hand.error)}")
        return self._hand

    def read(
        self,
        what: str,
        from_certificate: Callable[[x509.Certificate], _T | None],
        from_hand: Callable[[HandCertificate], _T],
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


def _hand_extensions(hand: HandCertificate) -> _Extensions:
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
        subject_rfc4514=name_rfc4514(subject_name),
        issuer_rfc4514=name_rfc4514(issuer_name),
        subject_name=subject_name,
        issuer_name=issuer_name,
        serial_hex=serial,
        not_before_utc=not_before,
        not_after_utc=not_after,
        sha256_hex=hashlib.sha256(der).hexdigest(),
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
            subject_rfc4514="",
            issuer_rfc4514="",
            subject_name=None,
            issuer_name=None,
            serial_hex="",
            not_before_utc=None,
            not_after_utc=None,
            sha256_hex=hashlib.sha256(data).hexdigest(),
            public_key="unknown",
            signature_algorithm="unknown",
            extended_key_usage=[],
            key_usage=None,
            basic_constraints_ca=None,
            subject_alt_names=[],
            self_issued=False,
            parse_error=_one_line(f"unreadable certificate ({type(exc).__name__}: {exc})"),
        )
