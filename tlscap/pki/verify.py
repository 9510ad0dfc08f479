"""Does a client's chain verify up to the server's truststore, and if not, what exactly is missing?

`verify_chain` builds the path by hand (`path_search`), because its job is the explanation: from the leaf
through the certificates the client sent (in any order, as real clients send them) to a truststore
certificate, checking at each step the issuer name (RFC 5280 §7.1, `names.names_equal`), the signature
(`chain.check_signature`) and, for every certificate on the path including the anchor, the validity
period at the given time. When several paths exist (a re-issued CA, cross-signing) every one is tried
and the best is kept: a valid path, else a complete one with a certificate out of its validity, else a
signature that does not verify, else the point where the path stops for want of an issuer.

What the hand-written builder deliberately does not judge (the DESIGN gives these their own findings, or
servers disagree on them): basicConstraints and path lengths, key usage and extended key usage, name
constraints, policies, revocation. A truststore certificate ends the path even when it is not
self-signed, as Java, Go and OpenSSL with partial-chain verification do; plain OpenSSL (nginx, Apache)
also wants that certificate's root in the truststore, and `PathResult.notes` says so.

`cryptography`'s RFC 5280 verifier (`cryptography.x509.verification`, cryptography >= 43) is run as a
cross-check and its verdict kept in `PathResult.strict_ok` / `strict_error`. It is strict where real
client certificates often are not, so it never decides the verdict: it rejects leaves without an
AuthorityKeyIdentifier or a subjectAltName, v1 certificates and CA certificates without basicConstraints
or keyCertSign, and certificates `cryptography` cannot load at all; it also ends paths only at
certificates in its store and does not explain what is missing. Its useful disagreements are the ones
the hand builder does not judge, e.g. an intermediate that is not a CA or a leaf whose EKU lacks
clientAuth.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509

from tlscap import limits
from tlscap.pki.certificate import CertificateSummary, load_certificate
from tlscap.pki.chain import check_signature
from tlscap.pki.der import name_to_rfc4514
from tlscap.pki.names import NameKey, NameLike, explain_difference, normalize_name
from tlscap.pki.path_search import (
    PathAttempt,
    anchor_for,
    best_attempt,
    issuer_matches,
    issuers_in_truststore,
    search_paths,
    time_problems,
)
from tlscap.pki.truststore import Truststore

__all__ = [
    "PROBLEMS",
    "CaListComparison",
    "PathResult",
    "compare_ca_list",
    "expired_anchors",
    "verify_chain",
]

# The values of PathResult.problem.
PROBLEMS = ("missing-intermediate", "unknown-issuer", "unknown-root", "expired", "not-yet-valid", "bad-signature",
            "empty-chain", "search-limit")


@dataclass(frozen=True, slots=True, kw_only=True)
class PathResult:
    """The verdict on one sent chain against a truststore.

    `path` runs from the leaf to the anchor when a complete path was found (the anchor being the
    truststore's own copy), else as far as it got. `problem` is one of PROBLEMS, None when trusted.
    `message` says in plain words what was found, naming the certificates. `missing_issuer` is the
    RFC 4514 name of the certificate the path could not find (the truststore lacks it and the client did
    not send it) for "missing-intermediate", "unknown-issuer" and "unknown-root". "missing-intermediate"
    means the missing certificate was seen elsewhere and is an intermediate; "unknown-issuer" that it was
    seen nowhere, so whether it is an intermediate the client left out or a CA the truststore lacks is
    open. "search-limit": the path search stopped at tlscap's limits (limits.MAX_CHAIN_DEPTH,
    limits.MAX_PATH_SEARCH_STEPS) before reaching the truststore. `notes` are caveats that do not change
    the verdict (an unchecked signature, a non-root anchor, unused certificates).
    `strict_ok` is cryptography's verifier's verdict (None when it could not be run), `strict_error` its
    reason when it rejects the chain.
    """

    trusted: bool
    path: list[CertificateSummary]
    anchor: CertificateSummary | None
    problem: str | None
    message: str
    missing_issuer: str | None = None
    notes: list[str] = field(default_factory=list)
    strict_ok: bool | None = None
    strict_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaListComparison:
    """The server's advertised CA names against its truststore's subjects (RFC 4514 strings).

    `missing`: truststore subjects the server did not advertise (truststore order); `extra`: advertised
    names no truststore certificate has (advertised order); `matched`: advertised names that are in the
    truststore (advertised order, as the server spelled them). Each list holds a name once.
    """

    missing: list[str]
    extra: list[str]
    matched: list[str]

    @property
    def differs(self) -> bool:
        """True when some name is missing or extra."""
        return bool(self.missing or self.extra)


# --------------------------------------------------------------------------- validity


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _day(value: datetime | None) -> str:
    return "an unknown date" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# --------------------------------------------------------------------------- words


def _subject(certificate: CertificateSummary) -> str:
    return certificate.subject_rfc4514 or "(empty subject)"


def _path_words(path: Sequence[CertificateSummary], anchor: CertificateSummary | None) -> str:
    words = " ← ".join(_subject(certificate) for certificate in path)
    return words + (" (in the truststore)" if anchor is not None else "")


def _sent_words(sent: Sequence[CertificateSummary]) -> str:
    if len(sent) == 1:
        return f"the client sent {_subject(sent[0])} alone"
    return f"the client sent a chain of {len(sent)} ({'; '.join(_subject(c) for c in sent)})"


def _role(certificate: CertificateSummary, index: int, anchor: CertificateSummary | None) -> str:
    if anchor is not None and certificate is anchor:
        return "the truststore certificate"
    return "the client certificate" if index == 0 else "the intermediate"


def _near_miss(missing: NameLike | None, truststore: Truststore) -> str | None:
    """Words naming a truststore subject that is almost `missing`, or None.

    Almost: the same attributes in another RDN order, one attribute more or less, or one value that is nearly
    the same (a typo, a trailing "s"). Names of sibling CAs ("Client CA" vs "Root CA") are not near misses.
    """
    if missing is None:
        return None
    target = {pair for rdn in normalize_name(missing) for pair in rdn}
    for anchor in truststore.anchors:
        if anchor.subject_name is None or not target:
            continue
        pairs = {pair for rdn in normalize_name(anchor.subject_name) for pair in rdn}
        only_missing, only_anchor = sorted(target - pairs), sorted(pairs - target)
        near = len(only_missing) + len(only_anchor) <= 1
        if len(only_missing) == len(only_anchor) == 1 and only_missing[0][0] == only_anchor[0][0]:
            near = difflib.SequenceMatcher(None, only_missing[0][1], only_anchor[0][1]).ratio() >= 0.9
        if near:
            difference = explain_difference(missing, anchor.subject_name)
            return f"the truststore has the similar {_subject(anchor)} ({difference})"
    return None


# --------------------------------------------------------------------------- verdicts


def _trusted_result(attempt: PathAttempt, sent: Sequence[CertificateSummary], truststore: Truststore) -> PathResult:
    anchor = attempt.anchor
    assert anchor is not None
    notes = list(attempt.unchecked)
    if len(attempt.path) == 1:
        message = f"the client certificate {_subject(anchor)} is itself in the truststore"
    else:
        message = f"the chain verifies: {_path_words(attempt.path, anchor)}"
    if not anchor.self_issued and not _root_above(anchor, truststore):
        notes.append(
            f"the anchor {_subject(anchor)} is not a self-signed root and its issuer {anchor.issuer_rfc4514} is not in "
            "the truststore: Java and Go accept this, but OpenSSL-based servers (nginx, Apache) also need "
            "that root in the truststore unless partial-chain verification is enabled"
        )
    used = {certificate.sha256_hex for certificate in attempt.path}
    unused = [c for c in sent if c.sha256_hex not in used and anchor_for(c, truststore) is not anchor]
    if unused:
        notes.append("the client also sent certificates not on the path: " + "; ".join(_subject(c) for c in unused))
    return PathResult(trusted=True, path=list(attempt.path), anchor=anchor, problem=None, message=message, notes=notes)


def _root_above(anchor: CertificateSummary, truststore: Truststore) -> bool:
    """True when the truststore holds a chain from `anchor` up to a self-issued certificate."""
    current, seen = anchor, {anchor.sha256_hex}
    for _ in range(limits.MAX_CHAIN_DEPTH):
        parents = [
            p
            for p in issuers_in_truststore(current, truststore)
            if p.sha256_hex not in seen and check_signature(current, p)[0] is not False
        ]
        if not parents:
            return False
        current = parents[0]
        if current.self_issued:
            return True
        seen.add(current.sha256_hex)
    return False


def _time_result(attempt: PathAttempt, at: datetime) -> PathResult:
    problems = time_problems(attempt.path, at)
    kind, certificate = problems[0]
    index = next(i for i, c in enumerate(attempt.path) if c is certificate)
    role = _role(certificate, index, attempt.anchor)
    if kind == "expired":
        what = f"{role} {_subject(certificate)} expired on {_day(certificate.not_after_utc)}"
    else:
        what = f"{role} {_subject(certificate)} is not valid before {_day(certificate.not_before_utc)}"
    others = [f"{_subject(c)} ({k.replace('-', ' ')})" for k, c in problems[1:]]
    message = (
        f"{what}, and the chain is judged at {_day(at)}; otherwise the path is complete: "
        f"{_path_words(attempt.path, attempt.anchor)}"
        + (f"; also out of validity: {', '.join(others)}" if others else "")
    )
    return PathResult(
        trusted=False,
        path=list(attempt.path),
        anchor=attempt.anchor,
        problem=kind,
        message=message,
        notes=list(attempt.unchecked),
    )


def _bad_signature_result(attempt: PathAttempt) -> PathResult:
    child, parent = attempt.path[-1], attempt.failed_issuer
    assert parent is not None
    where = {
        "truststore": "the truststore certificate",
        "sent": "the certificate the client sent as",
        "elsewhere": "the certificate seen elsewhere in the capture as",
    }[attempt.failed_where or "sent"]
    _, reason = check_signature(child, parent)
    what = "same name, different key: the CA was probably re-created, or the certificate changed after signing"
    if reason and "cannot have made" in reason:
        what = reason
    message = (
        f"{_subject(child)} names {child.issuer_rfc4514} as its issuer, but its signature does not verify with the key "
        f"of {where} {_subject(parent)} ({what})"
    )
    return PathResult(
        trusted=False,
        path=list(attempt.path),
        anchor=None,
        problem="bad-signature",
        message=message,
        missing_issuer=None,
        notes=list(attempt.unchecked),
    )


def _dead_end_result(
    attempt: PathAttempt,
    sent: Sequence[CertificateSummary],
    truststore: Truststore,
    extra_certs: Sequence[CertificateSummary],
    at: datetime,
) -> PathResult:
    top = attempt.path[-1]
    notes = list(attempt.unchecked)
    if top.self_issued:
        which = "a self-signed certificate" if len(attempt.path) == 1 else "a self-signed root CA"
        message = (
            f"{_sent_words(sent)}; the path ends at {_subject(top)}, {which} the client sent, which is not "
            f"in the truststore: add it to the server's truststore if the server should trust it, or give the "
            f"client a certificate issued by a CA the server trusts"
        )
        near = _near_miss(top.subject_name, truststore)
        return PathResult(
            trusted=False,
            path=list(attempt.path),
            anchor=None,
            problem="unknown-root",
            message=message + (f"; {near}" if near else ""),
            missing_issuer=top.subject_rfc4514,
            notes=notes,
        )
    subject = "its issuer" if len(sent) == 1 and len(attempt.path) == 1 else f"the issuer of {_subject(top)},"
    head = f"{_sent_words(sent)}; {subject} {top.issuer_rfc4514} is not in the truststore and was not sent"
    seen = [e for e in extra_certs if issuer_matches(top, e) and check_signature(top, e)[0] is not False]
    near = _near_miss(top.issuer_name, truststore)
    problem = "missing-intermediate"
    if seen and seen[0].self_issued:
        problem = "unknown-root"
        message = (
            f"{head}; it was seen elsewhere in the capture as a self-signed root CA (SHA-256 "
            f"{seen[0].sha256_hex[:16]}…): add it to the server's truststore if the server should trust it, or "
            f"give the client a certificate issued by a CA the server trusts"
        )
    elif seen:
        message = f"{head}: the client must send that intermediate; " + _with_extras(
            seen[0], sent, truststore, extra_certs, at
        )
    else:
        problem = "unknown-issuer"
        elsewhere = (
            f"; it is not among the {len(extra_certs)} certificate(s) seen elsewhere in the capture either"
            if extra_certs
            else ""
        )
        message = (
            f"{head}, and nothing given shows whether it is an intermediate under a trusted CA or a CA the "
            f"truststore lacks{elsewhere}"
        )
    return PathResult(
        trusted=False,
        path=list(attempt.path),
        anchor=None,
        problem=problem,
        message=message + (f"; {near}" if near else ""),
        missing_issuer=top.issuer_rfc4514,
        notes=notes,
    )


def _search_limit_result(attempt: PathAttempt, sent: Sequence[CertificateSummary]) -> PathResult:
    top = attempt.path[-1]
    message = (f"{_sent_words(sent)}; tlscap stopped following the path at {_subject(top)}, {len(attempt.path)} "
               f"certificates deep (its limits: {limits.MAX_CHAIN_DEPTH} certificates deep, "
               f"{limits.MAX_PATH_SEARCH_STEPS} paths tried), so the chain is not verified")
    return PathResult(trusted=False, path=list(attempt.path), anchor=None, problem="search-limit", message=message,
                      notes=list(attempt.unchecked))


def _with_extras(
    found: CertificateSummary,
    sent: Sequence[CertificateSummary],
    truststore: Truststore,
    extra_certs: Sequence[CertificateSummary],
    at: datetime,
) -> str:
    """What the chain would be with the certificates seen elsewhere in the capture added to it."""
    where = f"it was seen elsewhere in the capture (SHA-256 {found.sha256_hex[:16]}…)"
    retry = best_attempt(search_paths(sent, truststore, at, extra_certs), at)
    top = retry.path[-1]
    if retry.kind == "anchor":
        problems = time_problems(retry.path, at)
        if not problems:
            return f"{where}, and with it the chain verifies: {_path_words(retry.path, retry.anchor)}"
        kind, certificate = problems[0]
        return (
            f"{where}; with it the path reaches {_subject(top)} in the truststore, but "
            f"{_subject(certificate)} is {kind.replace('-', ' ')} at {_day(at)}"
        )
    if retry.kind == "bad-signature" and retry.failed_issuer is not None:
        why = f"the signature of {_subject(top)} does not verify with the key of {_subject(retry.failed_issuer)}"
    elif top.self_issued:
        why = f"it ends at the root {_subject(top)}, which is not in the truststore"
    else:
        why = f"the issuer of {_subject(top)}, {top.issuer_rfc4514}, is missing too"
    return f"{where}, but even with it the chain would not verify: {why}"


def verify_chain(
    sent_chain: Sequence[CertificateSummary],
    truststore: Truststore,
    at: datetime,
    *,
    extra_certs: Sequence[CertificateSummary] = (),
) -> PathResult:
    """Verify `sent_chain` (leaf first, the rest in any order) up to `truststore` at time `at`.

    `extra_certs` are certificates seen elsewhere in the capture: they never make the chain trusted (the
    server only has what the client sent), but the message says when a missing intermediate is among them.
    A naive `at` is taken as UTC.
    """
    when = _utc(at)
    if not sent_chain:
        return PathResult(
            trusted=False, path=[], anchor=None, problem="empty-chain", message="the client sent no certificate"
        )
    sent = list(sent_chain)
    best = best_attempt(search_paths(sent, truststore, when), when)
    if best.kind == "anchor":
        if time_problems(best.path, when):
            result = _time_result(best, when)
        else:
            result = _trusted_result(best, sent, truststore)
    elif best.kind == "bad-signature":
        result = _bad_signature_result(best)
    elif best.kind == "search-limit":
        result = _search_limit_result(best, sent)
    else:
        result = _dead_end_result(best, sent, truststore, extra_certs, when)
    strict_ok, strict_error = _strict_check(sent, truststore, when)
    return PathResult(
        trusted=result.trusted,
        path=result.path,
        anchor=result.anchor,
        problem=result.problem,
        message=result.message,
        missing_issuer=result.missing_issuer,
        notes=result.notes,
        strict_ok=strict_ok,
        strict_error=strict_error,
    )


def _strict_check(
    sent: Sequence[CertificateSummary], truststore: Truststore, at: datetime
) -> tuple[bool | None, str | None]:
    """cryptography's verdict on the chain: (True, None), (False, its reason), or (None, None) if not run."""
    try:
        from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
    except ImportError:  # cryptography < 43
        return None, None
    leaf = load_certificate(sent[0].der)
    anchors = [c for c in (load_certificate(a.der) for a in truststore.anchors) if c is not None]
    if leaf is None or not anchors:
        return None, None
    intermediates = [c for c in (load_certificate(s.der) for s in sent[1:]) if c is not None]
    try:
        verifier = PolicyBuilder().store(Store(anchors)).time(at).build_client_verifier()
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return False, " ".join(str(exc).split())
    except Exception as exc:  # noqa: BLE001 - the cross-check must never break the verdict
        return None, f"cross-check not run: {' '.join(str(exc).split())}"
    return True, None


# --------------------------------------------------------------------------- truststore checks


def expired_anchors(truststore: Truststore, at: datetime) -> list[CertificateSummary]:
    """The truststore certificates whose `not_after` is before `at` (naive `at` is UTC), in load order."""
    when = _utc(at)
    return [a for a in truststore.anchors if a.not_after_utc is not None and a.not_after_utc < when]


def _name_words(name: NameLike | None, index: int) -> str:
    if name is None:
        return f"(unreadable name #{index + 1})"
    if isinstance(name, x509.Name):
        try:
            return name.rfc4514_string()
        except Exception:  # noqa: BLE001 - a hand-built name cryptography cannot print
            return repr(name)
    return name_to_rfc4514(bytes(name))


def compare_ca_list(advertised: Sequence[NameLike | None], truststore: Truststore) -> CaListComparison:
    """Compare a CertificateRequest's CA names with the truststore's subjects by RFC 5280 §7.1.

    Case, white space and string type do not matter (see `names`); an unreadable advertised name (None)
    is listed as extra.
    """
    trusted_keys: dict[NameKey, str] = {}
    for anchor in truststore.anchors:
        if anchor.subject_name is not None:
            trusted_keys.setdefault(normalize_name(anchor.subject_name), _subject(anchor))
    advertised_keys: set[NameKey] = set()
    extra: list[str] = []
    matched: list[str] = []
    for index, name in enumerate(advertised):
        words = _name_words(name, index)
        if name is None:
            extra.append(words)
            continue
        key = normalize_name(name)
        if key in advertised_keys:
            continue
        advertised_keys.add(key)
        (matched if key in trusted_keys else extra).append(words)
    missing = [words for key, words in trusted_keys.items() if key not in advertised_keys]
    return CaListComparison(missing=missing, extra=extra, matched=matched)
