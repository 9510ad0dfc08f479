"""Build the PKI of the verdict samples (samples/verdict/pki/).

Each client certificate here exists to make one mutual-TLS handshake fail for one
reason (expired, not yet valid, wrong key usage, unknown CA, missing intermediate,
CA re-issued with a new key, truststore file changed but not reloaded). Same
conventions as make_pki.py (whose helpers this reuses): RSA 2048, SHA-256, fixed
dates, names written C, O, CN, every certificate with SKI and AKI.

Usage: make_verdict_pki.py OUT_DIR     (every file in OUT_DIR is rewritten)

Everything written here is test material: the private keys are not secret.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from make_pki import (
    CA_NOT_AFTER,
    CA_NOT_BEFORE,
    EXPIRED_NOT_AFTER,
    EXPIRED_NOT_BEFORE,
    LEAF_NOT_AFTER,
    LEAF_NOT_BEFORE,
    Issued,
    PrivateKey,
    cert_pem,
    key_pem,
    key_usage,
    make_name,
    rsa_key,
    write,
)

FUTURE_NOT_BEFORE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # client-future: not valid yet
REKEYED_NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # client-ca-rekeyed: the re-issued CA
G2_AIA_URL = "http://pki.example.test/client-ca-g2.crt"

CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH]
SERVER_AUTH = [ExtendedKeyUsageOID.SERVER_AUTH]


def issue(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    not_before: dt.datetime = LEAF_NOT_BEFORE,
    not_after: dt.datetime = LEAF_NOT_AFTER,
    is_ca: bool = False,
    path_length: int | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    san: list[x509.GeneralName] | None = None,
    aia_ca_issuers: str | None = None,
) -> Issued:
    """make_pki.issue, plus an optional AuthorityInformationAccess caIssuers URL."""
    signer_key = key if issuer is None else issuer.key
    issuer_name = subject if issuer is None else issuer.cert.subject
    authority_public = key.public_key() if issuer is None else issuer.key.public_key()
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
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if aia_ca_issuers:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia_ca_issuers),
                    )
                ]
            ),
            critical=False,
        )
    cert = builder.sign(private_key=signer_key, algorithm=hashes.SHA256())
    return Issued(cert=cert, key=key)


def ca(common_name: str, issuer: Issued | None, organization: str = "Example Corp", **kw: object) -> Issued:
    """A CA certificate (self-signed when issuer is None; an intermediate has pathlen 0)."""
    return issue(
        subject=make_name(common_name, organization),
        key=rsa_key(),
        issuer=issuer,
        not_before=kw.pop("not_before", CA_NOT_BEFORE),  # type: ignore[arg-type]
        not_after=CA_NOT_AFTER,
        is_ca=True,
        path_length=None if issuer is None else 0,
    )


def client(common_name: str, issuer: Issued, organization: str = "Example Corp", **kw: object) -> Issued:
    """A client certificate, clientAuth unless `eku` says otherwise."""
    kw.setdefault("eku", CLIENT_AUTH)
    return issue(subject=make_name(common_name, organization), key=rsa_key(), issuer=issuer, **kw)  # type: ignore[arg-type]


def build(out: Path) -> None:
    """Create every certificate, key, chain and truststore under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.pem"):
        old.unlink()
    for old in out.glob("*.key"):
        old.unlink()

    root = ca("Example Root CA", None)
    client_ca = ca("Example Client CA", root)
    server = issue(
        subject=make_name("localhost", "Example Corp"),
        key=rsa_key(),
        issuer=root,
        eku=SERVER_AUTH,
        san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    foreign_root = ca("Foreign Root CA", None, organization="Other Inc")
    g1 = ca("Example Client CA G1", None)
    g2 = ca("Example Client CA G2", None)
    # Same subject as client-ca, same issuer, a new key: a CA "renewed" with a re-key.
    client_ca_rekeyed = ca("Example Client CA", root, not_before=REKEYED_NOT_BEFORE)
    assert client_ca_rekeyed.cert.subject == client_ca.cert.subject

    named: dict[str, Issued] = {
        "root-ca": root,
        "client-ca": client_ca,
        "server": server,
        "client-ok": client("client-ok", client_ca),
        "client-expired": client(
            "client-expired", client_ca, not_before=EXPIRED_NOT_BEFORE, not_after=EXPIRED_NOT_AFTER
        ),
        "client-future": client("client-future", client_ca, not_before=FUTURE_NOT_BEFORE),
        "client-serverauth": client("client-serverauth", client_ca, eku=SERVER_AUTH),
        "client-dave": client("client-dave", client_ca),
        "foreign-root-ca": foreign_root,
        "client-foreign": client("client-foreign", foreign_root, organization="Other Inc"),
        "client-ca-g1": g1,
        "client-ca-g2": g2,
        "client-g1": client("client-g1", g1),
        "client-g2": client("client-g2", g2, aia_ca_issuers=G2_AIA_URL),
        "client-ca-rekeyed": client_ca_rekeyed,
        "client-rekeyed": client("client-rekeyed", client_ca_rekeyed),
    }
    for name, item in named.items():
        write(out, f"{name}.pem", cert_pem(item.cert))
        write(out, f"{name}.key", key_pem(item.key))
    # Chains a client sends: leaf first, then its intermediate.
    for leaf in ("client-ok", "client-expired", "client-future", "client-serverauth", "client-dave"):
        write(out, f"{leaf}-chain.pem", cert_pem(named[leaf].cert) + cert_pem(client_ca.cert))
    write(out, "client-rekeyed-chain.pem", cert_pem(named["client-rekeyed"].cert) + cert_pem(client_ca_rekeyed.cert))
    # Truststores (nginx ssl_client_certificate / openssl -CAfile / tlscap --truststore).
    write(out, "trust-root-and-client-ca.pem", cert_pem(root.cert) + cert_pem(client_ca.cert))
    write(out, "trust-root-only.pem", cert_pem(root.cert))
    write(out, "trust-g1.pem", cert_pem(g1.cert))
    write(out, "trust-g1-g2.pem", cert_pem(g1.cert) + cert_pem(g2.cert))
    write(out, "trust-root-and-rekeyed.pem", cert_pem(root.cert) + cert_pem(client_ca_rekeyed.cert))


def main(argv: list[str]) -> int:
    """Entry point: build the PKI in the directory given."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
