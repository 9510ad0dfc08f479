"""The client-certificate rules: the comparison an engineer makes by hand between the server's
CertificateRequest and the client's Certificate, and the alerts that follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography import x509

from tlscap.analysis import fixes, timeline
from tlscap.analysis.context import RuleContext
from tlscap.analysis.issuer import assess_unlisted
from tlscap.analysis.model import AlertEntry, CertificateChainInfo, Connection, Finding
from tlscap.analysis.timeline import first_message
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.chain import find_breaks
from tlscap.pki.der import parse_name_der
from tlscap.pki.names import NameKey, closest_name, normalize_name
from tlscap.tls.constants import ClientCertificateType, HandshakeType

Rule = Callable[[Connection, RuleContext], list[Finding]]
_CA_NAMES_QUOTED = 3  # CA names a finding quotes from the CertificateRequest; the rest are counted


def short_name(cert: CertificateSummary) -> str:
    """The CN= part of the subject when there is one, else the whole subject."""
    for part in cert.subject_rfc4514.split(","):
        if part.startswith("CN="):
            return part
    return cert.subject_rfc4514 or "(empty subject)"


def judged_words(at: datetime | None, when: datetime | None) -> str:
    """How to say the time `timeline.judged_time` gave."""
    if at is not None:
        return f"at the time given with --at ({at:%Y-%m-%d %H:%M:%SZ})"
    if when is None:
        return "at an unknown time"
    return f"before this handshake ({when:%Y-%m-%d %H:%M:%SZ})"


def _sent_chain(conn: Connection) -> CertificateChainInfo | None:
    cc = conn.client_certificate
    return cc if cc is not None and cc.chain else None


def rule_client_cert_not_sent(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cr = conn.certificate_request
    cc = conn.client_certificate
    if cr is None:
        return []
    no_cert_alert = next((a for a in conn.alerts if a.description == "no_certificate" and a.sender == "client"),
                         None)
    if cc is not None and not cc.chain:
        frames: tuple[int, ...] = (cr.frame, cc.frame)
        seen = f"the client answered with an empty Certificate (frame {cc.frame})"
    elif cc is None and no_cert_alert is not None:
        frames = (cr.frame, no_cert_alert.frame)
        seen = f"the client answered with a no_certificate alert (frame {no_cert_alert.frame})"
    else:
        return []
    shown = _CA_NAMES_QUOTED
    listed = (f" It lists {len(cr.ca_names)} acceptable CA name(s): " + "; ".join(cr.ca_names[:shown])
              + ("; …" if len(cr.ca_names) > shown else "") + ".") if cr.ca_names else ""
    match = conn.client_stack
    if match is None:
        why = "the client has no certificate configured, or none issued by a CA the server accepts"
    elif match.stack.selects_by_ca_list:
        why = (f"the client is {match.label}, which sends a certificate only when its chain reaches a listed CA: it "
               "may hold one from another CA, or one without its intermediate")
    else:
        why = f"the client ({match.label}) has no certificate configured"
    return [Finding(
        code="client-cert-not-sent", severity="error", frames=frames,
        message=(f"the server asked for a client certificate (CertificateRequest, frame {cr.frame}) but "
                 f"{seen}: {why}.{listed}"),
        fix=(fixes.selected_out(match.label, match.stack.chain_fix, cr.ca_names, ())
             if match is not None and match.stack.selects_by_ca_list
             else fixes.send_certificate(cr.ca_names, stack_known=match is not None)),
    )]


def rule_client_cert_validity(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cc = _sent_chain(conn)
    if cc is None:
        return []
    when = timeline.judged_time(conn, ctx.at, cc.frame)
    out: list[Finding] = []
    if when is None:
        return out
    for index, cert in enumerate(cc.chain):
        role = "client certificate" if index == 0 else f"certificate [{index}] of the client's chain"
        validity = timeline.judge_validity(cert, when)  # the judgement the walkthrough shows, not a copy of it
        if validity.expired:
            out.append(Finding(
                code="client-cert-expired", severity="error", frames=(cc.frame,),
                message=(f"the {role} {short_name(cert)} (serial {cert.serial_hex}) expired on "
                         f"{cert.not_after_utc:%Y-%m-%d %H:%M:%SZ}, {judged_words(ctx.at, when)}."),
                fix=(f"Issue a new certificate for {short_name(cert)} and install it on the client."
                     if index == 0 else
                     f"Renew the CA certificate {short_name(cert)} and send the renewed one in the chain."),
            ))
        if validity.not_yet_valid:
            out.append(Finding(
                code="client-cert-not-yet-valid", severity="error", frames=(cc.frame,),
                message=(f"the {role} {short_name(cert)} is valid only from "
                         f"{cert.not_before_utc:%Y-%m-%d %H:%M:%SZ}, after the time judged "
                         f"({when:%Y-%m-%d %H:%M:%SZ})."),
                fix=("Check the clocks of the client, the server and the CA (NTP); or wait until the "
                     "certificate becomes valid; or reissue it with a correct start date."),
            ))
    return out


def rule_issuer_not_requested(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cr = conn.certificate_request
    cc = _sent_chain(conn)
    if cr is None or cc is None or not cr.ca_names_der:
        return []
    candidates = [n for n in (parse_name_der(der) for der in cr.ca_names_der) if n is not None]
    # Equal keys are what `names_equal` means; a set of them answers for the whole chain at once.
    listed = {normalize_name(n) for n in candidates}
    for cert in cc.chain:
        if _is_listed(cert.issuer_name, listed) or _is_listed(cert.subject_name, listed):
            return []
    leaf = cc.chain[0]
    closest = ""
    if leaf.issuer_name is not None and candidates:
        index, how = closest_name(leaf.issuer_name, candidates)
        closest = f"; closest listed name: '{candidates[index].rfc4514_string()}' ({how})"
    limited = ""
    if any(frame == cc.frame for frame, _ in conn.limited):
        limited = " The chain was cut at tlscap's limit: a listed CA may be among the certificates not read."
    assessment = assess_unlisted(cc.chain, candidates, truststore=ctx.truststore,
                                 seen=ctx.capture_certificates.values())
    missing = [c.subject_rfc4514 for c in assessment.missing]
    fix = fixes.for_issuer(assessment.cause, assessment.ca, missing, cr.ca_names)
    return [Finding(
        code="client-cert-issuer-not-requested", severity="error", frames=(cr.frame, cc.frame),
        message=(f"no certificate in the client's chain (frame {cc.frame}: {len(cc.chain)} sent, leaf "
                 f"{short_name(leaf)} issued by {leaf.issuer_rfc4514}) is issued by, or is, one of the "
                 f"{len(cr.ca_names)} CA names the server lists (frame {cr.frame}){closest}. "
                 f"{assessment.reason[:1].upper()}{assessment.reason[1:]} "
                 f"({assessment.cause}, {assessment.certainty}).{limited}"),
        fix=fix,
    )]


def _is_listed(name: x509.Name | None, listed: set[NameKey]) -> bool:
    return name is not None and normalize_name(name) in listed


def rule_chain_broken(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cc = _sent_chain(conn)
    if cc is None or len(cc.chain) < 2:
        return []
    out: list[Finding] = []
    for brk in find_breaks(list(cc.chain)):
        child, parent = cc.chain[brk.index], cc.chain[brk.index + 1]
        out.append(Finding(
            code="client-chain-broken", severity="error", frames=(cc.frame,),
            message=(f"in the client's chain (frame {cc.frame}), certificate [{brk.index}] "
                     f"{short_name(child)} is not issued by the next one, [{brk.index + 1}] "
                     f"{short_name(parent)}: {brk.reason}."),
            fix=("Rebuild the client's chain file in order: its own certificate first, then the CA that "
                 "issued it, then that CA's issuer; remove certificates that do not belong."),
        ))
    return out


_CLIENT_AUTH = "clientAuth"
_ANY_EKU = "anyExtendedKeyUsage"


def rule_wrong_usage(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cc = _sent_chain(conn)
    if cc is None:
        return []
    leaf = cc.chain[0]
    problems: list[str] = []
    eku = leaf.extended_key_usage
    if eku and _CLIENT_AUTH not in eku and _ANY_EKU not in eku and "2.5.29.37.0" not in eku:
        problems.append(f"its extended key usage ({', '.join(eku)}) lacks clientAuth")
    if leaf.key_usage is not None and "digitalSignature" not in leaf.key_usage:
        problems.append(f"its key usage ({', '.join(leaf.key_usage)}) lacks digitalSignature")
    if not problems:
        return []
    return [Finding(
        code="client-cert-wrong-usage", severity="warning", frames=(cc.frame,),
        message=f"the client certificate {short_name(leaf)} is not meant for client authentication: "
                + " and ".join(problems) + ".",
        fix=("Issue the client certificate from a client-certificate profile: extendedKeyUsage = "
             "clientAuth, keyUsage = digitalSignature."),
    )]


# The signature half (low byte) of a TLS 1.2 SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1).
_TLS12_RSA, _TLS12_DSA, _TLS12_ECDSA = 1, 2, 3
# SignatureSchemes (RFC 8446 §4.2.3): rsa_pss_rsae_sha256..512, rsa_pss_pss_sha256..512, ed25519, ed448.
_RSA_PSS_SCHEMES = frozenset({0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B})
_ED25519, _ED448 = 0x0807, 0x0808
# Which TLS 1.2 certificate types and signature schemes a key kind can use.
_EC_TYPES = {ClientCertificateType.ECDSA_SIGN}  # RFC 8422 §5.5: ecdsa_sign also stands for EdDSA keys
_KEY_CERT_TYPES = {"RSA": {ClientCertificateType.RSA_SIGN}, "DSA": {ClientCertificateType.DSS_SIGN},
                   "EC": _EC_TYPES, "Ed25519": _EC_TYPES, "Ed448": _EC_TYPES}
_KEY_SCHEMES = {
    "RSA": lambda s: (s & 0xFF) == _TLS12_RSA or s in _RSA_PSS_SCHEMES,
    "DSA": lambda s: (s & 0xFF) == _TLS12_DSA,
    "EC": lambda s: (s & 0xFF) == _TLS12_ECDSA,
    "Ed25519": lambda s: s == _ED25519,
    "Ed448": lambda s: s == _ED448,
}


def _key_kind(cert: CertificateSummary) -> str | None:
    kind = cert.public_key.split(" ")[0]
    return kind if kind in _KEY_SCHEMES else None


def rule_signature_not_accepted(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cr = conn.certificate_request
    cc = _sent_chain(conn)
    if cr is None or cc is None:
        return []
    leaf = cc.chain[0]
    kind = _key_kind(leaf)
    if kind is None:
        return []
    problems: list[str] = []
    if cr.certificate_type_codes and not (_KEY_CERT_TYPES[kind] & set(cr.certificate_type_codes)):
        problems.append(f"certificate types accepted: {', '.join(cr.certificate_types)}")
    if cr.signature_algorithm_codes and not any(_KEY_SCHEMES[kind](s) for s in cr.signature_algorithm_codes):
        problems.append(f"signature algorithms accepted: {', '.join(cr.signature_algorithms)}")
    if not problems:
        return []
    return [Finding(
        code="client-cert-signature-not-accepted", severity="warning", frames=(cr.frame, cc.frame),
        message=(f"the client certificate {short_name(leaf)} has a {leaf.public_key} key, which the "
                 f"CertificateRequest (frame {cr.frame}) does not accept: " + "; ".join(problems) + "."),
        fix=("Issue the client a certificate with a key type the server accepts (commonly RSA 2048 or "
             "EC P-256), or allow this key type in the server's TLS configuration."),
    )]


def rule_ca_list_empty(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cr = conn.certificate_request
    if cr is None or cr.ca_names:
        return []
    return [Finding(
        code="ca-list-empty", severity="info", frames=(cr.frame,),
        message=(f"the CertificateRequest (frame {cr.frame}) lists no acceptable CA names, so the client "
                 "had to pick a certificate without a hint; this is legal and common (nginx with "
                 "ssl_trusted_certificate only, Java without a truststore hint, MySQL)."),
        fix=("Nothing to do unless the client sent no or the wrong certificate; then configure it "
             "explicitly, or make the server advertise its client CAs (nginx: ssl_client_certificate)."),
    )]


def rule_handshake_alert(conn: Connection, ctx: RuleContext) -> list[Finding]:
    out: list[Finding] = []
    for a in conn.alerts:
        if a.encrypted or a.description in (None, "close_notify"):
            continue
        severity = "error" if a.level == "fatal" else "warning"
        meaning = ALERT_MEANING.get(a.description or "", "see RFC 8446 §6.2")
        fix = ALERT_FIX.get(a.description or "", "Check the sender's log for why it refused the connection.")
        empty = _empty_certificate_before(conn, a)
        if empty is not None and a.sender == "server" and a.description in ("handshake_failure", "certificate_required",
                                                                              "bad_certificate"):
            meaning = (f"right after the client's empty Certificate (frame {empty.frame}): the server requires a "
                       "client certificate and got none")
            fix = fixes.send_certificate(conn.certificate_request.ca_names if conn.certificate_request else None)
        out.append(Finding(
            code="handshake-alert", severity=severity, frames=_alert_frames(a),
            message=(f"the {a.sender} sent a {a.level or 'unknown-level'} {a.description} alert "
                     f"({_alert_where(a)}): {meaning}."),
            fix=fix,
        ))
    return out


def _alert_frames(a: AlertEntry) -> tuple[int, ...]:
    return (a.frame, a.last_frame) if a.count > 1 and a.last_frame else (a.frame,)


def _alert_where(a: AlertEntry) -> str:
    """Where an alert stands; a run of identical ones is said once, with its count."""
    return f"frame {a.frame}" if a.count == 1 else f"{a.count:,} identical alerts, frames {a.frame} to {a.last_frame}"


def _empty_certificate_before(conn: Connection, alert: AlertEntry) -> CertificateChainInfo | None:
    return next((c for c in conn.client_certificates if not c.chain and c.frame <= alert.frame), None)


def rule_encrypted_alert(conn: Connection, ctx: RuleContext) -> list[Finding]:
    out: list[Finding] = []
    for a in conn.alerts:
        if not a.encrypted or conn.decrypted or a.inferred:  # inferred ones: encrypted_tls13.rule_record_sizes
            continue
        guess = _guess_encrypted_alert(conn, a)
        if guess is None:
            continue
        out.append(Finding(
            code="encrypted-alert", severity="warning", frames=_alert_frames(a),
            message=(f"the {a.sender} sent an encrypted alert ({_alert_where(a)}) {guess}. "
                     "Give --keylog to read it."),
            fix=("Capture again with a key log (SSLKEYLOGFILE on the client, or `openssl s_client "
                 "-keylogfile`) and pass it with --keylog; meanwhile, the server's error log names the reason."),
        ))
    return out


def _guess_encrypted_alert(conn: Connection, alert: AlertEntry) -> str | None:
    """What an unreadable alert most likely is, from where it stands; None for a likely close_notify."""
    sender_data = conn.client_app_data_frames if alert.sender == "client" else conn.server_app_data_frames
    if any(f < alert.frame for f in sender_data) or (conn.client_finished and conn.server_finished):
        return None  # after the handshake and data: almost always close_notify
    client_fin = first_message(conn, HandshakeType.FINISHED, "client")
    if alert.sender == "server" and client_fin is not None and client_fin.frame <= alert.frame:
        cc = conn.client_certificate
        if conn.certificate_request is not None and cc is not None:
            causes = _likely_causes(conn)
            return (f"right after the client's Finished (frame {client_fin.frame}), instead of its own "
                    f"Finished: the server rejected the handshake, most likely the client certificate "
                    f"({causes})")
        return (f"right after the client's Finished (frame {client_fin.frame}), instead of its own Finished: "
                "the server rejected the handshake (most likely decrypt_error or handshake_failure)")
    return "before the handshake finished: the handshake was refused"


def _likely_causes(conn: Connection) -> str:
    codes = {f.code for rule in (rule_client_cert_validity, rule_issuer_not_requested, rule_client_cert_not_sent)
             for f in rule(conn, RuleContext())}
    if "client-cert-expired" in codes:
        return "certificate_expired, or bad_certificate"
    if "client-cert-issuer-not-requested" in codes:
        return "unknown_ca, or bad_certificate"
    if "client-cert-not-sent" in codes:
        return "certificate_required, or handshake_failure"
    return "bad_certificate, unknown_ca or certificate_expired"


ALERT_MEANING = {
    "unknown_ca": "it does not trust the CA that issued the peer's certificate",
    "bad_certificate": "it rejected the peer's certificate (bad signature, wrong usage, or failed checks)",
    "certificate_expired": "the peer's certificate has expired or is not yet valid",
    "certificate_unknown": "it rejected the peer's certificate for a reason not further specified",
    "certificate_required": "it requires a client certificate and none was sent",
    "unsupported_certificate": "the peer's certificate is of an unsupported type",
    "certificate_revoked": "the peer's certificate was revoked",
    "handshake_failure": "no acceptable set of security parameters could be agreed",
    "protocol_version": "it does not support the offered protocol version",
    "decrypt_error": "a signature or Finished check failed (e.g. the client's CertificateVerify)",
    "unrecognized_name": "it does not serve the requested SNI name",
    "access_denied": "the peer was authenticated but is not allowed",
}
ALERT_FIX = {
    "unknown_ca": ("Make the client send a certificate issued by a CA in the server's truststore, with its "
                   "intermediates; or add the issuing CA to the truststore and reload the server."),
    "bad_certificate": ("Check the client certificate's chain, key usage (clientAuth) and signature; "
                        "the server's log names the check that failed."),
    "certificate_expired": "Renew the expired certificate (and check the clocks of both ends).",
    "certificate_required": "Configure the client with a certificate and key.",
    "handshake_failure": "Compare the versions, cipher suites and signature algorithms both ends allow.",
    "protocol_version": "Enable a TLS version both ends support (TLS 1.2 or 1.3).",
    "unrecognized_name": "Use the host name the server is configured for (SNI), or add it to the server.",
}


HTTP_ERROR_STATUS = 400  # 4xx and 5xx: the server did not serve the request
NGINX_CERT_PAGES = ("The SSL certificate error", "No required SSL certificate was sent")
_CLIENT_CERT_CODES = frozenset({
    "client-cert-not-sent", "client-cert-expired", "client-cert-not-yet-valid", "client-cert-issuer-not-requested",
    "client-chain-broken", "client-cert-wrong-usage", "client-cert-signature-not-accepted",
})


def rule_http_error(conn: Connection, ctx: RuleContext) -> list[Finding]:
    http = conn.http
    if http is None or http.status < HTTP_ERROR_STATUS:
        return []
    nginx = next((p for p in NGINX_CERT_PAGES if http.title and p in http.title), None)
    related = conn.certificate_request is not None or nginx is not None
    if not related:
        return []
    title = f" “{http.title}”" if http.title else ""
    if nginx == "No required SSL certificate was sent":
        why = "nginx's page for a client that sent no certificate (ssl_verify_client on)"
    elif nginx is not None:
        why = ("nginx's page for a client certificate that failed verification; nginx's error log names the "
               "check (e.g. 'client SSL certificate verify error: (10:certificate has expired)')")
    else:
        why = "the server rejected the request of a client that was asked for a certificate"
    return [Finding(
        code="http-error-after-handshake", severity="error", frames=(http.frame,),
        message=(f"the handshake finished, then the server answered HTTP {http.status}{title} (frame "
                 f"{http.frame}): {why}."),
        fix=("Fix the client certificate problem named by the other findings of this connection; if there is "
             "none, read the server's error log for the verification error and compare its truststore "
             "(ssl_client_certificate) with the client's issuer."),
    )]


def rule_server_log(conn: Connection, ctx: RuleContext) -> list[Finding]:
    """Each line of the server's log (--server-log) written about this connection's client certificate."""
    out = []
    for message in conn.server_log:
        at_ns = int(message.time_utc.timestamp() * 1e9)
        before = [f for f, t in conn.frame_times_ns.items() if t <= at_ns]
        frame = max(before) if before else conn.last_frame
        out.append(Finding(
            code="server-log", severity="info" if message.cause == "ok" else "error", frames=(frame,),
            message=(f"the {message.server} log ({message.source}) says at {message.time_utc:%Y-%m-%d %H:%M:%S}Z, "
                     f"for client {message.client_ip}"
                     f"{f':{message.client_port}' if message.client_port is not None else ''}: “{message.text}”."),
            fix=fixes.for_logged_cause(message.cause),
        ))
    return out


def rule_decryption_failed(conn: Connection, ctx: RuleContext) -> list[Finding]:
    if conn.key_problem is None:
        return []
    return [Finding(
        code="decryption-failed", severity="warning", frames=(conn.key_problem_frame or _client_hello_frame(conn),),
        message=(f"the key log given could not decrypt this connection: {conn.key_problem}. "
                 "What could be read without keys is reported."),
        fix=("Use the key log written by this very client during this capture (SSLKEYLOGFILE is appended to "
             "per connection; the ClientHello random must match), and check it is not cut short."),
    )]


def _client_hello_frame(conn: Connection) -> int:
    hello = first_message(conn, HandshakeType.CLIENT_HELLO, "client")
    return hello.frame if hello is not None else conn.first_frame


RULES: tuple[Rule, ...] = (
    rule_client_cert_not_sent,
    rule_client_cert_validity,
    rule_issuer_not_requested,
    rule_chain_broken,
    rule_wrong_usage,
    rule_signature_not_accepted,
    rule_ca_list_empty,
    rule_handshake_alert,
    rule_encrypted_alert,
    rule_http_error,
    rule_decryption_failed,
    rule_server_log,
)
