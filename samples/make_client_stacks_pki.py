"""Build the throw-away PKI of the client-stacks samples (samples/client-stacks/pki/).

The captures it serves show which TLS stacks pick their client certificate by the CA names of
the server's CertificateRequest (Java JSSE, Go crypto/tls) and which send whatever they are
given. So the PKI has one good chain, one certificate from a CA the server does not list, and
one leaf whose intermediate the client does not hold. Same conventions as make_pki.py (whose
helpers this reuses): RSA 2048, SHA-256, fixed dates, names written C, O, CN, every certificate
with SKI and AKI.

Writes NAME.pem + NAME.key for each certificate, the chains the clients hold, and the CA lists
nginx is given. The PKCS#12 keystores for Java are made from these by make_client_stacks.sh
(openssl pkcs12 / keytool), not here.

Usage: make_client_stacks_pki.py OUT_DIR     (every .pem/.key in OUT_DIR is rewritten)

Everything written here is test material: the private keys are not secret.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from make_pki import (
    CA_NOT_AFTER,
    CA_NOT_BEFORE,
    LEAF_NOT_AFTER,
    LEAF_NOT_BEFORE,
    Issued,
    cert_pem,
    issue,
    key_pem,
    make_name,
    rsa_key,
    write,
)

LAB = "Stack Lab"
# The name every client connects to (resolved to 127.0.0.1 by the capture script's hosts file):
# a name with a dot, since Java sends no server_name for a dotless one such as "localhost".
SERVER_NAME = "server.stack-lab.test"
PARTNER = "Stack Partner Inc"
CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH]


def ca(common_name: str, organization: str, issuer: Issued | None) -> Issued:
    """A CA certificate: self-signed when issuer is None; an intermediate has pathlen 0."""
    return issue(
        subject=make_name(common_name, organization),
        key=rsa_key(),
        issuer=issuer,
        not_before=CA_NOT_BEFORE,
        not_after=CA_NOT_AFTER,
        is_ca=True,
        path_length=None if issuer is None else 0,
    )


def client(common_name: str, organization: str, issuer: Issued) -> Issued:
    """A clientAuth leaf."""
    return issue(
        subject=make_name(common_name, organization),
        key=rsa_key(),
        issuer=issuer,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=CLIENT_AUTH,
    )


def build(out: Path) -> None:
    """Create every certificate, key, chain and CA list under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.pem", "*.key"):
        for old in out.glob(pattern):
            old.unlink()

    root = ca("Stack Lab Root CA", LAB, None)
    client_ca = ca("Stack Lab Client CA", LAB, root)
    partner_root = ca("Stack Partner Root CA", PARTNER, None)
    server = issue(
        subject=make_name(SERVER_NAME, LAB),
        key=rsa_key(),
        issuer=root,
        not_before=LEAF_NOT_BEFORE,
        not_after=LEAF_NOT_AFTER,
        is_ca=False,
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        san=[
            x509.DNSName(SERVER_NAME),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ],
    )
    named: dict[str, Issued] = {
        "root-ca": root,
        "client-ca": client_ca,
        "partner-root-ca": partner_root,
        "server": server,
        # Held with its intermediate: the good chain (case success).
        "client-ok": client("stack-client-ok", LAB, client_ca),
        # From a root the server does not list (case unlisted-ca); held with that root.
        "client-partner": client("stack-client-partner", PARTNER, partner_root),
        # Issued by the intermediate, held without it (case leaf-without-intermediate).
        "client-leaf-only": client("stack-client-leaf-only", LAB, client_ca),
    }
    for name, item in named.items():
        write(out, f"{name}.pem", cert_pem(item.cert))
        write(out, f"{name}.key", key_pem(item.key))
    # What each client holds: leaf first, then the rest of its chain.
    write(out, "client-ok-chain.pem", cert_pem(named["client-ok"].cert) + cert_pem(client_ca.cert))
    write(out, "client-partner-chain.pem", cert_pem(named["client-partner"].cert) + cert_pem(partner_root.cert))
    # nginx ssl_client_certificate: the CA names it lists and the CAs it verifies with.
    write(out, "trust-root-and-client-ca.pem", cert_pem(root.cert) + cert_pem(client_ca.cert))
    write(out, "trust-root-only.pem", cert_pem(root.cert))


def main(argv: list[str]) -> int:
    """Entry point: build the PKI in the directory given."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
