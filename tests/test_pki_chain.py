"""Issuance checks over a sent chain: issuer name against the next subject, and the signature with its key.

A root CA (RSA) issues an intermediate (EC), which issues leaves (Ed25519, RSA); broken chains are built
with a wrong issuer name, and with the right name but another key.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from tlscap.pki.certificate import CertificateSummary, summarize_certificate
from tlscap.pki.certificate_by_hand import split_signed
from tlscap.pki.chain import ChainBreak, IssuanceCheck, check_signature, find_breaks, is_issued_by

CORPUS_FILES = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "files"
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def name(common_name: str, organization: str = "Capture Lab", kind: _ASN1Type | None = None) -> x509.Name:
    cn = (
        x509.NameAttribute(NameOID.COMMON_NAME, common_name, _type=kind)
        if kind
        else x509.NameAttribute(NameOID.COMMON_NAME, common_name)
    )
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization), cn])


def issue(
    subject: x509.Name,
    key: object,
    issuer: x509.Name,
    signer: object,
    *,
    ca: bool = False,
    rsa_padding: padding.AsymmetricPadding | None = None,
) -> CertificateSummary:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    hash_algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    if rsa_padding is not None:
        cert = builder.sign(signer, hash_algorithm, rsa_padding=rsa_padding)  # type: ignore[arg-type]
    else:
        cert = builder.sign(signer, hash_algorithm)  # type: ignore[arg-type]
    return summarize_certificate(cert.public_bytes(serialization.Encoding.DER))


class Pki:
    """Root (RSA) → intermediate (EC) → leaf (Ed25519); plus an impostor root with the same name."""

    def __init__(self) -> None:
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ed25519.Ed25519PrivateKey.generate()
        self.impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root_name = name("Capture Lab Root CA")
        self.inter_name = name("Capture Lab Client CA")
        self.root = issue(self.root_name, self.root_key, self.root_name, self.root_key, ca=True)
        self.impostor = issue(self.root_name, self.impostor_key, self.root_name, self.impostor_key, ca=True)
        self.inter = issue(self.inter_name, self.inter_key, self.root_name, self.root_key, ca=True)
        self.leaf = issue(name("client-markw"), self.leaf_key, self.inter_name, self.inter_key)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def test_good_chain_has_no_breaks(pki: Pki) -> None:
    assert find_breaks([pki.leaf, pki.inter, pki.root]) == []
    check = is_issued_by(pki.leaf, pki.inter)
    assert check == IssuanceCheck(name_matches=True, signature_valid=True, reason=None)
    assert check.ok
    assert is_issued_by(pki.inter, pki.root).ok
    assert is_issued_by(pki.root, pki.root).ok  # self-signed
    assert find_breaks([]) == [] and find_breaks([pki.leaf]) == []


def test_wrong_issuer_name(pki: Pki) -> None:
    # Signed by the intermediate's key, but naming an old CA as its issuer.
    stray = issue(name("client-old"), pki.leaf_key, name("Old Client CA"), pki.inter_key)
    check = is_issued_by(stray, pki.inter)
    assert check.name_matches is False
    assert check.signature_valid is True  # the signature is checked even when the names differ
    assert not check.ok
    assert check.reason is not None
    assert "its issuer 'CN=Old Client CA,O=Capture Lab' is not the subject" in check.reason
    assert "CN differs: 'Old Client CA' vs 'Capture Lab Client CA'" in check.reason
    breaks = find_breaks([stray, pki.inter, pki.root])
    assert [(b.index, b.issuer_index, b.name_matches, b.signature_valid) for b in breaks] == [
        (0, 1, False, True)
    ]
    assert breaks[0].reason == check.reason


def test_right_name_wrong_key(pki: Pki) -> None:
    check = is_issued_by(pki.inter, pki.impostor)
    assert (check.name_matches, check.signature_valid, check.ok) == (True, False, False)
    assert check.reason is not None and "signed by another key with the same name" in check.reason
    breaks = find_breaks([pki.leaf, pki.inter, pki.impostor])
    assert breaks == [
        ChainBreak(index=1, issuer_index=2, name_matches=True, signature_valid=False, reason=breaks[0].reason)
    ]


def test_wrong_name_and_wrong_key(pki: Pki) -> None:
    check = is_issued_by(pki.leaf, pki.root)
    assert (check.name_matches, check.signature_valid) == (False, False)
    assert check.reason is not None and "CN differs" in check.reason


def test_names_equal_by_rfc5280_but_not_bytes(pki: Pki) -> None:
    # Issuer written as an upper-case PrintableString: the same CA by RFC 5280, different DER.
    shouted = name("CAPTURE LAB CLIENT CA", "capture lab", kind=_ASN1Type.PrintableString)
    leaf = issue(name("client-2"), pki.leaf_key, shouted, pki.inter_key)
    check = is_issued_by(leaf, pki.inter)
    assert check == IssuanceCheck(name_matches=True, signature_valid=True, reason=None)


def test_key_type_cannot_have_made_the_signature(pki: Pki) -> None:
    # An EC-signed certificate "issued" by a root of the same name that holds an RSA key.
    ec_signed = issue(name("client-3"), pki.leaf_key, pki.root_name, pki.inter_key)
    check = is_issued_by(ec_signed, pki.root)
    assert (check.name_matches, check.signature_valid) == (True, False)
    assert check.reason is not None and "ecdsa-with-SHA256, which the issuer's RSA 2048 key" in check.reason


def test_rsa_pss_and_ed25519_issuers(pki: Pki) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    leaf = issue(name("client-pss"), pki.leaf_key, pki.root_name, pki.root_key, rsa_padding=pss)
    assert leaf.signature_algorithm == "rsassaPss"
    assert is_issued_by(leaf, pki.root).signature_valid is True
    assert is_issued_by(leaf, pki.impostor).signature_valid is False

    ed_ca = issue(name("Ed CA"), pki.leaf_key, name("Ed CA"), pki.leaf_key, ca=True)
    ed_leaf = issue(name("client-ed"), pki.inter_key, name("Ed CA"), pki.leaf_key)
    assert is_issued_by(ed_leaf, ed_ca).ok
    assert is_issued_by(ed_leaf, ed_ca).signature_valid is True


def test_dsa_issuer() -> None:
    key = dsa.generate_private_key(key_size=2048)
    ca = issue(name("DSA CA"), key, name("DSA CA"), key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(name("client-dsa"), leaf_key, name("DSA CA"), key)
    assert ca.public_key == "DSA 2048"
    assert is_issued_by(leaf, ca) == IssuanceCheck(name_matches=True, signature_valid=True, reason=None)
    other = issue(name("DSA CA"), leaf_key, name("DSA CA"), leaf_key, ca=True)
    assert is_issued_by(leaf, other).signature_valid is False


def test_unreadable_certificates(pki: Pki) -> None:
    garbage = summarize_certificate(b"\x30\x03\x02\x01\x01")
    check = is_issued_by(garbage, pki.root)
    assert check.name_matches is False and check.signature_valid is None and not check.ok
    assert check.reason is not None and "signature not checked" in check.reason
    reverse = is_issued_by(pki.root, garbage)
    assert reverse.signature_valid is None and not reverse.ok
    breaks = find_breaks([pki.leaf, garbage])
    assert len(breaks) == 1 and breaks[0].signature_valid is None


def resign(
    summary: CertificateSummary, old: bytes, new: bytes, signer: rsa.RSAPrivateKey
) -> CertificateSummary:
    """Patch bytes of the TBSCertificate (same length) and sign it again (PKCS#1 v1.5, SHA-256)."""
    assert len(old) == len(new) and summary.der.count(old) == 1
    der = summary.der.replace(old, new)
    parts = split_signed(der)
    assert parts is not None
    signature = signer.sign(parts.tbs, padding.PKCS1v15(), hashes.SHA256())
    return summarize_certificate(der[: -len(signature)] + signature)


def test_signature_checked_by_hand_when_cryptography_refuses_the_certificate(pki: Pki) -> None:
    # A NUL in a PrintableString: cryptography will not load the certificate; the signature is still checked.
    subject = name("nulzx", kind=_ASN1Type.PrintableString)
    original = issue(subject, pki.leaf_key, pki.root_name, pki.root_key)
    patched = resign(original, b"nulzx", b"nul\x00x", pki.root_key)
    assert patched.parse_error and patched.parse_error.startswith("cryptography cannot load it")
    assert check_signature(patched, pki.root) == (True, None)
    assert is_issued_by(patched, pki.root).ok
    assert check_signature(patched, pki.impostor)[0] is False
    # Patched but not signed again: the signature no longer matches.
    tampered = summarize_certificate(original.der.replace(b"nulzx", b"nul\x00x"))
    assert check_signature(tampered, pki.root)[0] is False
    # A refused certificate as the issuer: its key is read from the raw SubjectPublicKeyInfo.
    ca_name = name("nulzx CA", kind=_ASN1Type.PrintableString)
    ca = resign(
        issue(ca_name, pki.root_key, pki.root_name, pki.root_key, ca=True),
        b"nulzx",
        b"nul\x00x",
        pki.root_key,
    )
    child = resign(
        issue(name("client-4"), pki.leaf_key, ca_name, pki.root_key), b"nulzx", b"nul\x00x", pki.root_key
    )
    assert child.issuer_rfc4514 == ca.subject_rfc4514 == "CN=nul\\00x CA,O=Capture Lab"
    assert is_issued_by(child, ca) == IssuanceCheck(name_matches=True, signature_valid=True, reason=None)


needs_tshark = pytest.mark.usefixtures("tshark_and_corpus")  # conftest: fails, never skips


def corpus_chains(relative: str) -> list[list[CertificateSummary]]:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(CORPUS_FILES / relative), "-Y", "tls.handshake.certificates"]
        + ["-T", "fields", "-e", "tls.handshake.certificate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    ).stdout
    return [
        [summarize_certificate(bytes.fromhex(h)) for h in line.split(",") if h]
        for line in out.splitlines()
        if line.strip()
    ]


@needs_tshark
def test_corpus_chains() -> None:
    # A real three-certificate chain (leaf, intermediate, self-signed root with serial 0) verifies.
    chains = [c for c in corpus_chains("zeek/missing-intermediate.pcap") if len(c) == 3]
    assert chains and find_breaks(chains[0]) == []
    # suricata-verify altered these certificates after signing: names and signature both tell.
    (issuer_zero,) = [
        c for c in corpus_chains("suricata-verify/tls__tls-issuer-zero__input.pcap") if len(c) == 2
    ]
    (broken,) = find_breaks(issuer_zero)
    assert (broken.index, broken.name_matches, broken.signature_valid) == (0, False, False)
    assert "CN differs: 'Microsoft RSA TL\\x00 CA 01' vs 'Microsoft RSA TLS CA 01'" in broken.reason
    (subject_zero,) = [
        c for c in corpus_chains("suricata-verify/tls__tls-subject-zero__input.pcap") if len(c) == 2
    ]
    (broken,) = find_breaks(subject_zero)
    assert (broken.name_matches, broken.signature_valid) == (True, False)
    # ML-DSA-44, self-signed.
    (ml_dsa,) = corpus_chains("zeek/ml-dsa-44-cert.pcap")[0][:1]
    assert is_issued_by(ml_dsa, ml_dsa).name_matches
    # None where the installed cryptography has no ML-DSA.
    assert is_issued_by(ml_dsa, ml_dsa).signature_valid in (True, None)
