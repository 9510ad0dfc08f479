"""The verdict: one cause per connection, the side that has to act, and how sure it is.

Findings are evidence; `diagnose` weighs them in this order and stops at the first that holds:

1. the capture shows nothing of the handshake (it starts after it);
2. the client certificate, when the server asked for one: none sent, a certificate outside its validity,
   a broken chain, a chain that does not reach a listed CA (`issuer.assess_unlisted`), a listed CA
   re-keyed (`issuer.assess_rekeyed`), the truststore given, the key usage, then a rejection whose
   reason the capture does not show;
3. what cut the capture (snap length, lost bytes, the file's end);
4. alerts and resets that have nothing to do with the client certificate;
5. TLS 1.3 without keys, where the rest is not visible;
6. otherwise the handshake is ok.

Symptoms (an alert, nginx's HTTP 400, a reset) are attached as evidence of the cause they follow from,
never counted as a cause of their own while the cause is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from tlscap.analysis import fixes
from tlscap.analysis.context import RuleContext
from tlscap.analysis.encrypted_tls13 import verdict_words
from tlscap.analysis.issuer import INCOMPLETE, NOT_LOADED, THREE_CAUSES, WRONG_CA, assess_rekeyed, assess_unlisted
from tlscap.analysis.model import CertificateChainInfo, Connection, Diagnosis, Finding
from tlscap.analysis.mtls_rules import ALERT_FIX, ALERT_MEANING, HTTP_ERROR_STATUS, NGINX_CERT_PAGES, short_name
from tlscap.analysis.timeline import first_message, saw_hello
from tlscap.pki.der import parse_name_der
from tlscap.pki.verify import PathResult
from tlscap.tls.constants import HandshakeType, ProtocolVersion

# Who acts, for every cause (DESIGN.md's table, and `ca-rekeyed`, which the project adds).
CAUSE_SIDES: dict[str, str] = {
    "ok": "none",
    "client-cert-not-sent": "client",
    "client-cert-expired": "client",
    "client-cert-not-yet-valid": "client",
    "client-chain-incomplete": "client",
    "client-cert-wrong-ca": "client",
    "server-ca-not-loaded": "server",
    "ca-rekeyed": "server",
    "client-cert-issuer-not-requested": "unknown",
    "client-cert-wrong-usage": "client",
    "client-chain-broken": "client",
    "server-truststore-expired": "server",
    "client-cert-rejected": "unknown",
    "handshake-failed": "unknown",
    "capture-incomplete": "capture",
    "not-visible": "unknown",
}
CAUSES = tuple(CAUSE_SIDES)
CERTAINTIES = ("certain", "likely", "undecided")

# Findings that are the cause's own evidence; SYMPTOMS follow from any failure.
_ISSUER_EVIDENCE = ("client-cert-issuer-not-requested", "ca-list-differs-from-truststore", "client-cert-untrusted")
SUPPORT: dict[str, tuple[str, ...]] = {
    "client-cert-not-sent": ("client-cert-not-sent",),
    "client-cert-expired": ("client-cert-expired",),
    "client-cert-not-yet-valid": ("client-cert-not-yet-valid",),
    "client-chain-incomplete": _ISSUER_EVIDENCE,
    "client-cert-wrong-ca": _ISSUER_EVIDENCE,
    "server-ca-not-loaded": _ISSUER_EVIDENCE,
    "ca-rekeyed": _ISSUER_EVIDENCE,
    "client-cert-issuer-not-requested": _ISSUER_EVIDENCE,
    "client-cert-wrong-usage": ("client-cert-wrong-usage", "client-cert-signature-not-accepted"),
    "client-chain-broken": ("client-chain-broken",),
    "server-truststore-expired": ("truststore-cert-expired", "client-cert-untrusted"),
    "client-cert-rejected": ("client-cert-signature-not-accepted", "inferred-rejection"),
    "handshake-failed": ("inferred-rejection",),
    "capture-incomplete": ("capture-truncated", "capture-gap", "handshake-incomplete"),
    "not-visible": ("handshake-encrypted",),
    "ok": (),
}
SYMPTOMS = ("handshake-alert", "encrypted-alert", "http-error-after-handshake", "client-cert-untrusted",
            "handshake-incomplete", "decryption-failed", "server-log")
# Causes whose fix is known; symptoms (_FOLLOWERS) of such a cause take its fix instead of a generic one.
ACTIONABLE = frozenset(CAUSE_SIDES) - {"ok", "client-cert-issuer-not-requested", "client-cert-rejected",
                                       "handshake-failed", "capture-incomplete", "not-visible"}
_FOLLOWERS = frozenset({"handshake-alert", "encrypted-alert", "http-error-after-handshake"})
# Alerts a server sends about the client's certificate.
CERTIFICATE_ALERTS = frozenset({
    "bad_certificate", "unsupported_certificate", "certificate_revoked", "certificate_expired",
    "certificate_unknown", "unknown_ca", "access_denied", "certificate_required", "no_certificate",
})


@dataclass(frozen=True, slots=True)
class _Verdict:
    """A verdict before its evidence is indexed."""

    cause: str
    certainty: str
    summary: str
    fix: str
    frames: tuple[int, ...] = ()
    alternatives: tuple[str, ...] = ()
    decide_with: str | None = None


def diagnose(conn: Connection, ctx: RuleContext) -> Diagnosis:
    """The connection's one verdict; reorders `conn.findings` so that its evidence comes first."""
    verdict = (_capture_start(conn) or _client_certificate(conn, ctx) or _capture_damage(conn)
               or _record_sizes(conn) or _handshake_failure(conn) or _not_visible(conn) or _ok(conn))
    verdict = _with_server_log(conn, verdict)
    order_findings(conn, verdict.cause)
    if verdict.cause in ACTIONABLE and verdict.certainty != "undecided":
        conn.findings = [replace(f, fix=f"As the verdict says: {verdict.fix}") if f.code in _FOLLOWERS else f
                         for f in conn.findings]
    wanted = set(SUPPORT[verdict.cause]) | (set(SYMPTOMS) if verdict.cause != "ok" else set())
    evidence = tuple(i for i, f in enumerate(conn.findings) if f.code in wanted)
    return Diagnosis(
        cause=verdict.cause, side=CAUSE_SIDES[verdict.cause], certainty=verdict.certainty,
        summary=verdict.summary, fix=verdict.fix, frames=tuple(sorted(set(verdict.frames))), evidence=evidence,
        alternatives=verdict.alternatives if verdict.certainty != "certain" else (),
        decide_with=verdict.decide_with if verdict.certainty != "certain" else None,
    )


def order_findings(conn: Connection, cause: str) -> None:
    """The cause's own findings first, then the rest in their order (most severe first)."""
    own = SUPPORT[cause]
    conn.findings.sort(key=lambda f: own.index(f.code) if f.code in own else len(own))


# --------------------------------------------------------------------------- 1. the capture's start


def _capture_start(conn: Connection) -> _Verdict | None:
    if saw_hello(conn):
        return None
    return _Verdict(
        "capture-incomplete", "certain",
        f"The capture holds no ClientHello or ServerHello of this connection (frames {conn.first_frame}–"
        f"{conn.last_frame}): it started after the handshake, which is what would show the cause.",
        fixes.capture_again("start tcpdump before the client connects (or make the client open a new connection), "
                            "with -s 0"),
        _tls_frames(conn)[:1] or (conn.first_frame,),
    )


def _tls_frames(conn: Connection) -> tuple[int, ...]:
    """The frames that carry the connection's TLS records: handshake messages, alerts, application data."""
    return tuple(sorted({h.frame for h in conn.handshake} | {a.frame for a in conn.alerts}
                        | set(conn.client_app_data_frames[:1]) | set(conn.server_app_data_frames[:1])))


def _last_message_frame(conn: Connection) -> tuple[int, ...]:
    frames = _tls_frames(conn)
    return frames[-1:] or (conn.last_frame,)


# --------------------------------------------------------------------------- 2. the client certificate


def _client_certificate(conn: Connection, ctx: RuleContext) -> _Verdict | None:
    cr = conn.certificate_request
    if cr is None:
        return _refused_without_request(conn)
    rejected = rejection(conn)
    cc = conn.client_certificate
    not_sent = _not_sent(conn, rejected)
    if not_sent is not None or cc is None or not cc.chain:
        return not_sent
    codes = {f.code: f for f in conn.findings}
    base = (cr.frame, cc.frame)
    leaf = cc.chain[0]
    for code in ("client-cert-expired", "client-cert-not-yet-valid", "client-chain-broken"):
        finding = codes.get(code)
        if finding is not None:
            return _from_finding(code, finding, cc, base, rejected)
    listed = [n for n in (parse_name_der(der) for der in cr.ca_names_der) if n is not None]
    seen = list(ctx.capture_certificates.values())
    ca_names = list(cr.ca_names)
    if "client-cert-issuer-not-requested" in codes:
        a = assess_unlisted(cc.chain, listed, truststore=ctx.truststore, seen=seen)
        fix = fixes.for_issuer(a.cause, a.ca, [c.subject_rfc4514 for c in a.missing], ca_names)
        return _Verdict(a.cause, a.certainty, _sentence(
            f"No certificate the client sent (frame {cc.frame}) is issued by a CA the server lists (frame "
            f"{cr.frame}): {a.reason}{_rejected_words(rejected)}"), fix, base, a.alternatives, a.decide_with)
    rekeyed = assess_rekeyed(cc.chain, listed, truststore=ctx.truststore, seen=seen) if listed else None
    if rekeyed is not None:
        return _Verdict(rekeyed.cause, rekeyed.certainty, _sentence(rekeyed.reason + _rejected_words(rejected)),
                        fixes.add_rekeyed(rekeyed.ca, leaf.authority_key_id), base, rekeyed.alternatives,
                        rekeyed.decide_with)
    checked = _against_truststore(conn, cc, base)
    if checked is not None:
        return checked
    usage = codes.get("client-cert-wrong-usage")
    if usage is not None:
        return _Verdict("client-cert-wrong-usage", "certain" if rejected else "likely",
                        _sentence(_capital(usage.message.rstrip(".")) + _rejected_words(rejected)),
                        fixes.wrong_usage(leaf.subject_rfc4514), base,
                        () if rejected else ("ok",),
                        None if rejected else f"whether the server accepted it: {fixes.READ_SERVER_LOG}")
    trusted = _trusted_yet_rejected(conn, cc, base, rejected)
    if trusted is not None:
        return trusted
    if rejected is not None:
        return _Verdict(
            "client-cert-rejected", "certain" if rejected[2] else "likely",
            _sentence(f"The server refused the connection after the client's certificate {leaf.subject_rfc4514} (frame "
                      f"{cc.frame}){_rejected_words(rejected)}, and nothing in the capture shows why: the "
                      "chain reaches a listed CA and is within its validity"),
            fixes.find_reason(), (*base, rejected[0]), (NOT_LOADED, WRONG_CA) if not ctx.truststore else (),
            _reason_source(ctx))
    return None


def _refused_without_request(conn: Connection) -> _Verdict | None:
    """No CertificateRequest in this handshake, yet nginx's page about the client certificate: the client
    resumed a session (a ticket or session id), which carries the certificate of the handshake that made it."""
    http = conn.http
    page = next((p for p in NGINX_CERT_PAGES if http is not None and http.title and p in http.title), None)
    if http is None or page is None:
        return None
    asked = ("the server asked for no client certificate in this handshake (it asks none when the client resumes "
             f"a session), and answered HTTP {http.status} “{http.title}” (frame {http.frame}): ")
    if page == "No required SSL certificate was sent":
        return _Verdict("client-cert-not-sent", "certain", _sentence(
            asked + "the session the client resumed was made without a client certificate"),
            fixes.send_certificate(None, stack_known=conn.client_stack is not None)
            + " Then make the client start a new session (restart it, or clear its session cache), since the "
            "resumed one carries no certificate.", (http.frame,))
    return _Verdict("client-cert-rejected", "certain", _sentence(
        asked + "the certificate of the session the client resumed failed verification"),
        fixes.find_reason(), (http.frame,))


def _not_sent(conn: Connection, rejected: tuple[int, str, bool] | None) -> _Verdict | None:
    cr = conn.certificate_request
    cc = conn.client_certificate
    assert cr is not None
    finding = next((f for f in conn.findings if f.code == "client-cert-not-sent"), None)
    if finding is None:
        return None
    accepted = conn.http is not None and conn.http.status < HTTP_ERROR_STATUS
    if accepted:
        return None  # the server asked, took none, and served the request: verification is optional there
    frame = cc.frame if cc is not None else finding.frames[-1]
    summary = (f"The server asked for a client certificate (CertificateRequest, frame {cr.frame}) and the client "
               f"sent none (frame {frame}){_rejected_words(rejected)}")
    return _by_stack(conn, _Verdict("client-cert-not-sent", "certain", _sentence(summary),
                                    fixes.send_certificate(cr.ca_names), (cr.frame, frame)), cr.ca_names)


def _by_stack(conn: Connection, verdict: _Verdict, ca_names: Sequence[str] | None) -> _Verdict:
    """An empty client Certificate, read with what the client's TLS stack does with the CA list: a stack that
    picks its certificate by the listed CA names sends nothing when its certificate is from another CA or lacks
    its intermediate, so "none configured" is then only one of the readings."""
    match = conn.client_stack
    if match is None:
        return verdict
    if not match.stack.selects_by_ca_list:
        return replace(verdict, summary=f"{verdict.summary[:-1]}: the client, {match.label} by its ClientHello, "
                                        "has no certificate configured.",
                       fix=fixes.send_certificate(ca_names, stack_known=True))
    check = conn.ca_list_check
    unlisted = tuple(check.missing) if check is not None else ()
    listed = (f"the CA names the server lists ({fixes.listed_words(ca_names)})" if ca_names is not None else
              "the CA names the server lists (encrypted here; a key log shows them)")
    summary = (f"{verdict.summary[:-1]}. The client is {match.label} (by its ClientHello), which sends a certificate "
               f"only when its chain reaches one of {listed}: it may hold a certificate from another CA, or one "
               "whose keystore entry lacks the intermediate, rather than none at all"
               + (f"; the truststore given holds {fixes.listed_words(unlisted)}, which the server does not list"
                  if unlisted else "") + ".")
    alternatives = (WRONG_CA, INCOMPLETE, *((NOT_LOADED,) if unlisted else ()))
    decide_with = (f"the issuer of the certificate the client holds, against the listed CAs: "
                   f"{match.stack.keystore_check}")
    return replace(verdict, certainty="likely", summary=summary,
                   fix=fixes.selected_out(match.label, match.stack.chain_fix, ca_names, unlisted),
                   alternatives=alternatives, decide_with=decide_with)


def _from_finding(code: str, finding: Finding, cc: CertificateChainInfo, base: tuple[int, ...],
                  rejected: tuple[int, str, bool] | None) -> _Verdict:
    leaf = cc.chain[0]
    if code == "client-cert-expired":
        expired = next((c for c in cc.chain if f"{short_name(c)} (serial {c.serial_hex})" in finding.message), leaf)
        fix = fixes.renew(expired.subject_rfc4514, expired is leaf)
    elif code == "client-cert-not-yet-valid":
        fix = fixes.not_yet_valid(leaf.subject_rfc4514)
    else:
        fix = fixes.rebuild_chain()
    return _Verdict(code, "certain", _sentence(_capital(finding.message.rstrip(".")) + _rejected_words(rejected)),
                    fix, base)


def _against_truststore(conn: Connection, cc: CertificateChainInfo, base: tuple[int, ...]) -> _Verdict | None:
    """What the truststore given says of a chain whose names reach a listed CA, when it does not verify."""
    check: PathResult | None = conn.chain_check
    if check is None or check.trusted:
        return None
    problem = check.problem
    if problem == "expired" and check.anchor is not None and check.anchor.not_after_utc is not None \
            and any(c.sha256_hex == check.anchor.sha256_hex for c in check.path[-1:]):
        return _Verdict("server-truststore-expired", "certain",
                        _sentence(f"The client's chain (frame {cc.frame}) leads to "
                                  f"{check.anchor.subject_rfc4514} in the "
                                  f"server's truststore, which had expired: {check.message}"),
                        fixes.renew_truststore(check.anchor.subject_rfc4514), base)
    if problem == "missing-intermediate":
        return _Verdict("client-chain-incomplete", "certain", _sentence(check.message),
                        fixes.send_intermediates([], check.missing_issuer or "its issuer"), base)
    if problem in ("unknown-root", "unknown-issuer"):
        certain = problem == "unknown-root"
        return _Verdict(WRONG_CA, "certain" if certain else "likely", _sentence(check.message),
                        fixes.other_ca(check.missing_issuer or "another CA", conn.certificate_request.ca_names
                                       if conn.certificate_request else ()), base,
                        () if certain else THREE_CAUSES[:1], None if certain else
                        "the certificate of the client's issuer (from the client's chain file)")
    return None


def _trusted_yet_rejected(conn: Connection, cc: CertificateChainInfo, base: tuple[int, ...],
                          rejected: tuple[int, str, bool] | None) -> _Verdict | None:
    """The chain verifies against the truststore given, and the server refused it all the same."""
    check = conn.chain_check
    if check is None or not check.trusted or rejected is None:
        return None
    return _Verdict(
        NOT_LOADED, "likely",
        _sentence(f"The client's chain (frame {cc.frame}) verifies against the truststore given, yet the server "
                  f"refused it{_rejected_words(rejected)}: the server most likely runs with another truststore"),
        fixes.reload_server(check.anchor.subject_rfc4514 if check.anchor else "the configured CA"),
        (*base, rejected[0]), ("client-cert-rejected",), fixes.READ_SERVER_LOG)


def rejection(conn: Connection) -> tuple[int, str, bool] | None:
    """Where the server visibly refused the connection: (frame, words, whether the words are readable)."""
    for a in conn.alerts:
        if a.sender == "server" and not a.encrypted and a.level == "fatal":
            return a.frame, f"its fatal {a.description} alert (frame {a.frame})", True
    http = conn.http
    if http is not None and http.status >= HTTP_ERROR_STATUS:
        title = f" “{http.title}”" if http.title else ""
        return http.frame, f"HTTP {http.status}{title} (frame {http.frame})", True
    client_fin = first_message(conn, HandshakeType.FINISHED, "client")
    for a in conn.alerts:
        if (a.sender == "server" and a.encrypted and not conn.server_finished and client_fin is not None
                and client_fin.frame <= a.frame and not conn.tls13):
            return a.frame, f"its encrypted alert right after the client's Finished (frame {a.frame})", False
    if not conn.server_finished and not conn.tls13:
        rst = next((e for e in conn.tcp_ends if e.sender == "server" and e.kind == "RST"), None)
        if rst is not None:
            return rst.frame, f"its reset (frame {rst.frame})", False
    return None


def _rejected_words(rejected: tuple[int, str, bool] | None) -> str:
    return "" if rejected is None else f"; the server refused it: {rejected[1]}"


def _reason_source(ctx: RuleContext) -> str:
    words = fixes.READ_SERVER_LOG
    if ctx.truststore is None:
        words += "; or give the truststore the server is configured with (--truststore)"
    return words


# --------------------------------------------------------------------------- 3. the capture's damage


def _capture_damage(conn: Connection) -> _Verdict | None:
    damage = [f for f in conn.findings if f.code in ("capture-truncated", "capture-gap")]
    if damage:
        truncated = damage[0].code == "capture-truncated"
        return _Verdict(
            "capture-incomplete", "certain", _sentence(_capital(damage[0].message.rstrip("."))),
            fixes.capture_again("with the full packet length (tcpdump -s 0)" if truncated else
                                "closer to an endpoint, with a larger buffer (tcpdump -B 65536), so no segment "
                                "is lost"),
            damage[0].frames)
    if conn.outcome != "incomplete":
        return None
    senders = {h.sender for h in conn.handshake}
    if conn.capture_cut is not None:
        return _Verdict("capture-incomplete", "certain",
                        _sentence(f"The capture file ends in the middle of this handshake ({conn.capture_cut})"),
                        fixes.capture_again("stop tcpdump with Ctrl-C (not kill -9) so that it finishes writing, "
                                            "and copy the whole file"), _last_message_frame(conn))
    if len(senders) == 1:
        only = next(iter(senders))
        return _Verdict("capture-incomplete", "certain",
                        f"Only the {only}'s side of the handshake is in the capture (asymmetric routing, or a capture "
                        "filter on one direction).",
                        fixes.capture_again("where both directions pass (e.g. on the server itself with -i any), "
                                            "without a one-way filter"), _tls_frames(conn)[:1] or (conn.first_frame,))
    if not conn.tcp_ends and not conn.alerts:
        return _Verdict("capture-incomplete", "certain",
                        "The capture ends before this handshake finished.",
                        fixes.capture_again("for longer, until the connection has closed"), _last_message_frame(conn))
    return None


# --------------------------------------------------------------------------- 4. TLS 1.3 record sizes


def _record_sizes(conn: Connection) -> _Verdict | None:
    words = verdict_words(conn)
    if words is None:
        return None
    cause, certainty, summary, fix, frames = words
    if cause == "client-cert-not-sent":
        return _by_stack(conn, _Verdict(cause, certainty, summary, fix, frames), None)
    alternatives: tuple[str, ...] = ()
    decide_with = None
    if certainty != "certain":
        alternatives = {"client-cert-rejected": ("client-cert-expired", "client-cert-wrong-ca",
                                                 "client-chain-incomplete"),
                        "not-visible": ("ok", "client-cert-rejected"),
                        "ok": ("client-cert-rejected",)}.get(cause, ())
        decide_with = fixes.KEYS_OR_SERVER_LOG
    return _Verdict(cause, certainty, summary, fix, frames, alternatives, decide_with)


# --------------------------------------------------------------------------- 5. other failures


def _handshake_failure(conn: Connection) -> _Verdict | None:
    # A fatal alert after the server already answered ends an exchange that worked (a Python server that
    # closes without close_notify draws a decode_error from the client): not a failed handshake.
    served = conn.server_app_data_frames[0] if conn.server_finished and conn.server_app_data_frames else None
    fatal = next((a for a in conn.alerts if not a.encrypted and a.level == "fatal"
                  and (served is None or a.frame <= served or a.sender == "server")), None)
    if fatal is not None:
        about_cert = fatal.description in CERTIFICATE_ALERTS and fatal.sender == "server"
        meaning = ALERT_MEANING.get(fatal.description or "", "see RFC 8446 §6.2")
        return _Verdict(
            "client-cert-rejected" if about_cert else "handshake-failed", "certain",
            _sentence(f"The {fatal.sender} ended the handshake with a fatal {fatal.description} alert (frame "
                      f"{fatal.frame}): {meaning}"),
            ALERT_FIX.get(fatal.description or "", fixes.find_reason()), (fatal.frame,))
    if conn.outcome not in ("failed", "incomplete"):
        return None
    alert = next((a for a in conn.alerts if a.encrypted), None)
    end = next((e for e in conn.tcp_ends if e.kind == "RST"), None) or next(iter(conn.tcp_ends), None)
    if alert is not None:
        what = f"an encrypted alert from the {alert.sender} (frame {alert.frame})"
        frames: tuple[int, ...] = (alert.frame,)
    elif end is not None:
        what = f"a {end.kind} from the {end.sender} (frame {end.frame}), with no alert"
        frames = (end.frame,)
    else:
        return None
    last = conn.handshake[-1] if conn.handshake else None
    if alert is None and end is not None and end.kind == "FIN" and end.sender == "client" and last is not None \
            and last.sender == "server":
        return _Verdict(
            "handshake-failed", "likely",
            f"The client closed the connection (FIN, frame {end.frame}) without answering the server's flight "
            f"(last {last.message}, frame {last.frame}) and without an alert: it gave up on this handshake. "
            "Browsers open spare connections and close those they do not use; otherwise the client refused the "
            "server's certificate or parameters without saying so.",
            fixes.client_gave_up(), (end.frame,), ("ok",),
            "the client's own error message (curl -v, the browser's error page or net-export log, Java's "
            "-Djavax.net.debug=ssl), and whether another connection of the same client completed")
    after = f" after {last.message} from the {last.sender} (frame {last.frame})" if last else ""
    return _Verdict(
        "handshake-failed", "likely",
        f"The handshake ended with {what}{after}, before it finished; the reason is not visible.",
        fixes.find_reason(), frames, (), f"{fixes.READ_SERVER_LOG}; or a key log (--keylog) to read the alert")


# --------------------------------------------------------------------------- 6. not visible, 7. ok


def _not_visible(conn: Connection) -> _Verdict | None:
    late = [h for h in conn.handshake if h.encrypted and h.msg_type is None]  # of a type not known
    if late and not conn.tls13 and not conn.decrypted:
        frames = sorted({h.frame for h in late})
        return _Verdict(
            "not-visible", "undecided",
            f"After the handshake, {len(late)} encrypted handshake message{'s' if len(late) != 1 else ''} "
            f"(frames {', '.join(map(str, frames[:6]))}{', …' if len(frames) > 6 else ''}): a renegotiation, "
            "which may ask for a client certificate; without keys what it asked and what the client sent cannot be "
            "seen.",
            f"To see it: {fixes.KEYLOG_HOWTO}; or {fixes.READ_SERVER_LOG}.",
            tuple(frames[:2]), ("ok", "client-cert-rejected"),
            fixes.KEYS_OR_SERVER_LOG)
    if not (conn.tls13 and not conn.decrypted) and conn.version_code != ProtocolVersion.SSL2:
        return None
    sh = first_message(conn, HandshakeType.SERVER_HELLO)
    return _Verdict(
        "not-visible", "undecided",
        f"{conn.version or 'This version'} encrypts the handshake after the ServerHello"
        f"{f' (frame {sh.frame})' if sh else ''}: without keys, whether the server asked for a client "
        "certificate, what the client sent and whether the server refused it cannot be seen.",
        f"To see it: {fixes.KEYLOG_HOWTO}; or, without the client's help, {fixes.READ_SERVER_LOG}; or allow only "
        "TLS 1.2 on the server for a while (nginx: ssl_protocols TLSv1.2) so the handshake is readable.",
        (sh.frame,) if sh else (conn.first_frame,), ("ok", "client-cert-rejected", "client-cert-not-sent"),
        fixes.KEYS_OR_SERVER_LOG)


def _ok(conn: Connection) -> _Verdict:
    """Reached by established connections only: every other outcome has a verdict above."""
    cr = conn.certificate_request
    answered = conn.http is not None and conn.http.status < HTTP_ERROR_STATUS
    certain = cr is None or answered
    seen = f" The server answered HTTP {conn.http.status}." if conn.http is not None else ""
    summary = f"The handshake completed.{_what_was_asked(conn)}{seen}"
    return _Verdict(
        "ok", "certain" if certain else "likely", summary, fixes.NOTHING, (),
        () if certain else ("client-cert-rejected",), None if certain else _settle_acceptance(conn))


def _what_was_asked(conn: Connection) -> str:
    """What the server asked for and the client gave, in the words of an established connection."""
    cr = conn.certificate_request
    if cr is None:
        return ""
    chain = conn.client_certificate.chain if conn.client_certificate is not None else []
    if not chain:
        return " The server asked for a client certificate, the client sent none, and the server went on without one."
    if not cr.ca_names:
        return (" The server asked for a client certificate without naming any CA (any CA it trusts) and the client "
                "sent one.")
    return " The server asked for a client certificate and the client's chain reaches a listed CA."


def _settle_acceptance(conn: Connection) -> str:
    """What would show whether the server, having completed the handshake, accepted the client after it."""
    if conn.decrypted or conn.dtls:
        # The key log was given (or cannot show more): no HTTP answer says what the server made of it.
        return ("the server's own log of this session, for whether it accepted the client after the handshake (a "
                "server may complete it and refuse the client after it, as nginx does over HTTPS with a 400 answer): "
                "nginx logs its reason at `error_log … info`, Apache httpd at `LogLevel ssl:info`, openssl s_server "
                "prints the verify result")
    return ("a key log (--keylog) to read the server's HTTP answer: nginx completes the handshake and answers 400 "
            "when it rejects a certificate")


# --------------------------------------------------------------------------- the server's own log


# What the server's log settles on its own; the issuer codes (18-21) do not tell a client with the wrong CA
# from a server that did not load the right one.
_LOG_DECIDES = frozenset({"client-cert-expired", "client-cert-not-yet-valid", "client-cert-not-sent",
                          "client-cert-wrong-usage", "client-chain-broken"})
_ISSUER_CAUSES = frozenset({WRONG_CA, INCOMPLETE, NOT_LOADED, "client-cert-issuer-not-requested"})


def _with_server_log(conn: Connection, verdict: _Verdict) -> _Verdict:
    """The verdict with the server's own words (`--server-log`): they confirm a verdict the capture shows,
    and settle one it cannot (TLS 1.3 without keys, a reason the capture does not carry)."""
    message = next((m for m in conn.server_log if m.cause != "handshake-failed"), None)
    if message is None:
        return verdict
    said = f"the server's log ({message.source}, {message.time_utc:%H:%M:%S}Z) says “{message.text}”"
    agrees = message.cause == verdict.cause or (message.cause in _ISSUER_CAUSES and verdict.cause in _ISSUER_CAUSES)
    if agrees or verdict.certainty == "certain":
        return replace(verdict, summary=f"{verdict.summary} {_capital(said)}.")
    if message.cause in _LOG_DECIDES:
        return _Verdict(message.cause, "certain", _sentence(f"{_capital(said)}. What the capture shows: "
                                                            f"{verdict.summary[:1].lower()}{verdict.summary[1:]}"),
                        fixes.for_logged_cause(message.cause), verdict.frames)
    if message.cause in _ISSUER_CAUSES:
        ca_names = conn.certificate_request.ca_names if conn.certificate_request else None
        return _Verdict(WRONG_CA, "likely", _sentence(
            f"{_capital(said)}: the server does not trust the CA the client's certificate chains to. What the "
            f"capture shows: {verdict.summary[:1].lower()}{verdict.summary[1:]}"),
            fixes.other_ca("a CA the server does not trust", ca_names or ()), verdict.frames, (NOT_LOADED, INCOMPLETE),
            "the client's chain (a key log shows it) against the CAs the server is configured with")
    return replace(verdict, summary=f"{verdict.summary} {_capital(said)}.")


# --------------------------------------------------------------------------- words


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = _capital(text.strip())
    return text if text.endswith((".", "!", "?")) else text + "."
