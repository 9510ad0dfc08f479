"""Is one certificate issued by another? Name and signature checks over a chain as it was sent.

A certificate is issued by the next one when its issuer name equals the next one's subject (RFC 5280
§7.1, see `names`) and its signature verifies with the next one's public key. A signature that cannot be
checked (a key type `cryptography` does not support, a certificate it cannot load) is reported as
`signature_valid=None` and does not by itself break a chain.

The signature check of a pair of certificates is remembered by their DER (bounded), so a chain sent on
every connection is verified once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from tlscap.pki.certificate import CertificateSummary, load_certificate
from tlscap.pki.certificate_by_hand import SignedParts, split_signed
from tlscap.pki.names import explain_difference, names_equal

__all__ = ["ChainBreak", "IssuanceCheck", "check_signature", "find_breaks", "is_issued_by"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuanceCheck:
    """Result of checking that `child` was issued by `parent`.

    `signature_valid` is None when the signature could not be checked. `reason` is None only when the
    names match and the signature verified; otherwise it says, for a human, what failed or was not checked.
    """

    name_matches: bool
    signature_valid: bool | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """Names match and the signature did not fail (an unchecked signature counts as not failed)."""
        return self.name_matches and self.signature_valid is not False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBreak:
    """Certificate `index` of a sent chain is not issued by certificate `issuer_index` (= index + 1).

    `reason` says why in words, without the indexes (e.g. "its issuer 'CN=Old CA' is not the subject ...").
    """

    index: int
    issuer_index: int
    name_matches: bool
    signature_valid: bool | None
    reason: str


class _WrongKeyType(Exception):
    """The issuer's key cannot have made this kind of signature."""


# Signature algorithms checked from raw DER when cryptography cannot load the certificate.
_HAND_SIGNATURES: dict[str, tuple[str, type[hashes.HashAlgorithm] | None]] = {
    "1.2.840.113549.1.1.4": ("rsa", hashes.MD5),
    "1.2.840.113549.1.1.5": ("rsa", hashes.SHA1),
    "1.2.840.113549.1.1.14": ("rsa", hashes.SHA224),
    "1.2.840.113549.1.1.11": ("rsa", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("rsa", hashes.SHA384),
    "1.2.840.113549.1.1.13": ("rsa", hashes.SHA512),
    "1.2.840.10045.4.1": ("ecdsa", hashes.SHA1),
    "1.2.840.10045.4.3.1": ("ecdsa", hashes.SHA224),
    "1.2.840.10045.4.3.2": ("ecdsa", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", hashes.SHA384),
    "1.2.840.10045.4.3.4": ("ecdsa", hashes.SHA512),
    "1.2.840.10040.4.3": ("dsa", hashes.SHA1),
    "2.16.840.1.101.3.4.3.1": ("dsa", hashes.SHA224),
    "2.16.840.1.101.3.4.3.2": ("dsa", hashes.SHA256),
    "1.3.101.112": ("ed25519", None),
    "1.3.101.113": ("ed448", None),
}


def _verify_with_key(certificate: x509.Certificate, key: object) -> None:
    """Verify `certificate`'s signature with `key`.

    Raises InvalidSignature, _WrongKeyType, or whatever cryptography raises for what it does not support.
    """
    signature = certificate.signature
    data = certificate.tbs_certificate_bytes
    params = certificate.signature_algorithm_parameters
    if isinstance(key, rsa.RSAPublicKey):
        hash_algorithm = certificate.signature_hash_algorithm
        if not isinstance(params, padding.PKCS1v15 | padding.PSS) or hash_algorithm is None:
            raise _WrongKeyType
        key.verify(signature, data, params, hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(params, ec.ECDSA):
            raise _WrongKeyType
        key.verify(signature, data, params)
    elif isinstance(key, dsa.DSAPublicKey):
        hash_algorithm = certificate.signature_hash_algorithm
        if hash_algorithm is None or params is not None and not isinstance(params, hashes.HashAlgorithm):
            raise _WrongKeyType
        key.verify(signature, data, hash_algorithm)
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        if params is not None or certificate.signature_hash_algorithm is not None:
            raise _WrongKeyType
        key.verify(signature, data)
    else:
        verify = getattr(key, "verify", None)  # e.g. ML-DSA keys in recent cryptography
        if verify is None:
            raise UnsupportedAlgorithm(f"no verification for {type(key).__name__}")
        verify(signature, data)


def _verify_parts(parts: SignedParts, key: object) -> None:
    """Verify a signature cut out by hand (`cryptography` refused the certificate): PKCS#1, (EC)DSA, EdDSA."""
    family, hash_type = _HAND_SIGNATURES.get(parts.signature_algorithm_oid, ("", None))
    signature, data = parts.signature, parts.tbs
    if family == "rsa" and hash_type is not None:
        if not isinstance(key, rsa.RSAPublicKey):
            raise _WrongKeyType
        key.verify(signature, data, padding.PKCS1v15(), hash_type())
    elif family == "ecdsa" and hash_type is not None:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise _WrongKeyType
        key.verify(signature, data, ec.ECDSA(hash_type()))
    elif family == "dsa" and hash_type is not None:
        if not isinstance(key, dsa.DSAPublicKey):
            raise _WrongKeyType
        key.verify(signature, data, hash_type())
    elif family in ("ed25519", "ed448"):
        key_type = ed25519.Ed25519PublicKey if family == "ed25519" else ed448.Ed448PublicKey
        if not isinstance(key, key_type):
            raise _WrongKeyType
        key.verify(signature, data)
    else:
        raise UnsupportedAlgorithm(
            f"signature algorithm {parts.signature_algorithm_oid} is not checked by hand"
        )


# Distinct (certificate, issuer) pairs whose signature check is remembered.
SIGNATURE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What checking one signature gave; `error` is the exception's text for the unsupported kinds."""

    kind: Literal["valid", "invalid", "wrong-key-type", "unreadable-issuer", "unsupported-key", "unsupported"]
    error: str = ""


def _issuer_key(parent_der: bytes) -> tuple[object | None, _Verdict | None]:
    """The parent's public key (via cryptography, or from its raw SubjectPublicKeyInfo), or why not."""
    parent_cert = load_certificate(parent_der)
    try:
        if parent_cert is not None:
            return parent_cert.public_key(), None
        parts = split_signed(parent_der)
        if parts is None:
            return None, _Verdict("unreadable-issuer")
        return serialization.load_der_public_key(parts.subject_public_key_info), None
    except Exception as exc:  # noqa: BLE001 - unsupported or malformed keys raise several types
        return None, _Verdict("unsupported-key", str(exc))


def _verify(child_der: bytes, parent_der: bytes, key: object) -> None:
    child_cert, parent_cert = load_certificate(child_der), load_certificate(parent_der)
    if child_cert is None:
        parts = split_signed(child_der)
        if parts is None:
            raise UnsupportedAlgorithm("the certificate cannot be read")
        _verify_parts(parts, key)
        return
    verify_directly = getattr(child_cert, "verify_directly_issued_by", None)  # cryptography >= 40
    if verify_directly is not None and parent_cert is not None and child_cert.issuer == parent_cert.subject:
        try:
            verify_directly(parent_cert)
            return
        except (TypeError, ValueError, UnsupportedAlgorithm):
            pass  # e.g. a key type it does not verify this way: try by hand below
    _verify_with_key(child_cert, key)


@functools.lru_cache(maxsize=SIGNATURE_CACHE_SIZE)
def _signature_verdict(child_der: bytes, parent_der: bytes) -> _Verdict:
    """Check `child_der`'s signature with `parent_der`'s key (remembered: it depends on the DER alone)."""
    key, problem = _issuer_key(parent_der)
    if problem is not None:
        return problem
    try:
        _verify(child_der, parent_der, key)
        return _Verdict("valid")
    except InvalidSignature:
        return _Verdict("invalid")
    except _WrongKeyType:
        return _Verdict("wrong-key-type")
    except Exception as exc:  # noqa: BLE001 - unknown algorithms/parameters raise several types
        return _Verdict("unsupported", str(exc))


def check_signature(child: CertificateSummary, parent: CertificateSummary) -> tuple[bool | None, str | None]:
    """(True, None) when `parent`'s key verifies `child`, (False, why) when not, (None, why) if unknown."""
    verdict = _signature_verdict(bytes(child.der), bytes(parent.der))
    kind = verdict.kind
    if kind == "valid":
        return True, None
    if kind == "invalid":
        return False, f"the signature does not verify with the public key of {parent.subject_rfc4514!r}"
    if kind == "wrong-key-type":
        return False, (
            f"it is signed with {child.signature_algorithm}, which the issuer's {parent.public_key} key "
            "cannot have made"
        )
    if kind == "unreadable-issuer":
        return None, "signature not checked: the issuer's certificate cannot be read"
    if kind == "unsupported-key":
        return None, (
            f"signature not checked: the issuer's key ({parent.public_key}) is not supported ({verdict.error})"
        )
    return None, f"signature not checked: {child.signature_algorithm} is not supported here ({verdict.error})"


def _names_match(child: CertificateSummary, parent: CertificateSummary) -> bool:
    if child.issuer_name is not None and parent.subject_name is not None:
        return names_equal(child.issuer_name, parent.subject_name)
    return bool(child.issuer_rfc4514) and child.issuer_rfc4514 == parent.subject_rfc4514


def is_issued_by(child: CertificateSummary, parent: CertificateSummary) -> IssuanceCheck:
    """Check `child`'s issuer name against `parent`'s subject, and `child`'s signature with `parent`'s key."""
    name_matches = _names_match(child, parent)
    signature_valid, signature_note = check_signature(child, parent)
    reasons: list[str] = []
    if not name_matches:
        difference = explain_difference(child.issuer_name, parent.subject_name)
        reasons.append(
            f"its issuer {child.issuer_rfc4514!r} is not the subject {parent.subject_rfc4514!r} of the next "
            "certificate "
            f"({difference})"
        )
    if signature_valid is False and name_matches:
        reasons.append(
            f"the names match but {signature_note}: it was signed by another key with the same name "
            "(for example a re-created CA), or changed after it was signed"
        )
    elif signature_note is not None:
        reasons.append(signature_note)
    return IssuanceCheck(
        name_matches=name_matches,
        signature_valid=signature_valid,
        reason="; ".join(reasons) if reasons else None,
    )


def find_breaks(chain: list[CertificateSummary]) -> list[ChainBreak]:
    """Every place in a sent chain (leaf first) where certificate i is not issued by certificate i + 1."""
    breaks: list[ChainBreak] = []
    for index in range(len(chain) - 1):
        check = is_issued_by(chain[index], chain[index + 1])
        if not check.ok:
            breaks.append(
                ChainBreak(
                    index=index,
                    issuer_index=index + 1,
                    name_matches=check.name_matches,
                    signature_valid=check.signature_valid,
                    reason=check.reason or "not issued by the next certificate",
                )
            )
    return breaks
