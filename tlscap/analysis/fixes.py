"""What to do about each cause, said for the side that has to act, with the commands people type.

One function per cause family; `diagnosis` picks the one that fits its verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

# How each kind of server is told which client CAs it accepts, and how it is made to read them again.
SERVER_TRUSTSTORES = (
    "nginx: ssl_client_certificate (the CAs it lists) and ssl_trusted_certificate, then `nginx -s reload`; "
    "Apache httpd: SSLCACertificateFile, then `apachectl graceful`; HAProxy: `ca-file` on the bind line, "
    "then a reload; Java: the truststore of javax.net.ssl.trustStore (keytool -importcert), then a restart"
)
CLIENT_CERT_OPTIONS = (
    "curl: --cert client.pem --key client.key; openssl s_client: -cert client.pem -key client.key; "
    "Java: -Djavax.net.ssl.keyStore=client.p12 -Djavax.net.ssl.keyStorePassword=…"
)


def listed_words(names: Sequence[str], limit: int = 3) -> str:
    if not names:
        return "any CA (the list is empty)"
    shown = "; ".join(names[:limit])
    return shown + (f"; and {len(names) - limit} more" if len(names) > limit else "")


def renew(subject: str, leaf: bool) -> str:
    if not leaf:
        return (f"Client side: send the renewed certificate of the CA {subject} in the client's chain file in place "
                "of the expired one.")
    return (f"Client side: issue a new certificate for {subject} and install it on the client ({CLIENT_CERT_OPTIONS}"
            "; for Java, import the new PKCS#12 into the keystore).")


def not_yet_valid(subject: str) -> str:
    return (f"Client side: {subject} is not valid yet. Check the clocks of the client, the server and the CA (NTP), "
            "or reissue the certificate with a start date in the past.")


def send_certificate(ca_names: Sequence[str] | None, stack_known: bool = False) -> str:
    """The fix for an empty Certificate; `ca_names` None when the capture does not show the list. Unless the
    client's stack is known to send whatever it is given, it also says that some stacks send nothing when
    their certificate is from an unlisted CA."""
    hint = "" if stack_known else (" Java, Go and browsers send no certificate when theirs is not issued by a "
                                   "listed CA.")
    issuer = ("a CA the server accepts" if ca_names is None else
              f"one of the CAs the server lists ({listed_words(ca_names)})")
    return (f"Client side: configure the client with its certificate and key ({CLIENT_CERT_OPTIONS}), issued by "
            f"{issuer}.{hint}")


def selected_out(client: str, chain_fix: str, ca_names: Sequence[str] | None, unlisted: Sequence[str]) -> str:
    """The fix for an empty Certificate from a client that picks its certificate by the CA list."""
    server = (f" Server side, if the client's certificate is from {listed_words(unlisted)} (in the truststore "
              f"given, not listed by the server): reload the server so that it lists it ({SERVER_TRUSTSTORES})."
              if unlisted else "")
    listed = f"({listed_words(ca_names)})" if ca_names is not None else "(the CA names are encrypted in this capture)"
    return (f"Client side: look at the certificate {client} holds (see decide_with). If it is issued by a CA the "
            f"server does not list {listed}, give the client one from a listed CA; if it is issued by an "
            f"intermediate under a listed CA, {chain_fix}; if it holds none, configure one.{server}")


def send_intermediates(missing: Sequence[str], issuer: str) -> str:
    names = ", then ".join(missing) if missing else issuer
    return (f"Client side: send the intermediate {names} after the client's own certificate. curl: "
            "--cert with a chain file (`cat client.pem intermediate.pem > client-chain.pem`); openssl s_client: "
            "-cert client.pem -cert_chain intermediate.pem; Java: the keystore entry must hold the whole chain "
            "(import a PKCS#12 made with `openssl pkcs12 -export -in client.pem -certfile intermediate.pem`).")


def other_ca(issuer: str, ca_names: Sequence[str]) -> str:
    return (f"Client side: the client's certificate is from {issuer}; give it a certificate issued by one of the "
            f"CAs the server accepts ({listed_words(ca_names)}) and configure it ({CLIENT_CERT_OPTIONS}).")


def reload_server(ca: str) -> str:
    return (f"Server side: make the server load the truststore that holds {ca} (add it to the file first if it is "
            f"not there), then reload it so its CertificateRequest lists {ca}. {SERVER_TRUSTSTORES}.")


def add_rekeyed(ca: str, key_id: str | None) -> str:
    key = f" (key id {key_id})" if key_id else ""
    return (f"Server side: add the re-issued certificate of {ca}{key} to the server's truststore beside the old one "
            f"and reload ({SERVER_TRUSTSTORES}); or, client side, reissue the client's certificate under the CA key "
            "the server trusts.")


def decide_first(issuer: str, ca_names: Sequence[str]) -> str:
    return (f"Settle the cause first (see decide_with): if {issuer} is an intermediate under a listed CA, the client "
            f"must send it with its certificate; if the server should accept {issuer}, add it to the server's "
            f"truststore and reload it; otherwise the client needs a certificate from a listed CA "
            f"({listed_words(ca_names)}).")


def for_issuer(cause: str, ca: str, missing: Sequence[str], ca_names: Sequence[str]) -> str:
    """The fix for an `issuer.IssuerAssessment`'s cause."""
    if cause == "client-chain-incomplete":
        return send_intermediates(missing, ca)
    if cause == "client-cert-wrong-ca":
        return other_ca(ca, ca_names)
    if cause == "server-ca-not-loaded":
        return reload_server(ca)
    return decide_first(ca, ca_names)


def wrong_usage(subject: str) -> str:
    return (f"Client side: {subject} is not a client-authentication certificate. Issue one with extendedKeyUsage "
            "clientAuth and keyUsage digitalSignature (openssl: -addext 'extendedKeyUsage=clientAuth' "
            "-addext 'keyUsage=digitalSignature') and install it on the client.")


def rebuild_chain() -> str:
    return ("Client side: rebuild the client's chain file in order: its own certificate first, then the CA that "
            "issued it, then that CA's issuer; remove certificates that do not belong.")


def renew_truststore(names: str) -> str:
    return (f"Server side: replace the expired CA certificate(s) {names} in the server's truststore with their "
            f"renewed versions and reload ({SERVER_TRUSTSTORES}).")


READ_SERVER_LOG = (
    "read the server's own reason: nginx logs it at `error_log … info` (\"client SSL certificate verify error: "
    "(10:certificate has expired)\"), Apache httpd at `LogLevel ssl:info`, Java with -Djavax.net.debug=ssl"
)
KEYLOG_HOWTO = (
    "capture again with a key log from the client (SSLKEYLOGFILE=/tmp/keys.log for curl and browsers, "
    "`openssl s_client -keylogfile`, a Java agent) and run tlscap with --keylog /tmp/keys.log"
)


# What settles a verdict the capture cannot: the client's keys, or the server's own reason.
KEYS_OR_SERVER_LOG = f"a key log of the client (--keylog); or {READ_SERVER_LOG}"


def find_reason() -> str:
    return f"Find the server's reason: {READ_SERVER_LOG}; or {KEYLOG_HOWTO}."


def client_gave_up() -> str:
    return ("Client side: if the client showed an error, it is about the server (its certificate, its name or the "
            "parameters it chose): read the client's message (curl -v, the browser's certificate error page, Java's "
            "-Djavax.net.debug=ssl). If another connection of the same client completed right after, this one was "
            "a spare and nothing needs fixing.")


def for_logged_cause(cause: str) -> str:
    """The fix for a cause the server's log names, when the capture does not show the certificate."""
    subject = "the client's certificate"
    return {
        "client-cert-expired": renew(subject, True),
        "client-cert-not-yet-valid": not_yet_valid(subject),
        "client-cert-not-sent": send_certificate(None),
        "client-cert-wrong-usage": wrong_usage(subject),
        "client-chain-broken": rebuild_chain(),
    }.get(cause, find_reason())


def capture_again(what: str) -> str:
    return f"Capture again: {what}."


NOTHING = "Nothing to fix."
