"""The search for certification paths from a client's leaf to a truststore certificate (see `verify`).

`search_paths` tries, depth first, every certificate named as the issuer: the truststore's first (they
end the path), then those the client sent, then those seen elsewhere in the capture. Each path ends as a
`PathAttempt`: at an anchor, at a signature that does not verify, at a certificate without issuer, or
where the search stopped (limits.MAX_CHAIN_DEPTH certificates deep, or limits.MAX_PATH_SEARCH_STEPS
paths tried: pathological inputs, such as dozens of certificates sharing one name). `best_attempt` picks
the one `verify.verify_chain` explains.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tlscap import limits
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.certificate_by_hand import split_signed
from tlscap.pki.chain import check_signature
from tlscap.pki.names import names_equal
from tlscap.pki.truststore import Truststore

Where = Literal["sent", "truststore", "elsewhere"]


@dataclass(frozen=True, slots=True)
class PathAttempt:
    """Where one path ended: at an anchor, at a signature that failed, at a certificate without issuer, or
    where the search stopped at tlscap's limits."""

    kind: Literal["anchor", "bad-signature", "dead-end", "search-limit"]
    path: tuple[CertificateSummary, ...]
    anchor: CertificateSummary | None = None
    failed_issuer: CertificateSummary | None = None
    failed_where: Where | None = None
    unchecked: tuple[str, ...] = ()


@dataclass(slots=True)
class _Search:
    """Depth-first search over issuer candidates; stops at the first fully valid path."""

    truststore: Truststore
    pool: list[tuple[CertificateSummary, Where]]
    at: datetime
    attempts: list[PathAttempt] = field(default_factory=list)
    steps: int = 0
    done: bool = False

    def run(self, leaf: CertificateSummary) -> list[PathAttempt]:
        self._visit((leaf,), ())
        return self.attempts

    def _record(self, attempt: PathAttempt) -> None:
        self.attempts.append(attempt)
        if attempt.kind == "anchor" and not time_problems(attempt.path, self.at):
            self.done = True

    def _visit(self, path: tuple[CertificateSummary, ...], unchecked: tuple[str, ...]) -> None:
        self.steps += 1
        current = path[-1]
        anchor = anchor_for(current, self.truststore)
        if anchor is not None:
            self._record(PathAttempt("anchor", path[:-1] + (anchor,), anchor=anchor, unchecked=unchecked))
            if self.done:
                return
        if len(path) > limits.MAX_CHAIN_DEPTH or self.steps > limits.MAX_PATH_SEARCH_STEPS:
            self._record(PathAttempt("search-limit", path, unchecked=unchecked))
            self.done = self.done or self.steps > limits.MAX_PATH_SEARCH_STEPS  # no more paths are tried
            return
        candidates = self._candidates(current, path)
        if not candidates and anchor is None:
            self._record(PathAttempt("dead-end", path, unchecked=unchecked))
            return
        for candidate, where in candidates:
            valid, note = check_signature(current, candidate)
            if valid is False:
                self._record(
                    PathAttempt("bad-signature", path, failed_issuer=candidate, failed_where=where, unchecked=unchecked)
                )
                continue
            more = unchecked + ((f"{current.subject_rfc4514}: {note}",) if note else ())
            if where == "truststore":
                self._record(PathAttempt("anchor", path + (candidate,), anchor=candidate, unchecked=more))
            else:
                self._visit(path + (candidate,), more)
            if self.done:
                return

    def _candidates(
        self, child: CertificateSummary, path: tuple[CertificateSummary, ...]
    ) -> list[tuple[CertificateSummary, Where]]:
        """Certificates named as `child`'s issuer: the truststore's first (they end the path), then the pool's."""
        on_path = {certificate.sha256_hex for certificate in path}
        out: list[tuple[CertificateSummary, Where]] = [
            (anchor, "truststore")
            for anchor in issuers_in_truststore(child, self.truststore)
            if anchor.sha256_hex not in on_path
        ]
        seen = {certificate.sha256_hex for certificate, _ in out} | on_path
        for certificate, where in self.pool:
            if certificate.sha256_hex not in seen and issuer_matches(child, certificate):
                seen.add(certificate.sha256_hex)
                out.append((certificate, where))
        return out


def issuer_matches(child: CertificateSummary, parent: CertificateSummary) -> bool:
    """Whether `parent`'s subject is `child`'s issuer (RFC 5280 §7.1; by text when a name is unreadable)."""
    if child.issuer_name is not None and parent.subject_name is not None:
        return names_equal(child.issuer_name, parent.subject_name)
    return bool(child.issuer_rfc4514) and child.issuer_rfc4514 == parent.subject_rfc4514


def issuers_in_truststore(child: CertificateSummary, truststore: Truststore) -> list[CertificateSummary]:
    """The truststore certificates whose subject is `child`'s issuer, in load order."""
    if child.issuer_name is not None:
        return truststore.find_by_subject(child.issuer_name)
    issuer = child.issuer_rfc4514
    return [anchor for anchor in truststore.anchors if issuer and anchor.subject_rfc4514 == issuer]


@functools.lru_cache(maxsize=4096)
def _spki(der: bytes) -> bytes | None:
    parts = split_signed(der)
    return None if parts is None else parts.subject_public_key_info


def anchor_for(certificate: CertificateSummary, truststore: Truststore) -> CertificateSummary | None:
    """The truststore's copy of `certificate`: the same bytes, or the same subject and public key."""
    same = truststore.by_sha256(certificate.sha256_hex)
    if same is not None:
        return same
    key = _spki(certificate.der)
    if key is None or certificate.subject_name is None:
        return None
    for anchor in truststore.find_by_subject(certificate.subject_name):
        if _spki(anchor.der) == key:
            return anchor
    return None


def time_problems(path: Iterable[CertificateSummary], at: datetime) -> list[tuple[str, CertificateSummary]]:
    """("expired" | "not-yet-valid", certificate) for each certificate on `path` not valid at `at`."""
    out: list[tuple[str, CertificateSummary]] = []
    for certificate in path:
        if certificate.not_after_utc is not None and certificate.not_after_utc < at:
            out.append(("expired", certificate))
        elif certificate.not_before_utc is not None and certificate.not_before_utc > at:
            out.append(("not-yet-valid", certificate))
    return out


def search_paths(
    sent: Sequence[CertificateSummary],
    truststore: Truststore,
    at: datetime,
    extra_certs: Sequence[CertificateSummary] = (),
) -> list[PathAttempt]:
    """Every path tried from `sent[0]`, the leaf, until one is valid at `at`; `sent[1:]` and `extra_certs`
    are the candidate issuers besides the truststore's."""
    pool: list[tuple[CertificateSummary, Where]] = [(c, "sent") for c in sent[1:]]
    pool += [(c, "elsewhere") for c in extra_certs]
    return _Search(truststore, pool, at).run(sent[0])


def best_attempt(attempts: list[PathAttempt], at: datetime) -> PathAttempt:
    """A valid path, else the complete path with fewest validity problems, else a bad signature (one
    against a truststore certificate first), else the longest path that stopped for want of an issuer,
    else the longest one the search stopped following."""

    def rank(attempt: PathAttempt) -> tuple[int, int, int]:
        if attempt.kind == "anchor":
            return (0, len(time_problems(attempt.path, at)), len(attempt.path))
        if attempt.kind == "bad-signature":
            return (1, 0 if attempt.failed_where == "truststore" else 1, -len(attempt.path))
        if attempt.kind == "dead-end":
            return (2, 0, -len(attempt.path))
        return (3, 0, -len(attempt.path))

    return min(attempts, key=rank)
