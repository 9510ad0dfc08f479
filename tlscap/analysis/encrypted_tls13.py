"""TLS 1.3 without keys: what the record sizes say (`tls.record_sizes`), made into alerts, a finding and
the words of a verdict.

`read_record_sizes` runs before the rules: it keeps the inference on the connection and lists each
alert-sized record among the alerts (encrypted, marked inferred). `rule_record_sizes` turns a refusal or
an empty client Certificate into a finding: an error when the sizes prove it (an empty Certificate has
one exact size), a warning when they only make it likely. `verdict_words` gives the diagnosis.
"""

from __future__ import annotations

from tlscap.analysis import fixes
from tlscap.analysis.context import RuleContext
from tlscap.analysis.model import AlertEntry, Connection, Finding
from tlscap.tls.record_sizes import StreamEnd, Tls13Inference, infer_tls13

INFERRED = "inferred from record sizes"
SERVER_ROUTES = (
    "without the client's help, the server's own log names the reason: nginx at `error_log … info` "
    "(\"client SSL certificate verify error: (10:certificate has expired)\"), Apache httpd at "
    "`LogLevel ssl:info`; or allow only TLS 1.2 on the server for a while (nginx: ssl_protocols TLSv1.2) so "
    "the handshake can be read"
)


def read_record_sizes(conn: Connection) -> None:
    """Infer the handshake of a TLS 1.3 connection that could not be decrypted; list its alert-sized records."""
    if not conn.tls13 or conn.decrypted or not conn.encrypted_records:
        return
    ends = [StreamEnd(frame=e.frame, from_client=e.sender == "client") for e in conn.tcp_ends]
    # A client that offers HTTP/1.1 or HTTP/2 keeps the connection open after an answer unless refused.
    keeps_open = any(p in ("http/1.1", "h2") for p in conn.client_alpn)
    inference = infer_tls13(conn.encrypted_records, ends, conn.cipher_suite_code, client_keeps_open=keeps_open)
    conn.record_inference = inference
    known = {(a.frame, a.sender) for a in conn.alerts}
    for frame, from_client in inference.alerts:
        sender = "client" if from_client else "server"
        if (frame, sender) not in known:
            conn.alerts.append(AlertEntry(frame=frame, frames=(frame,), sender=sender, level=None, description=None,
                                          encrypted=True, inferred=True))
    conn.alerts.sort(key=lambda a: a.frame)


def _basis(inference: Tls13Inference) -> str:
    return "; ".join(f"frame {r.frame} {'C→S' if r.from_client else 'S→C'} {r.basis}" for r in inference.readings)


def rule_record_sizes(conn: Connection, ctx: RuleContext) -> list[Finding]:
    inference = conn.record_inference
    if inference is None or not inference.answered:
        return []
    if inference.client_certificate == "empty":
        frames = inference.client_flight_frames
        return [Finding(
            code="client-cert-not-sent", severity="error", frames=frames[:1],
            message=(f"the server asked for a client certificate and the client answered with an empty Certificate "
                     f"({INFERRED}, TLS 1.3 without keys: {_basis(inference)})."),
            fix=fixes.send_certificate(None),
        )]
    if inference.server_rejected and inference.rejection_frame is not None:
        after = "certificate" if inference.client_certificate == "chain" else "Finished"
        if inference.rejected_by == "alert":
            return [Finding(
                code="encrypted-alert", severity="warning", frames=(inference.rejection_frame,),
                message=(f"the server answered the client's {after} with an alert-sized record and closed, without "
                         f"a session ticket: it most likely refused the handshake ({INFERRED}: {_basis(inference)}). "
                         "Give --keylog to read the alert."),
                fix=f"To read it: {fixes.KEYLOG_HOWTO}; or, {SERVER_ROUTES}.",
            )]
        return [Finding(
            code="inferred-rejection", severity="warning", frames=(inference.rejection_frame,),
            message=(f"the server completed the handshake, answered the client's first request and then closed the "
                     f"connection first (frame {inference.rejection_frame}), though the client keeps connections "
                     "open (it offered ALPN http/1.1 or h2): it most likely refused the client, as nginx does with "
                     f"its 400 page for a rejected certificate ({INFERRED}: {_basis(inference)})."),
            fix=f"To read the answer: {fixes.KEYLOG_HOWTO}; or, {SERVER_ROUTES}.",
        )]
    return []


def verdict_words(conn: Connection) -> tuple[str, str, str, str, tuple[int, ...]] | None:
    """(cause, certainty, summary, fix, frames) from the record sizes; None when they tell nothing."""
    inference = conn.record_inference
    if inference is None or not inference.answered:
        return None
    flight = inference.client_flight_frames
    what = f"TLS 1.3 without keys, {INFERRED}; the basis is in the walkthrough and the JSON's record_sizes"
    if inference.client_certificate == "empty":
        return ("client-cert-not-sent", "certain",
                f"The server asked for a client certificate and the client sent an empty one ({what}).",
                fixes.send_certificate(None), flight)
    if inference.server_rejected:
        frames = (*flight, *((inference.rejection_frame,) if inference.rejection_frame else ()))
        how = (f"To read the reason: {fixes.KEYLOG_HOWTO}; or, {SERVER_ROUTES}.")
        if inference.client_certificate == "chain":
            return ("client-cert-rejected", "likely",
                    f"The client sent a certificate (~{inference.client_certificate_bytes or '?'} bytes) and the "
                    f"server refused the handshake right after it, with an alert-sized record and no session ticket "
                    f"({what}).", how, frames)
        return ("handshake-failed", "likely",
                f"The server refused the handshake right after the client's Finished ({what}).", how, frames)
    asked = {"chain": "asked for a client certificate and the client sent one",
             "none": "did not ask for a client certificate"}[inference.client_certificate or "none"]
    if inference.server_rejected is None:
        return ("not-visible", "undecided",
                f"The server {asked}; it completed the handshake, answered the client's first request and closed "
                "the connection: whether that answer refused the client (nginx answers 400 and closes) or was an "
                f"ordinary last answer (HTTP/1.0) is not visible ({what}).",
                f"To see it: {fixes.KEYLOG_HOWTO}; or, {SERVER_ROUTES}.", flight)
    return ("ok", "likely",
            f"The server {asked}, and went on after the client's flight ({what}).",
            fixes.NOTHING, flight)
