"""Certificates made in tests: a small CA hierarchy with whatever names, dates, keys and usages a test needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlscap.pki.certificate import CertificateSummary, summarize_certificate

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def name(cn: str, o: str = "Test Lab", c: str = "US") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, c),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def new_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


class Issued:
    """A certificate, its key and its summary."""

    def __init__(self, cert: x509.Certificate, key) -> None:
        self.cert = cert
        self.key = key
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.summary: CertificateSummary = summarize_certificate(self.der)


def issue(
    subject: x509.Name,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    key=None,
    not_before: datetime = NOW - timedelta(days=365),
    not_after: datetime = NOW + timedelta(days=365),
    eku: list | None = None,
    key_usage: dict | None = None,
    issuer_name: x509.Name | None = None,
) -> Issued:
    key = key or new_key()
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if key_usage is not None:
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        flags.update(key_usage)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    algorithm = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer_key, algorithm), key)


def hierarchy():
    """root → intermediate → leaf (clientAuth), as most mTLS deployments have it."""
    root = issue(name("Test Root CA"), ca=True)
    inter = issue(name("Test Client CA"), root, ca=True)
    leaf = issue(name("client-alice"), inter, eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
                 key_usage={"digital_signature": True})
    return root, inter, leaf


def name_der(n: x509.Name) -> bytes:
    return n.public_bytes()
