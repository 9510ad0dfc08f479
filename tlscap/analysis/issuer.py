"""Whose CA the client's certificate comes from, measured against the CA names the server lists.

When no certificate of the client's chain is issued by, or is, a listed CA, three causes look alike on
the wire: the client left out an intermediate that hangs under a listed CA, the client's certificate is
from a CA the server does not accept, or the server should accept it but never loaded the truststore that
holds it. `assess_unlisted` tells them apart with all the evidence there is, strongest first:

1. the truststore the server is configured with (`--truststore`): it holds the client's CA, which the
   server does not advertise -> the server did not load it (certain);
2. keys, not only names: certificates seen elsewhere (the truststore, other connections of the capture,
   other captures of a scan) that the client's top certificate links to -- by a verified signature
   (certain) or by Authority/Subject Key Identifier (likely) -- and that lead up to a listed CA (an
   incomplete chain) or to a root neither listed nor trusted (a foreign CA);
3. likeness, never certain: a newer generation of a listed CA's name (G1 -> G2: the server did not load
   it), the same organization as a listed CA (an intermediate of it), another organization (a foreign CA),
   and the leaf's caIssuers URL.

`assess_rekeyed` finds the opposite case: the issuer's name is listed, but every certificate of that name
known here has another key (a CA re-issued under the same name with a new key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from tlscap import limits
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.chain import check_signature
from tlscap.pki.names import names_equal
from tlscap.pki.truststore import Truststore

INCOMPLETE, WRONG_CA, NOT_LOADED, REKEYED, UNDECIDED = (
    "client-chain-incomplete", "client-cert-wrong-ca", "server-ca-not-loaded", "ca-rekeyed",
    "client-cert-issuer-not-requested")
THREE_CAUSES = (INCOMPLETE, WRONG_CA, NOT_LOADED)
# A generation mark at the end of a CA's common name: "G2", "Gen 3", "v2", "R3", "2024", "- 2".
_GENERATION = re.compile(r"[\s_-]*(?:g|gen|generation|v|r)?\s*\d{1,4}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerAssessment:
    """One of THREE_CAUSES, REKEYED or UNDECIDED, with how sure it is and why.

    `ca` is the CA the verdict is about (the missing intermediate, the CA not loaded, the foreign or
    re-keyed issuer); `missing` the intermediates found elsewhere that the client should have sent.
    """

    cause: str
    certainty: str
    reason: str
    ca: str
    alternatives: tuple[str, ...] = ()
    decide_with: str | None = None
    missing: tuple[CertificateSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class _Link:
    parent: CertificateSummary
    proof: str  # "signature" | "key identifier"
    where: str  # "truststore" | "elsewhere"


def key_link(child: CertificateSummary, parent: CertificateSummary) -> str | None:
    """How `parent` is shown to have issued `child` (their names must already match): "signature" when
    its key verifies child's signature, "key identifier" when child's AKI equals its SKI and the signature
    could not be checked; None when the keys differ or nothing links them."""
    verified, _ = check_signature(child, parent)
    if verified:
        return "signature"
    if verified is None and child.authority_key_id and child.authority_key_id == parent.subject_key_id:
        return "key identifier"
    return None


def keys_differ(child: CertificateSummary, parent: CertificateSummary) -> bool:
    """True when it is shown that `parent`'s key did not sign `child` (same name, another key)."""
    verified, _ = check_signature(child, parent)
    if verified is False:
        return True
    return bool(verified is None and child.authority_key_id and parent.subject_key_id
                and child.authority_key_id != parent.subject_key_id)


def sent_path(chain: Sequence[CertificateSummary]) -> list[CertificateSummary]:
    """The leaf and, following issuer names, the certificates of the sent chain above it (in any order)."""
    path = [chain[0]]
    rest = list(chain[1:])
    while not path[-1].self_issued:
        up = next((c for c in rest if names_equal(path[-1].issuer_name, c.subject_name)), None)
        if up is None:
            break
        path.append(up)
        rest.remove(up)
    return path


def is_listed(name: x509.Name | None, listed: Sequence[x509.Name]) -> bool:
    return name is not None and any(names_equal(name, n) for n in listed)


class _Pool:
    """Certificates that may link the chain upward: the truststore's first, then those seen elsewhere."""

    def __init__(self, truststore: Truststore | None, seen: Iterable[CertificateSummary],
                 sent: Sequence[CertificateSummary]) -> None:
        own = {c.sha256_hex for c in sent}
        self.entries: list[tuple[CertificateSummary, str]] = []
        if truststore is not None:
            self.entries.extend((c, "truststore") for c in truststore.anchors)
        known = {c.sha256_hex for c, _ in self.entries} | own
        for cert in seen:
            if cert.sha256_hex not in known:
                known.add(cert.sha256_hex)
                self.entries.append((cert, "elsewhere"))

    def named(self, name: x509.Name | None) -> list[tuple[CertificateSummary, str]]:
        return [(c, w) for c, w in self.entries if name is not None and names_equal(name, c.subject_name)]

    def issuer_of(self, child: CertificateSummary) -> _Link | None:
        best: _Link | None = None
        for parent, where in self.named(child.issuer_name):
            if parent.sha256_hex == child.sha256_hex:
                continue
            proof = key_link(child, parent)
            if proof == "signature":
                return _Link(parent, proof, where)
            if proof is not None and best is None:
                best = _Link(parent, proof, where)
        return best


def assess_unlisted(chain: Sequence[CertificateSummary], listed: Sequence[x509.Name], *,
                    truststore: Truststore | None, seen: Iterable[CertificateSummary]) -> IssuerAssessment:
    """Tell apart the causes of a chain none of whose certificates is issued by, or is, a listed CA."""
    path = sent_path(chain)
    pool = _Pool(truststore, seen, chain)
    for cert in path:  # 1. the configured truststore holds a CA of the client's chain
        link = _trusted_issuer(cert, truststore)
        if link is not None:
            return _not_loaded(link.parent, f"which issued {cert.subject_rfc4514} ({_proof_words(link.proof)})")
    top = path[-1]
    if top.self_issued:
        return _unlisted_root(top, listed, truststore, sent=True)
    # 2. certificates found elsewhere that lead from the top of the sent chain upward
    found: list[_Link] = []
    current = top
    for _ in range(limits.MAX_CHAIN_STEPS_ELSEWHERE):
        link = pool.issuer_of(current)
        if link is None or any(link.parent.sha256_hex == f.parent.sha256_hex for f in found):
            break
        found.append(link)
        parent = link.parent
        if is_listed(parent.issuer_name, listed) and not parent.self_issued:
            proof = "signature" if all(f.proof == "signature" for f in found) else "key identifier"
            return _incomplete(top, tuple(f.parent for f in found), parent, proof, found[0].where)
        if parent.self_issued:
            return _unlisted_root(parent, listed, truststore, sent=False, below=top)
        current = parent
    return _by_likeness(top, path[0], listed, truststore)


def _trusted_issuer(cert: CertificateSummary, truststore: Truststore | None) -> _Link | None:
    if truststore is None:
        return None
    for anchor in truststore.find_by_subject(cert.issuer_name):
        proof = key_link(cert, anchor)
        if proof is not None:
            return _Link(anchor, proof, "truststore")
    return None


def _proof_words(proof: str) -> str:
    return "its signature verifies" if proof == "signature" else "its key identifier matches"


def _not_loaded(ca: CertificateSummary, how: str) -> IssuerAssessment:
    return IssuerAssessment(
        cause=NOT_LOADED, certainty="certain", ca=ca.subject_rfc4514,
        reason=(f"the truststore given holds {ca.subject_rfc4514}, {how}, but the server's CertificateRequest does not "
                "list it: the server is not running with the truststore given (not reloaded since the CA was "
                "added, or another file)"),
    )


def _incomplete(top: CertificateSummary, missing: tuple[CertificateSummary, ...], last: CertificateSummary,
                proof: str, where: str) -> IssuerAssessment:
    names = ", then ".join(c.subject_rfc4514 for c in missing)
    place = "the truststore given" if where == "truststore" else "another connection (or capture)"
    return IssuerAssessment(
        cause=INCOMPLETE, certainty="certain" if proof == "signature" else "likely", ca=missing[0].subject_rfc4514,
        missing=missing,
        reason=(f"{top.subject_rfc4514} is issued by {missing[0].subject_rfc4514}, which {place} shows "
                f"({_proof_words(proof)}); "
                f"{last.subject_rfc4514} is issued by the listed CA {last.issuer_rfc4514}: the client did not send "
                f"{names}"),
        alternatives=() if proof == "signature" else (NOT_LOADED, WRONG_CA),
        decide_with=None if proof == "signature" else (
            f"the certificate of {missing[0].subject_rfc4514} (its signature over the client's certificate would prove "
            "the link)"),
    )


def _unlisted_root(root: CertificateSummary, listed: Sequence[x509.Name], truststore: Truststore | None, *,
                   sent: bool, below: CertificateSummary | None = None) -> IssuerAssessment:
    how = "the client sent its root" if sent else (
        f"{below.subject_rfc4514 if below else 'the chain'} leads, through certificates seen elsewhere, up to it")
    if truststore is not None:
        anchor = next((a for a in truststore.find_by_subject(root.subject_name) if key_link(root, a)), None)
        if anchor is not None:
            return _not_loaded(anchor, f"the root the client's chain ends at ({how})")
        return IssuerAssessment(
            cause=WRONG_CA, certainty="certain", ca=root.subject_rfc4514,
            reason=(f"the client's chain is rooted at {root.subject_rfc4514} ({how}), which neither the CA list "
                    "nor the "
                    "truststore given holds"),
        )
    generation = _generation_of(root.subject_name, listed)
    if generation is not None:
        return _newer_generation(root, generation)
    return IssuerAssessment(
        cause=WRONG_CA, certainty="likely", ca=root.subject_rfc4514,
        reason=(f"the client's chain is complete up to the root {root.subject_rfc4514} ({how}), which the server does "
                "not list"),
        alternatives=(NOT_LOADED,),
        decide_with=("the truststore the server is configured with (--truststore): if it holds "
                     f"{root.subject_rfc4514}, "
                     "the server did not load it"),
    )


def _newer_generation(ca: CertificateSummary, listed: x509.Name) -> IssuerAssessment:
    return IssuerAssessment(
        cause=NOT_LOADED, certainty="likely", ca=ca.issuer_rfc4514 if not ca.self_issued else ca.subject_rfc4514,
        reason=(f"the client's CA {ca.issuer_rfc4514} is another generation of the listed "
                f"{listed.rfc4514_string()} (same "
                "name but for its generation mark): the server most likely still runs with the older truststore"),
        alternatives=(WRONG_CA, INCOMPLETE),
        decide_with=("the truststore the server is configured with (--truststore): if it holds "
                     f"{ca.issuer_rfc4514}, the server did not load it"),
    )


def _by_likeness(top: CertificateSummary, leaf: CertificateSummary, listed: Sequence[x509.Name],
                 truststore: Truststore | None) -> IssuerAssessment:
    """No key links the chain to anything known: name likeness, never certain."""
    issuer = top.issuer_name
    fetch = ""
    urls = top.ca_issuers or leaf.ca_issuers
    if urls:
        fetch = (f"; or the issuer's certificate, which {top.subject_rfc4514} names at {urls[0]} (fetch it and "
                 "compare its "
                 "issuer with the listed CAs)")
    generation = _generation_of(issuer, listed)
    if generation is not None:
        return _newer_generation(top, generation)
    same_org = _same_organization(issuer, listed) or _url_names_listed(urls, listed)
    trust = "" if truststore is not None else "the truststore the server is configured with (--truststore)"
    if same_org is not None:
        return IssuerAssessment(
            cause=INCOMPLETE, certainty="likely", ca=top.issuer_rfc4514,
            reason=(f"{top.issuer_rfc4514}, which issued {top.subject_rfc4514}, was not sent and is known nowhere "
                    "here; it belongs "
                    f"to the same organization as the listed {same_org}, so it is most likely an intermediate "
                    "under it"),
            alternatives=(NOT_LOADED, WRONG_CA),
            decide_with=_join(f"the client's chain file (openssl x509 -in chain.pem -noout -issuer for each "
                              f"certificate): whether {top.issuer_rfc4514} is issued by {same_org}", trust) + fetch,
        )
    if issuer is not None and listed and _organizations(issuer) and all(_organizations(n) for n in listed):
        return IssuerAssessment(
            cause=WRONG_CA, certainty="likely", ca=top.issuer_rfc4514,
            reason=(f"{top.issuer_rfc4514}, which issued {top.subject_rfc4514}, belongs to an organization none of "
                    "the listed CAs "
                    "belongs to: a certificate from another CA"),
            alternatives=(NOT_LOADED,),
            decide_with=_join(trust and f"{trust}: if it holds {top.issuer_rfc4514}, the server did not load it",
                              "") + fetch or None,
        )
    return IssuerAssessment(
        cause=UNDECIDED, certainty="undecided", ca=top.issuer_rfc4514,
        reason=(f"nothing known here links {top.issuer_rfc4514}, which issued {top.subject_rfc4514}, to a listed CA "
                "or to the "
                "truststore"),
        alternatives=THREE_CAUSES,
        decide_with=_join(trust, f"the certificate of {top.issuer_rfc4514} (from the client's chain file)") + fetch,
    )


def _join(*parts: str) -> str:
    return "; or ".join(p for p in parts if p)


def assess_rekeyed(chain: Sequence[CertificateSummary], listed: Sequence[x509.Name], *,
                   truststore: Truststore | None, seen: Iterable[CertificateSummary]) -> IssuerAssessment | None:
    """The listed CA that issued a chain certificate has, wherever it is known here, another key."""
    pool = _Pool(truststore, seen, chain)
    for cert in sent_path(chain):
        if not is_listed(cert.issuer_name, listed) or cert.self_issued:
            continue
        named = pool.named(cert.issuer_name)
        if not named or any(key_link(cert, parent) for parent, _ in named):
            return None
        if not all(keys_differ(cert, parent) for parent, _ in named):
            return None
        parent, where = next(((p, w) for p, w in named if w == "truststore"), named[0])
        held = "the truststore given" if where == "truststore" else "the capture"
        return IssuerAssessment(
            cause=REKEYED, certainty="certain" if where == "truststore" else "likely", ca=cert.issuer_rfc4514,
            reason=(f"{cert.subject_rfc4514} names the listed CA {cert.issuer_rfc4514} as its issuer, but the "
                    "certificate of that "
                    f"name in {held} (key id {parent.subject_key_id or '?'}) did not sign it; it was signed by "
                    f"key id {cert.authority_key_id or '?'}: the CA was re-issued under the same name with a new key"),
            alternatives=() if where == "truststore" else (WRONG_CA,),
            decide_with=(None if where == "truststore"
                         else "the truststore the server is configured with (--truststore)"),
        )
    return None


# --------------------------------------------------------------------------- name likeness


def _attribute(name: x509.Name | None, oid: x509.ObjectIdentifier) -> list[str]:
    if name is None:
        return []
    return [str(a.value).strip().casefold() for a in name.get_attributes_for_oid(oid)]


def _organizations(name: x509.Name) -> set[str]:
    return set(_attribute(name, NameOID.ORGANIZATION_NAME)) | set(_attribute(name, NameOID.ORGANIZATIONAL_UNIT_NAME))


def _same_organization(name: x509.Name | None, listed: Sequence[x509.Name]) -> str | None:
    orgs = set(_attribute(name, NameOID.ORGANIZATION_NAME))
    for candidate in listed:
        if orgs & set(_attribute(candidate, NameOID.ORGANIZATION_NAME)):
            return candidate.rfc4514_string()
    return None


def generation_stem(common_name: str) -> str | None:
    """The common name without its generation mark ("Example CA G2" -> "example ca"); None without one."""
    stripped = _GENERATION.sub("", common_name).strip().casefold()
    return stripped if stripped and stripped != common_name.strip().casefold() else None


def _generation_of(name: x509.Name | None, listed: Sequence[x509.Name]) -> x509.Name | None:
    """The listed name of which `name` is another generation: same organization, same common name but
    for a different generation mark."""
    cns = _attribute(name, NameOID.COMMON_NAME)
    if not cns:
        return None
    stem = generation_stem(cns[0])
    if stem is None:
        return None
    orgs = set(_attribute(name, NameOID.ORGANIZATION_NAME))
    for candidate in listed:
        other = _attribute(candidate, NameOID.COMMON_NAME)
        if not other or other[0] == cns[0] or set(_attribute(candidate, NameOID.ORGANIZATION_NAME)) != orgs:
            continue
        if (generation_stem(other[0]) or other[0]) == stem:
            return candidate
    return None


def _url_names_listed(urls: Sequence[str], listed: Sequence[x509.Name]) -> str | None:
    """A listed CA whose common name (as a slug) the caIssuers URL's file name carries."""
    for url in urls:
        tail = url.rsplit("/", 1)[-1].casefold()
        for candidate in listed:
            for cn in _attribute(candidate, NameOID.COMMON_NAME):
                slug = re.sub(r"[^a-z0-9]+", "-", cn).strip("-")
                if slug and slug in tail:
                    return candidate.rfc4514_string()
    return None
