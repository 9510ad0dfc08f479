"""Which TLS stack sent a ClientHello, and how that stack picks its client certificate.

Stacks differ in what they do with a CertificateRequest's CA names (RFC 5246 §7.4.4
certificate_authorities, RFC 8446 §4.2.4):

- OpenSSL's clients (curl, openssl s_client, Python's `ssl`) and gnutls-cli send the certificate they are
  configured with, whatever the server lists; an empty Certificate from them means none is configured.
- Java (JSSE's X509KeyManager.chooseClientAlias), Go's crypto/tls (CertificateRequestInfo.SupportsCertificate),
  GnuTLS's own selection (wget), .NET/SChannel and browsers (NSS, BoringSSL) pick a certificate whose chain
  reaches one of the listed names, and send an empty Certificate when none does: the client may hold a
  certificate from an unlisted CA, or one without its intermediate.

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
    chain_fix: str = "the client's certificate file must hold its certificate, then the intermediate"


@dataclass(frozen=True, slots=True, kw_only=True)
class StackMatch:
    """A ClientHello recognized as a stack's: the stack, the client program when the table knows it, and how."""

    stack: ClientStack
    client: str | None  # "Java 17.0.15 (JSSE)", or None when only the family is known
    matched_by: str  # "JA4 …" or "feature: …"

    @property
    def label(self) -> str:
        return self.client or self.stack.name


OPENSSL = ClientStack(
    family="openssl", name="an OpenSSL client (curl, openssl s_client, Python ssl)", selects_by_ca_list=False,
    keystore_check="the --cert / -cert file the client is given: `openssl x509 -noout -subject -issuer -in client.pem`",
)
JAVA = ClientStack(
    family="java-jsse", name="Java (JSSE)", selects_by_ca_list=True,
    keystore_check="`keytool -list -v -keystore client.p12` (the keystore of -Djavax.net.ssl.keyStore): the "
                   "issuer of its PrivateKeyEntry and whether the entry holds the intermediate",
    chain_fix="the keystore entry must hold the whole chain: `openssl pkcs12 -export -in client.pem -inkey "
              "client.key -certfile intermediate.pem -out client.p12`, then point -Djavax.net.ssl.keyStore at it",
)
GO = ClientStack(
    family="go", name="Go crypto/tls", selects_by_ca_list=True,
    keystore_check="the certificate file the Go program loads (tls.LoadX509KeyPair): "
                   "`openssl crl2pkcs7 -nocrl -certfile client.pem | openssl pkcs7 -print_certs -noout` "
                   "lists the subjects and issuers it holds",
    chain_fix="the certificate file given to tls.LoadX509KeyPair must hold the leaf, then the intermediate",
)
GNUTLS = ClientStack(
    family="gnutls", name="GnuTLS", selects_by_ca_list=True,
    keystore_check="the certificate file the client is given (wget --certificate=…): `certtool -i --infile "
                   "client.pem`",
)
# gnutls-cli hands GnuTLS its certificate from its own callback, which does not look at the CA list: given a
# certificate from an unlisted CA, gnutls-cli 3.7.9 sent it where wget (GnuTLS 3.7.9 as well) sent an empty
# Certificate (samples/client-stacks/hello-gnutls-cli.pcap, hello-wget.pcap).
GNUTLS_CLI = ClientStack(
    family="gnutls", name="gnutls-cli", selects_by_ca_list=False,
    keystore_check="the --x509certfile gnutls-cli is given: `certtool -i --infile client.pem`",
)
NSS = ClientStack(
    family="nss", name="NSS (Firefox)", selects_by_ca_list=True,
    keystore_check="the browser's certificate manager (Settings → Certificates → Your Certificates): the "
                   "issuer of the certificate",
    chain_fix="import a PKCS#12 that holds the intermediate with the certificate (openssl pkcs12 -export "
              "-certfile intermediate.pem)",
)
BORINGSSL = ClientStack(
    family="boringssl", name="BoringSSL (Chrome, Chromium)", selects_by_ca_list=True,
    keystore_check="the operating system's or browser's certificate store (chrome://certificate-manager): the "
                   "issuer of the certificate",
    chain_fix="import a PKCS#12 that holds the intermediate with the certificate, or the intermediate into the "
              "certificate store",
)
SCHANNEL = ClientStack(
    family="schannel", name=".NET / SChannel", selects_by_ca_list=True,
    keystore_check="`certutil -user -store My` (or certmgr.msc): the issuer of the certificate and its chain",
    chain_fix="import the intermediate into the Intermediate Certification Authorities store (certutil -addstore CA "
              "intermediate.cer), or a PFX that holds it",
)
STACKS = (OPENSSL, JAVA, GO, GNUTLS, GNUTLS_CLI, NSS, BORINGSSL, SCHANNEL)

# (JA4 stack part, stack, the client program), each from a capture the project made; the comment says which.
_HELLOS: tuple[tuple[str, ClientStack, str], ...] = (
    # samples/tls12-*.pcap (nginx): curl --tlsv1.2 --tls-max 1.2
    ("t1228_d943125447b4_a44c6288192a", OPENSSL, "curl 7.88.1 / OpenSSL 3.0"),
    # samples/tls13-{expired-client-cert,full-chain,...}.pcap (nginx): curl --tlsv1.3
    ("t1304_16476d049b0b_303c7117418d", OPENSSL, "curl 7.88.1 / OpenSSL 3.0"),
    # samples/tls12-alert-*.pcap (s_server): openssl s_client -tls1_2
    ("t1228_d943125447b4_e7e480e5a997", OPENSSL, "openssl s_client 3.0"),
    # samples/tls13-alert-*.pcap: openssl s_client -tls1_3; samples/tls13-stacks/*-python-*.pcap: Python 3.11's
    # ssl with TLS 1.3 only sends the same hello. tls13-post-handshake-auth.pcap: s_client -enable_pha
    ("t1304_16476d049b0b_78f1d400d464", OPENSSL, "OpenSSL 3.0 (openssl s_client or Python ssl)"),
    ("t1304_16476d049b0b_cd9951635fb1", OPENSSL, "openssl s_client 3.0"),
    # samples/tls13-stacks/*-gnutls-*.pcap: gnutls-cli --priority NORMAL:-VERS-ALL:+VERS-TLS1.3
    ("t1304_9caa18292e23_2cc26d266019", GNUTLS_CLI, "gnutls-cli 3.7.9"),
    # samples/client-stacks/ (MANIFEST.tsv): each client with its defaults; Java pinned to TLS 1.2, then 1.3
    # (jdk.tls.client.protocols), and Go to 1.2 (MaxVersion), send other hellos
    ("t1331_e8f1e7e78f70_b26ce05bbdd6", OPENSSL, "curl 7.88.1 / OpenSSL 3.0"),
    ("t1331_e8f1e7e78f70_1f22a2ca17c4", OPENSSL, "openssl s_client 3.0"),
    ("t1331_e8f1e7e78f70_d41ae481755e", OPENSSL, "Python 3.11 ssl (Debian's, OpenSSL 3.0)"),
    ("t1318_85036bcba153_d41ae481755e", OPENSSL, "Python 3.11 ssl (Python's cipher list, OpenSSL 3.0)"),
    ("t1329_723694b0fccc_2cc26d266019", GNUTLS_CLI, "gnutls-cli 3.7.9"),
    ("t1329_723694b0fccc_899037bd0b8c", GNUTLS, "wget 1.21.3 (GnuTLS 3.7.9)"),
    ("t1234_0ca14b6c4d46_1f7ae294493e", JAVA, "Java 17.0.15 (JSSE)"),
    ("t1303_55b375c5d22e_c1c26d69a8d8", JAVA, "Java 17.0.15 (JSSE)"),
    ("t1216_8cdfa2d4673b_ac0d2f4ec206", GO, "Go 1.19 crypto/tls"),
    ("t1319_9dc949149365_97f8aa674fd9", GO, "Go 1.19 crypto/tls"),
    ("t1315_8daaf6152771_cb7bf5808d99", BORINGSSL, "Chromium 156"),
    ("t1315_8daaf6152771_e2d80978ab2e", BORINGSSL, "Chromium 156"),
    ("t1316_86a278354501_3cbfd9057e0d", NSS, "Firefox 153 ESR"),
    # samples/dtls/ (MANIFEST.tsv): openssl s_client -dtls1_2, with its defaults, then given one suite (-cipher
    # ECDHE-RSA-CHACHA20-POLY1305; -cipher ECDHE-RSA-AES256-SHA384 -no_etm)
    ("dd228_d943125447b4_e7e480e5a997", OPENSSL, "openssl s_client 3.0 (DTLS)"),
    ("dd202_c5d8418a506e_e7e480e5a997", OPENSSL, "openssl s_client 3.0 (DTLS)"),
    ("dd202_04f72be57293_270a4df6833b", OPENSSL, "openssl s_client 3.0 (DTLS)"),
)
KNOWN_HELLOS: dict[str, tuple[ClientStack, str]] = {part: (stack, client) for part, stack, client in _HELLOS}

_STATUS_REQUEST_V2 = "0011"  # RFC 6961; in practice only JSSE offers it


def identify(fp: ClientFingerprint) -> StackMatch | None:
    """The stack that sent a hello with these fingerprints, or None when the table does not know it."""
    part = fp.ja4_stack_part
    known = KNOWN_HELLOS.get(part)
    if known is not None:
        return StackMatch(stack=known[0], client=known[1], matched_by=f"JA4 {fp.ja4}")
    extensions = fp.ja4_r.split("_")[2].split(",")
    if _STATUS_REQUEST_V2 in extensions:
        return StackMatch(stack=JAVA, client=None, matched_by="feature: it offers status_request_v2, which only "
                                                                 "Java's JSSE sends")
    return None
