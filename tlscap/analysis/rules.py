"""Connection-level rules: outcome, and the findings about what the capture could and could not show.

The client-certificate rules live in `mtls_rules`; `apply_rules` runs both and sorts the findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from tlscap.analysis import mtls_rules, truststore_rules
from tlscap.analysis.context import RuleContext
from tlscap.analysis.diagnosis import diagnose
from tlscap.analysis.encrypted_tls13 import read_record_sizes, rule_record_sizes
from tlscap.analysis.model import SEVERITY_RANK, Connection, Finding
from tlscap.analysis.timeline import first_message, handshake_complete, plaintext_fatal_alert, saw_hello
from tlscap.tls.constants import HandshakeType, ProtocolVersion

Rule = Callable[[Connection, RuleContext], list[Finding]]


def apply_rules(conn: Connection, context: RuleContext | datetime | None = None) -> None:
    """Fill `conn.outcome` and `conn.findings` (a bare datetime is taken as the context's `at`)."""
    ctx = context if isinstance(context, RuleContext) else RuleContext(at=context)
    if ctx.server_log is not None and not conn.server_log:
        conn.server_log = ctx.server_log.take(conn.client.ip, conn.client.port, _utc(conn.first_time_ns),
                                              _utc(conn.last_time_ns))
    read_record_sizes(conn)
    conn.outcome = outcome(conn)
    conn.ca_list_check = truststore_rules.ca_list_comparison(conn, ctx)
    conn.chain_check = truststore_rules.chain_verification(conn, ctx)
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(conn, ctx))
    for view in later_handshakes(conn):
        for rule in (*mtls_rules.RULES, *truststore_rules.RULES):
            findings.extend(f for f in rule(view, ctx) if f not in findings)
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.frames[:1] or (0,)))
    conn.findings = findings
    conn.diagnosis = diagnose(conn, ctx)


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def later_handshakes(conn: Connection) -> list[Connection]:
    """A renegotiation (or TLS 1.3 post-handshake authentication) asks again: one view of the connection
    per later CertificateRequest, with the client's first Certificate after it, for the mTLS rules."""
    views = []
    for cr in conn.certificate_requests[1:]:
        cc = next((c for c in conn.client_certificates if c.frame >= cr.frame), None)
        views.append(replace(conn, certificate_requests=[cr], client_certificates=[cc] if cc else [], findings=[],
                             chain_check=None))
    return views


def outcome(conn: Connection) -> str:
    """established | failed | incomplete | unknown, from what is visible."""
    if not saw_hello(conn) or conn.version_code == ProtocolVersion.SSL2:
        return "unknown"  # no hello seen, or SSL 2.0, whose handshake is encrypted after the hellos
    fatal = plaintext_fatal_alert(conn)
    if fatal is not None and not _after_the_answer(conn, fatal.frame):
        return "failed"
    if handshake_complete(conn):
        return "established"
    if conn.tls13 and not conn.decrypted:
        if conn.record_inference is not None and conn.record_inference.server_rejected:
            return "failed"
        if conn.client_app_data_frames:
            return "unknown"  # the client finished its part; whether the server accepted is encrypted
        return "incomplete" if not _early_encrypted_alert(conn) else "failed"
    if _early_encrypted_alert(conn) or any(e.kind == "RST" for e in conn.tcp_ends):
        return "failed"
    return "incomplete"


def _after_the_answer(conn: Connection, frame: int) -> bool:
    """The frame comes after a completed handshake and the server's first application data: what happens
    there ends an exchange that worked."""
    return handshake_complete(conn) and bool(conn.server_app_data_frames) and frame > conn.server_app_data_frames[0]


def _early_encrypted_alert(conn: Connection) -> bool:
    return any(a.encrypted and not a.inferred for a in conn.alerts)


def rule_handshake_encrypted(conn: Connection, ctx: RuleContext) -> list[Finding]:
    if not conn.tls13 or conn.decrypted:
        return []
    sh = first_message(conn, HandshakeType.SERVER_HELLO)
    frames = (sh.frame,) if sh else (conn.first_frame,)
    return [Finding(
        code="handshake-encrypted", severity="info", frames=frames,
        message=(f"{conn.version} encrypts the handshake after the ServerHello"
                 f"{f' (frame {sh.frame})' if sh else ''}: the server's Certificate, any "
                 "CertificateRequest, the client's Certificate and the alerts cannot be seen without keys."),
        fix=("Capture again with a key log: set SSLKEYLOGFILE=/tmp/keys.log for the client (curl, browsers, "
             "Java with an agent) or use `openssl s_client -keylogfile`, then run tlscap with "
             "--keylog /tmp/keys.log."),
    )]


def rule_handshake_incomplete(conn: Connection, ctx: RuleContext) -> list[Finding]:
    if conn.outcome != "incomplete" or conn.alerts or conn.damage:
        return []
    last = conn.handshake[-1] if conn.handshake else None
    senders = {h.sender for h in conn.handshake}
    if conn.capture_cut is not None:
        detail = f"the capture file stops in the middle of it ({conn.capture_cut})"
        fix = ("Copy the whole capture file again, and stop tcpdump with Ctrl-C (not kill -9) so that it finishes "
               "writing.")
    elif len(senders) == 1:
        only = next(iter(senders))
        detail = (f"only the {only}'s side of the handshake is in the capture"
                  " (asymmetric routing, or a capture filter on one direction)")
        fix = "Capture where both directions pass (e.g. on the server itself with -i any), without a one-way filter."
    else:
        end = next((e for e in conn.tcp_ends), None)
        how = (f"the {end.sender} closed the connection ({end.kind}, frame {end.frame})" if end
               else "the capture ended")
        detail = f"{how} before the handshake finished, and no alert was sent"
        fix = ("If the connection was closed: check the server's error log for the reason (a timeout, a "
               "crash, a load balancer's idle limit). If the capture ended: capture for longer.")
    frames = tuple(sorted({last.frame} | {e.frame for e in conn.tcp_ends})) if last else (conn.first_frame,)
    msg = f"the handshake did not finish: {detail}"
    if last is not None:
        msg += f"; the last handshake message was {last.message} from the {last.sender} (frame {last.frame})"
    return [Finding(code="handshake-incomplete", severity="warning", frames=frames, message=msg + ".", fix=fix)]


def rule_capture_damage(conn: Connection, ctx: RuleContext) -> list[Finding]:
    out: list[Finding] = []
    named = {(d.frame, d.sender) for d in conn.damage if d.message}
    damage = [d for d in conn.damage if d.message or (d.frame, d.sender) not in named]
    truncated = [d for d in damage if d.truncated]
    gaps = [d for d in damage if not d.truncated]
    if truncated:
        what = ", ".join(f"{d.message or 'record'} from the {d.sender} (frame {d.frame})" for d in truncated)
        out.append(Finding(
            code="capture-truncated", severity="warning", frames=tuple(sorted({d.frame for d in truncated})),
            message=f"the capture's snap length cut handshake bytes: {what}; their contents cannot be checked.",
            fix="Capture again with the full packet length: tcpdump -s 0 (or -s 65535).",
        ))
    if gaps:
        what = ", ".join(f"{d.message or 'handshake data'} from the {d.sender} (frame {d.frame}: {d.detail})"
                         for d in gaps)
        out.append(Finding(
            code="capture-gap", severity="warning", frames=tuple(sorted({d.frame for d in gaps})),
            message=f"bytes of the handshake are missing from the capture: {what}.",
            fix=("Capture again closer to an endpoint, with a larger buffer (tcpdump -B 65536) and no "
                 "sampling, so that no segment is dropped."),
        ))
    return out


def rule_malformed(conn: Connection, ctx: RuleContext) -> list[Finding]:
    return [Finding(
        code="malformed-message", severity="warning", frames=(frame,),
        message=f"{what}; what it said cannot be checked.",
        fix=("A middlebox or the peer's TLS library wrote a broken message: capture on the endpoint itself; if "
             "the message is broken there too, report it to the vendor of the sending side."),
    ) for frame, what in conn.malformed]


def rule_limited(conn: Connection, ctx: RuleContext) -> list[Finding]:
    return [Finding(
        code="limit-exceeded", severity="warning", frames=(frame,),
        message=f"{what} (the limits keep memory bounded on hostile captures; see docs/decisions.md).",
        fix="Real TLS stacks send far less: check what sends such a message; the findings cover what was read.",
    ) for frame, what in conn.limited]


RULES: tuple[Rule, ...] = (
    rule_handshake_encrypted,
    rule_handshake_incomplete,
    rule_capture_damage,
    rule_malformed,
    rule_limited,
    rule_record_sizes,
    *mtls_rules.RULES,
    *truststore_rules.RULES,
)
