"""Which TLS stack sent a ClientHello, and how that stack picks its client certificate.

Stacks differ in what they do with a CertificateRequest's CA names (RFC 5246 §7.4.4
certificate_authorities, RFC 8446 §4.2.4):

- OpenSSL's command-line clients, curl, wget and Python's `ssl` send the certificate they are
  configured with, whatever the server lists; an empty Certificate from them means none is configured.
- Java (JSSE's X509KeyManager.chooseClientAlias), Go's crypto/tls (CertificateRequestInfo.SupportsCertificate),
  GnuTLS, .NET/SChannel and browsers (NSS, BoringSSL) pick a certificate whose chain reaches one of the
  listed names, and send an empty Certificate when none does: the client may hold a certificate from an
  unlisted CA, or one without its intermediate.

`KNOWN_HELLOS` maps a hello's JA4 stack part (`ClientFingerprint.ja4_stack_part`: what stays the same
whatever the server) to the stack; each entry comes from a capture of that client that the project made
(samples/client-stacks/MANIFEST.tsv, samples/). A hello not in the table is matched by a feature only one
family sends (Java's status_request_v2), else it stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlscap.tls.fingerprint import ClientFingerprint


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientStack:
    """A family of TLS client implementations."""

    family: str  # short identifier: "openssl", "java-jsse", "go", "gnutls", "nss", "boringssl", "schannel"
    name: str  # what a person calls it: "Java (JSSE)"
    selects_by_ca_list: bool  # sends only a certificate whose chain reaches a listed CA name
    keystore_check: str  # how to see which certificate (and issuer) the client holds


@dataclass(frozen=True, slots=True, kw_only=True)
class StackMatch:
    """A ClientHello recognized as a stack's: the stack, its version when the table knows it, and how."""

    stack: ClientStack
    version: str | None  # "17.0.15", or None when only the family is known
    matched_by: str  # "JA4 stack part t13…" or "feature: …"

    @property
    def label(self) -> str:
        return f"{self.stack.name} {self.version}" if self.version else self.stack.name


OPENSSL = ClientStack(
    family="openssl", name="OpenSSL (curl, openssl s_client, wget, Python ssl)", selects_by_ca_list=False,
    keystore_check="the --cert / -cert file the client is given: `openssl x509 -noout -subject -issuer -in client.pem`",
)
JAVA = ClientStack(
    family="java-jsse", name="Java (JSSE)", selects_by_ca_list=True,
    keystore_check="`keytool -list -v -keystore client.p12` (the keystore of -Djavax.net.ssl.keyStore): the "
                   "issuer of its PrivateKeyEntry and whether the entry holds the intermediate",
)
GO = ClientStack(
    family="go", name="Go crypto/tls", selects_by_ca_list=True,
    keystore_check="the certificate file the Go program loads (tls.LoadX509KeyPair): "
                   "`openssl crl2pkcs7 -nocrl -certfile client.pem | openssl pkcs7 -print_certs -noout` "
                   "lists the subjects and issuers it holds",
)
GNUTLS = ClientStack(
    family="gnutls", name="GnuTLS", selects_by_ca_list=True,
    keystore_check="the --x509certfile the client is given: `certtool -i --infile client.pem`",
)
NSS = ClientStack(
    family="nss", name="NSS (Firefox)", selects_by_ca_list=True,
    keystore_check="the browser's certificate manager (Settings → Certificates → Your Certificates): the "
                   "issuer of the certificate",
)
BORINGSSL = ClientStack(
    family="boringssl", name="BoringSSL (Chrome, Chromium)", selects_by_ca_list=True,
    keystore_check="the operating system's or browser's certificate store (chrome://certificate-manager): the "
                   "issuer of the certificate",
)
SCHANNEL = ClientStack(
    family="schannel", name=".NET / SChannel", selects_by_ca_list=True,
    keystore_check="`certutil -user -store My` (or certmgr.msc): the issuer of the certificate and its chain",
)
STACKS = (OPENSSL, JAVA, GO, GNUTLS, NSS, BORINGSSL, SCHANNEL)

# JA4 stack part -> (stack, version, the client that sent it when the table was built).
KNOWN_HELLOS: dict[str, tuple[ClientStack, str]] = {}

_STATUS_REQUEST_V2 = "0011"  # RFC 6961; in practice only JSSE offers it


def identify(fp: ClientFingerprint) -> StackMatch | None:
    """The stack that sent a hello with these fingerprints, or None when the table does not know it."""
    part = fp.ja4_stack_part
    known = KNOWN_HELLOS.get(part)
    if known is not None:
        return StackMatch(stack=known[0], version=known[1], matched_by=f"JA4 {fp.ja4}")
    extensions = fp.ja4_r.split("_")[2].split(",")
    if _STATUS_REQUEST_V2 in extensions:
        return StackMatch(stack=JAVA, version=None, matched_by="feature: it offers status_request_v2, which only "
                                                                 "Java's JSSE sends")
    return None
