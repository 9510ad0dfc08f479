"""Build the small test PKI that the sample captures use.

Written with `cryptography` rather than the openssl CLI because openssl 3.0
cannot easily issue certificates whose validity lies in the past (the
expired client certificate, valid 2024-01-01 .. 2025-01-01).

Usage: make_pki.py OUT_DIR     (every file in OUT_DIR is rewritten)

Everything written here is test material: the private keys are not secret.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Fixed dates keep the certificates' meaning stable whenever the samples are remade.
CA_NOT_BEFORE = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
CA_NOT_AFTER = dt.datetime(2038, 1, 1, tzinfo=dt.UTC)
LEAF_NOT_BEFORE = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
LEAF_NOT_AFTER = dt.datetime(2036, 6, 1, tzinfo=dt.UTC)
EXPIRED_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
EXPIRED_NOT_AFTER = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Issued:
    """A certificate together with its private key."""

    cert: x509.Certificate
    key: PrivateKey


def make_name(common_name: str, organization: str) -> x509.Name:
    """Return CN=…,O=…,C=US (written in the order C, O, CN as CAs usually do)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def rsa_key() -> rsa.RSAPrivateKey:
    """Return a fresh RSA 2048 key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    is_ca: bool,
    path_length: int | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    san: list[x509.GeneralName] | None = None,
) -> Issued:
    """Issue one certificate; `issuer=None` makes it self-signed."""
    signer_key = key if issuer is None else issuer.key
    issuer_name = subject if issuer is None else issuer.cert.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
        .add_extension(key_usage(is_ca=is_ca, key=key), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    authority_public = key.public_key() if issuer is None else issuer.key.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public), critical=False
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(private_key=signer_key, algorithm=hashes.SHA256())
    return Issued(cert=cert, key=key)


def key_usage(*, is_ca: bool, key: PrivateKey) -> x509.KeyUsage:
    """CAs sign certificates and CRLs; leaves sign handshakes (RSA leaves may also encipher keys)."""
    return x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=(not is_ca) and isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """PEM text of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM text of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write(out: Path, name: str, data: bytes) -> None:
    """Write one file under `out`."""
    (out / name).write_bytes(data)


def build(out: Path) -> None:
    """Create every certificate, key and bundle under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    lab, partner = "Capture Lab", "Partner Inc"
    client_auth = [ExtendedKeyUsageOID.CLIENT_AUTH]

    root = issue(
        subject=make_name("Capture Lab Root CA", lab),
        key=rsa_key(),
        issuer=None,
        not_before=CA_NOT_BEFORE,
        not_after=CA_NOT_AFTER,
        is_ca=True,
    )
    client_ca = issue(
        subject=make_name("Capture Lab Client CA", lab),
        key=rsa_key(),
        issuer=root,
        not_before=CA_NOT_BEFORE,
        not_after=CA_NOT_AFTER,
        is_ca=True,
        path_length=0,
    )
    partner_root = issue(
        subject=make_name("Partner Root CA", partner),
        key=rsa_key(),
        issuer=None,
        not_before=CA_NOT_BEFORE,
        not_after=CA_NOT_AFTER,
        is_ca=True,
    )
    server = issue(
        subject=make_name("localhost", lab),
        key=rsa_key(),
        issuer=root,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    # alice uses an EC key so the samples hold both RSA and ECDSA client certificates.
    alice = issue(
        subject=make_name("client-alice", lab),
        key=ec.generate_private_key(ec.SECP256R1()),
        issuer=client_ca,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=client_auth,
    )
    markw = issue(
        subject=make_name("client-markw", lab),
        key=rsa_key(),
        issuer=client_ca,
        not_before=EXPIRED_NOT_BEFORE,
        not_after=EXPIRED_NOT_AFTER,
        is_ca=False,
        eku=client_auth,
    )
    bob = issue(
        subject=make_name("client-bob", partner),
        key=rsa_key(),
        issuer=partner_root,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=client_auth,
    )
    carol = issue(
        subject=make_name("client-carol", lab),
        key=rsa_key(),
        issuer=root,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=client_auth,
    )

    named = {
        "root-ca": root,
        "client-ca": client_ca,
        "partner-root-ca": partner_root,
        "server": server,
        "client-alice": alice,
        "client-markw": markw,
        "client-bob": bob,
        "client-carol": carol,
    }
    for name, item in named.items():
        write(out, f"{name}.pem", cert_pem(item.cert))
        write(out, f"{name}.key", key_pem(item.key))
    # Chains a client sends: leaf first, then the intermediate.
    write(out, "client-alice-chain.pem", cert_pem(alice.cert) + cert_pem(client_ca.cert))
    write(out, "client-markw-chain.pem", cert_pem(markw.cert) + cert_pem(client_ca.cert))
    # Truststores (nginx ssl_client_certificate / openssl -CAfile).
    write(out, "trust-root-and-client-ca.pem", cert_pem(root.cert) + cert_pem(client_ca.cert))
    write(out, "trust-root-only.pem", cert_pem(root.cert))
    write(out, "trust-root-and-partner.pem", cert_pem(root.cert) + cert_pem(partner_root.cert))


def main(argv: list[str]) -> int:
    """Entry point: build the PKI in the directory given."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
