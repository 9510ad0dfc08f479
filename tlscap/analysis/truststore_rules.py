"""Rules that need `--truststore`: tell "the server never loaded the new CA" from "the client sent the
wrong certificate", and verify the client's chain against what the server is meant to trust."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tlscap.analysis import fixes as advice
from tlscap.analysis.context import RuleContext
from tlscap.analysis.issuer import assess_unlisted
from tlscap.analysis.model import Connection, Finding
from tlscap.analysis.timeline import frame_time_ns
from tlscap.pki.der import parse_name_der
from tlscap.pki.names import names_equal
from tlscap.pki.verify import CaListComparison, PathResult, compare_ca_list, expired_anchors, verify_chain
from tlscap.timefmt import utc_datetime

Rule = Callable[[Connection, RuleContext], list[Finding]]


def ca_list_comparison(conn: Connection, ctx: RuleContext) -> CaListComparison | None:
    """The advertised CA names against the truststore; None without both (or with an empty list)."""
    cr = conn.certificate_request
    if ctx.truststore is None or cr is None or not cr.ca_names_der:
        return None
    return compare_ca_list(list(cr.ca_names_der), ctx.truststore)


def _issuer_in_truststore_not_advertised(conn: Connection, ctx: RuleContext) -> str | None:
    """The client's issuer when the truststore has it but the CertificateRequest did not list it."""
    cc = conn.client_certificate
    cr = conn.certificate_request
    if ctx.truststore is None or cc is None or not cc.chain or cr is None:
        return None
    for cert in cc.chain:
        if cert.issuer_name is None or not ctx.truststore.contains_name(cert.issuer_name):
            continue
        if not any(names_equal(cert.issuer_name, der) for der in cr.ca_names_der):
            return cert.issuer_rfc4514
    return None


def rule_ca_list_differs(conn: Connection, ctx: RuleContext) -> list[Finding]:
    comparison = conn.ca_list_check if conn.ca_list_check is not None else ca_list_comparison(conn, ctx)
    if comparison is None or not comparison.differs:
        return []
    cr = conn.certificate_request
    assert cr is not None
    parts = []
    if comparison.missing:
        parts.append(f"the truststore has {len(comparison.missing)} CA(s) the server did not advertise: "
                     + "; ".join(comparison.missing))
    if comparison.extra:
        parts.append(f"the server advertised {len(comparison.extra)} name(s) the truststore lacks: "
                     + "; ".join(comparison.extra))
    stale = _issuer_in_truststore_not_advertised(conn, ctx)
    if stale is not None or comparison.missing:
        fix = ("The server is most likely still running with an older truststore: reload or restart it "
               "(nginx -s reload; a Java server needs a restart) so that it loads the configured file, then "
               "check that its CertificateRequest lists the new CA.")
        if stale is not None:
            parts.append(f"the client's issuer {stale} is in the truststore but was not advertised, so the "
                         "server will reject this client until it loads it")
    else:
        fix = ("The server trusts CAs the configured truststore does not hold: check which file the server "
               "really uses (nginx: ssl_client_certificate), and remove or add CAs so both agree.")
    return [Finding(
        code="ca-list-differs-from-truststore", severity="error", frames=(cr.frame,),
        message=f"the CA names in the CertificateRequest (frame {cr.frame}) differ from the truststore given: "
                + "; ".join(parts) + ".",
        fix=fix,
    )]


def _when(conn: Connection, ctx: RuleContext, frame: int) -> datetime | None:
    return ctx.at or utc_datetime(frame_time_ns(conn, frame))


def chain_verification(conn: Connection, ctx: RuleContext) -> PathResult | None:
    """The client's first chain verified against the truststore; None without both (or without a time)."""
    cc = conn.client_certificate
    if ctx.truststore is None or cc is None or not cc.chain:
        return None
    when = _when(conn, ctx, cc.frame)
    if when is None:
        return None
    sent = {c.sha256_hex for c in cc.chain}
    elsewhere = [c for sha, c in ctx.capture_certificates.items() if sha not in sent]
    return verify_chain(list(cc.chain), ctx.truststore, when, extra_certs=elsewhere)


def rule_client_cert_untrusted(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cc = conn.client_certificate
    result = conn.chain_check or chain_verification(conn, ctx)
    if result is None or cc is None or result.trusted:
        return []
    fixes = {
        "missing-intermediate": ("Configure the client to send its intermediate CA certificate(s) with its own "
                                 "(a chain file: leaf first, then intermediates), or add the intermediate to "
                                 "the server's truststore."),
        "unknown-root": ("Issue the client a certificate from a CA in the truststore, or add its CA to the "
                         "truststore and reload the server."),
        "expired": "Renew the expired certificate on the path (client certificate, intermediate or CA).",
        "not-yet-valid": "Check the clocks of the client, the server and the CA; or reissue the certificate.",
        "bad-signature": ("A certificate in the chain was not signed by the CA it names: the client has a "
                          "mismatched chain file; rebuild it from the CA's published certificates."),
    }
    fix = fixes.get(result.problem or "", "Compare the client's chain with the truststore.")
    if result.problem == "unknown-issuer":
        # The truststore cannot tell what the unseen issuer is; the other evidence decides the fix.
        cr = conn.certificate_request
        listed = [n for n in (parse_name_der(d) for d in (cr.ca_names_der if cr else ())) if n is not None]
        a = assess_unlisted(cc.chain, listed, truststore=ctx.truststore, seen=ctx.capture_certificates.values())
        fix = advice.for_issuer(a.cause, a.ca, [c.subject_rfc4514 for c in a.missing], cr.ca_names if cr else ())
    return [Finding(
        code="client-cert-untrusted", severity="error", frames=(cc.frame,),
        message=f"the client's chain (frame {cc.frame}) does not verify against the truststore: {result.message}",
        fix=fix,
    )]


def rule_truststore_cert_expired(conn: Connection, ctx: RuleContext) -> list[Finding]:
    cr = conn.certificate_request
    if ctx.truststore is None or cr is None:
        return []
    when = _when(conn, ctx, cr.frame)
    if when is None:
        return []
    expired = expired_anchors(ctx.truststore, when)
    if not expired:
        return []
    names = "; ".join(f"{c.subject_rfc4514} (expired {c.not_after_utc:%Y-%m-%d})" for c in expired if c.not_after_utc)
    return [Finding(
        code="truststore-cert-expired", severity="warning", frames=(cr.frame,),
        message=f"{len(expired)} truststore certificate(s) had expired at the time of this handshake: {names}.",
        fix="Replace the expired CA certificate(s) in the truststore with their renewed versions; reload the server.",
    )]


RULES: tuple[Rule, ...] = (rule_ca_list_differs, rule_client_cert_untrusted, rule_truststore_cert_expired)
