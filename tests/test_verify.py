"""Path building from a sent client chain to a truststore: verdicts and the words that explain them.

A test PKI: Capture Lab Root CA → Capture Lab Client CA → client-alice, with a second intermediate
below the first for longer chains; an unrelated Other Root CA with its own leaf; an expired Old Root CA;
a re-created root (same name, another key). Every certificate carries SKI/AKI and the leaves a SAN, so
cryptography's strict verifier can cross-check the good chains.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlscap.pki.certificate import CertificateSummary, summarize_certificate
from tlscap.pki.truststore import Truststore
from tlscap.pki.verify import (
    PROBLEMS,
    CaListComparison,
    compare_ca_list,
    expired_anchors,
    verify_chain,
)

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)


def dn(common_name: str, organization: str = "Capture Lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    start: dt.datetime = START,
    lifetime: dt.timedelta = 10 * YEAR,
    san: bool = True,
) -> CertificateSummary:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if san:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    if ca:
        usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    elif san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("alice@capture.lab")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    return summarize_certificate(cert.public_bytes(serialization.Encoding.DER))


class Pki:
    def __init__(self) -> None:
        self.root_key, self.inter_key, self.sub_key, self.leaf_key = (new_key() for _ in range(4))
        self.root_name = dn("Capture Lab Root CA")
        self.inter_name = dn("Capture Lab Client CA")
        self.sub_name = dn("Capture Lab Team CA")
        self.root = issue(self.root_name, self.root_key, self.root_name, self.root_key, ca=True)
        self.inter = issue(self.inter_name, self.inter_key, self.root_name, self.root_key, ca=True)
        self.sub = issue(self.sub_name, self.sub_key, self.inter_name, self.inter_key, ca=True)
        self.leaf = issue(dn("client-alice"), self.leaf_key, self.inter_name, self.inter_key, ca=False)
        self.deep_leaf = issue(dn("client-bob"), self.leaf_key, self.sub_name, self.sub_key, ca=False)

        self.other_key = new_key()
        self.other_name = dn("Other Root CA", "Other Org")
        self.other_root = issue(self.other_name, self.other_key, self.other_name, self.other_key, ca=True)
        self.other_leaf = issue(dn("client-eve", "Other Org"), self.leaf_key, self.other_name, self.other_key, ca=False)

        self.old_key = new_key()
        old_name = dn("Old Root CA")
        self.old_root = issue(
            old_name,
            self.old_key,
            old_name,
            self.old_key,
            ca=True,
            start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            lifetime=3 * YEAR,
        )
        self.old_leaf = issue(
            dn("client-carol"),
            self.leaf_key,
            old_name,
            self.old_key,
            ca=False,
            start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        )

        self.recreated_key = new_key()
        self.recreated_root = issue(self.root_name, self.recreated_key, self.root_name, self.recreated_key, ca=True)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def store(*certs: CertificateSummary) -> Truststore:
    return Truststore.from_certificates(certs, source="test")


def shas(certs: list[CertificateSummary]) -> list[str]:
    return [c.sha256_hex for c in certs]


# --------------------------------------------------------------------------- trusted paths


def test_full_chain_verifies(pki: Pki) -> None:
    result = verify_chain([pki.leaf, pki.inter], store(pki.root, pki.other_root), AT)
    assert result.trusted and result.problem is None
    assert shas(result.path) == shas([pki.leaf, pki.inter, pki.root])
    assert result.anchor is pki.root
    assert result.message == (
        "the chain verifies: CN=client-alice,O=Capture Lab,C=US ← CN=Capture Lab Client CA,O=Capture Lab,C=US"
        " ← CN=Capture Lab Root CA,O=Capture Lab,C=US (in the truststore)"
    )
    assert result.notes == [] and result.missing_issuer is None
    assert (result.strict_ok, result.strict_error) == (True, None)


def test_chain_sent_in_odd_order(pki: Pki) -> None:
    # leaf, then the root, then the intermediates upside down: clients send chains in any order.
    result = verify_chain([pki.deep_leaf, pki.root, pki.inter, pki.sub], store(pki.root), AT)
    assert result.trusted
    assert shas(result.path) == shas([pki.deep_leaf, pki.sub, pki.inter, pki.root])
    result = verify_chain([pki.deep_leaf, pki.inter, pki.sub], store(pki.root), AT)
    assert result.trusted and len(result.path) == 4


def test_anchor_included_in_sent_chain(pki: Pki) -> None:
    result = verify_chain([pki.leaf, pki.inter, pki.root], store(pki.root), AT)
    assert result.trusted and result.anchor is pki.root
    assert shas(result.path) == shas([pki.leaf, pki.inter, pki.root])
    assert result.notes == []  # the sent root is the anchor, not an unused extra


def test_sent_root_matches_truststore_by_subject_and_key(pki: Pki) -> None:
    # The truststore holds a re-issued copy of the root (same name and key, other validity and serial).
    reissued = issue(pki.root_name, pki.root_key, pki.root_name, pki.root_key, ca=True, lifetime=20 * YEAR)
    assert reissued.sha256_hex != pki.root.sha256_hex
    result = verify_chain([pki.leaf, pki.inter, pki.root], store(reissued), AT)
    assert result.trusted and result.anchor is reissued and result.path[-1] is reissued


def test_intermediate_as_anchor_notes_openssl(pki: Pki) -> None:
    result = verify_chain([pki.leaf], store(pki.inter), AT)
    assert result.trusted and result.anchor is pki.inter
    assert len(result.notes) == 1 and "OpenSSL-based servers (nginx, Apache)" in result.notes[0]
    # With the root beside it, nothing to note.
    assert verify_chain([pki.leaf], store(pki.inter, pki.root), AT).notes == []


def test_self_signed_leaf_in_truststore(pki: Pki) -> None:
    result = verify_chain([pki.other_root], store(pki.other_root), AT)
    assert result.trusted and result.path == [pki.other_root]
    assert "is itself in the truststore" in result.message


def test_unused_sent_certificates_are_noted(pki: Pki) -> None:
    result = verify_chain([pki.leaf, pki.other_root, pki.inter], store(pki.root), AT)
    assert result.trusted
    assert result.notes == ["the client also sent certificates not on the path: CN=Other Root CA,O=Other Org,C=US"]


def test_names_compared_by_rfc5280(pki: Pki) -> None:
    # The leaf names its issuer in another case, another spacing and as a UTF8String vs PrintableString.
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "us"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "capture  LAB", _type=_ASN1Type.PrintableString),
            x509.NameAttribute(NameOID.COMMON_NAME, " CAPTURE LAB CLIENT CA "),
        ]
    )
    leaf = issue(dn("client-dora"), pki.leaf_key, issuer, pki.inter_key, ca=False)
    result = verify_chain([leaf, pki.inter], store(pki.root), AT)
    assert result.trusted


def test_renewed_anchor_preferred_over_expired_copy(pki: Pki) -> None:
    expired_copy = issue(
        pki.root_name, pki.root_key, pki.root_name, pki.root_key, ca=True, lifetime=dt.timedelta(days=30)
    )
    result = verify_chain([pki.leaf, pki.inter], store(expired_copy, pki.root), AT)
    assert result.trusted and result.anchor is pki.root


def test_strict_cross_check_is_kept_but_does_not_decide(pki: Pki) -> None:
    # No SAN, no AKI: common in real client certificates, refused by cryptography's verifier.
    bare = issue(dn("client-frank"), pki.leaf_key, pki.inter_name, pki.inter_key, ca=False, san=False)
    result = verify_chain([bare, pki.inter], store(pki.root), AT)
    assert result.trusted
    assert result.strict_ok is False and result.strict_error
    assert "missing required extension" in result.strict_error


# --------------------------------------------------------------------------- problems


def test_empty_chain() -> None:
    result = verify_chain([], store(), AT)
    assert (result.trusted, result.problem, result.path, result.anchor) == (False, "empty-chain", [], None)
    assert result.message == "the client sent no certificate"


def test_leaf_alone_issuer_seen_nowhere(pki: Pki) -> None:
    # Whether the unseen issuer is an intermediate or a CA the truststore lacks is open: no advice either way.
    result = verify_chain([pki.leaf], store(pki.root), AT)
    assert not result.trusted and result.problem == "unknown-issuer"
    assert result.missing_issuer == "CN=Capture Lab Client CA,O=Capture Lab,C=US"
    assert result.path == [pki.leaf] and result.anchor is None
    assert result.message.startswith(
        "the client sent CN=client-alice,O=Capture Lab,C=US alone; its issuer CN=Capture Lab Client CA,"
        "O=Capture Lab,C=US is not in the truststore and was not sent, and nothing given shows whether it is an "
        "intermediate under a trusted CA or a CA the truststore lacks"
    )
    result = verify_chain([pki.leaf], store(pki.root), AT, extra_certs=[pki.other_root, pki.other_leaf])
    assert result.message.endswith("; it is not among the 2 certificate(s) seen elsewhere in the capture either")


def test_missing_intermediate_seen_elsewhere(pki: Pki) -> None:
    result = verify_chain([pki.leaf], store(pki.root), AT, extra_certs=[pki.other_root, pki.inter])
    assert not result.trusted  # the server only has what the client sent
    assert result.problem == "missing-intermediate"
    assert "the client must send that intermediate" in result.message
    assert f"seen elsewhere in the capture (SHA-256 {pki.inter.sha256_hex[:16]}…)" in result.message
    assert "and with it the chain verifies: CN=client-alice" in result.message


def test_missing_intermediate_seen_elsewhere_but_still_not_enough(pki: Pki) -> None:
    result = verify_chain([pki.deep_leaf], store(pki.root), AT, extra_certs=[pki.sub])
    assert result.problem == "missing-intermediate"
    assert result.missing_issuer == "CN=Capture Lab Team CA,O=Capture Lab,C=US"
    assert (
        "but even with it the chain would not verify: the issuer of CN=Capture Lab Team CA,O=Capture Lab,C=US, "
        "CN=Capture Lab Client CA,O=Capture Lab,C=US, is missing too"
    ) in result.message


def test_missing_second_intermediate(pki: Pki) -> None:
    result = verify_chain([pki.deep_leaf, pki.sub], store(pki.root), AT)
    assert result.problem == "unknown-issuer"
    assert result.missing_issuer == "CN=Capture Lab Client CA,O=Capture Lab,C=US"
    assert shas(result.path) == shas([pki.deep_leaf, pki.sub])
    assert "the issuer of CN=Capture Lab Team CA,O=Capture Lab,C=US, CN=Capture Lab Client CA" in result.message
    assert "nothing given shows whether it is an intermediate" in result.message


def test_unknown_root_sent_by_client(pki: Pki) -> None:
    result = verify_chain([pki.other_leaf, pki.other_root], store(pki.root), AT)
    assert result.problem == "unknown-root"
    assert result.missing_issuer == "CN=Other Root CA,O=Other Org,C=US"
    assert "a self-signed root CA the client sent, which is not in the truststore" in result.message


def test_unknown_root_not_sent(pki: Pki) -> None:
    # Without the root anywhere it is an unknown issuer; seen elsewhere, it is a root.
    assert verify_chain([pki.other_leaf], store(pki.root), AT).problem == "unknown-issuer"
    result = verify_chain([pki.other_leaf], store(pki.root), AT, extra_certs=[pki.other_root])
    assert result.problem == "unknown-root"
    assert result.missing_issuer == "CN=Other Root CA,O=Other Org,C=US"
    assert "seen elsewhere in the capture as a self-signed root CA" in result.message


def test_near_miss_name_is_pointed_out(pki: Pki) -> None:
    similar = dn("Capture Lab Client CA", "Capture Labs")
    ca = issue(similar, new_key(), similar, pki.root_key, ca=True)
    result = verify_chain([pki.leaf], store(ca), AT)
    assert result.problem == "unknown-issuer"
    assert "the truststore has the similar CN=Capture Lab Client CA,O=Capture Labs,C=US" in result.message
    assert "O differs: 'Capture Lab' vs 'Capture Labs'" in result.message


def test_expired_leaf(pki: Pki) -> None:
    leaf = issue(
        dn("client-gina"), pki.leaf_key, pki.inter_name, pki.inter_key, ca=False, lifetime=dt.timedelta(days=366)
    )
    result = verify_chain([leaf, pki.inter], store(pki.root), AT)
    assert not result.trusted and result.problem == "expired"
    assert result.anchor is pki.root and len(result.path) == 3
    assert result.message.startswith(
        "the client certificate CN=client-gina,O=Capture Lab,C=US expired on 2025-01-01 00:00:00Z, "
        "and the chain is judged at 2025-06-01 00:00:00Z; otherwise the path is complete"
    )


def test_not_yet_valid_leaf(pki: Pki) -> None:
    leaf = issue(
        dn("client-hal"),
        pki.leaf_key,
        pki.inter_name,
        pki.inter_key,
        ca=False,
        start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    result = verify_chain([leaf, pki.inter], store(pki.root), AT)
    assert result.problem == "not-yet-valid"
    assert "is not valid before 2026-01-01 00:00:00Z" in result.message


def test_expired_anchor(pki: Pki) -> None:
    result = verify_chain([pki.old_leaf], store(pki.old_root, pki.root), AT)
    assert result.problem == "expired" and result.anchor is pki.old_root
    assert result.message.startswith(
        "the truststore certificate CN=Old Root CA,O=Capture Lab,C=US expired on 2022-12-31 00:00:00Z"
    )
    # Judged before it expired, the same chain verifies.
    assert verify_chain([pki.old_leaf], store(pki.old_root), dt.datetime(2021, 6, 1, tzinfo=dt.UTC)).trusted


def test_naive_time_is_utc(pki: Pki) -> None:
    assert verify_chain([pki.old_leaf], store(pki.old_root), dt.datetime(2021, 6, 1)).trusted


def test_bad_signature_recreated_root(pki: Pki) -> None:
    # The truststore holds a root with the right name but another key: the CA was re-created.
    result = verify_chain([pki.leaf, pki.inter], store(pki.recreated_root), AT)
    assert not result.trusted and result.problem == "bad-signature"
    assert result.message.startswith(
        "CN=Capture Lab Client CA,O=Capture Lab,C=US names CN=Capture Lab Root CA,O=Capture Lab,C=US as its "
        "issuer, but its signature does not verify with the key of the truststore certificate"
    )
    assert "same name, different key" in result.message
    assert shas(result.path) == shas([pki.leaf, pki.inter])


def test_bad_signature_sent_root_with_same_name(pki: Pki) -> None:
    # The client sends its own root; the truststore has a different root of the same name.
    result = verify_chain([pki.leaf, pki.inter, pki.root], store(pki.recreated_root), AT)
    assert result.problem == "bad-signature"


def test_bad_signature_leaf_forged_name(pki: Pki) -> None:
    forged = issue(dn("client-mallory"), pki.leaf_key, pki.inter_name, new_key(), ca=False)
    result = verify_chain([forged], store(pki.inter, pki.root), AT)
    assert result.problem == "bad-signature"
    assert "with the key of the truststore certificate CN=Capture Lab Client CA" in result.message


def test_valid_path_wins_over_broken_one(pki: Pki) -> None:
    # Both roots carry the same name; only the real one signed the intermediate.
    result = verify_chain([pki.leaf, pki.inter], store(pki.recreated_root, pki.root), AT)
    assert result.trusted and result.anchor is pki.root


def test_problem_codes_are_the_documented_ones() -> None:
    assert set(PROBLEMS) == {
        "missing-intermediate",
        "unknown-issuer",
        "unknown-root",
        "expired",
        "not-yet-valid",
        "bad-signature",
        "empty-chain",
        "search-limit",
    }


def test_a_chain_longer_than_the_path_search_follows_is_unverified() -> None:
    """A client chain of 14 intermediates under a truststore root: the search stops 12 certificates deep
    (limits.MAX_CHAIN_DEPTH) and says so; it found no path at all, which once made verify_chain raise."""
    keys = [new_key() for _ in range(15)]
    names = [dn("Deep Root")] + [dn(f"Deep {index}") for index in range(14)]
    chain = [issue(names[0], keys[0], names[0], keys[0], ca=True)]
    chain += [issue(names[i], keys[i], names[i - 1], keys[i - 1], ca=True) for i in range(1, 15)]
    result = verify_chain(chain[:0:-1], Truststore.from_certificates([chain[0]], source="test"), AT)
    assert (result.trusted, result.problem, len(result.path)) == (False, "search-limit", 13)
    assert "stopped following the path at CN=Deep 1,O=Capture Lab,C=US, 13 certificates deep" in result.message


# --------------------------------------------------------------------------- truststore checks


def test_expired_anchors(pki: Pki) -> None:
    truststore = store(pki.root, pki.old_root, pki.other_root)
    assert expired_anchors(truststore, AT) == [pki.old_root]
    assert expired_anchors(truststore, dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) == []


def test_compare_ca_list_is_rfc5280_insensitive(pki: Pki) -> None:
    advertised = [
        x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "us"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "  capture   lab "),
                x509.NameAttribute(NameOID.COMMON_NAME, "CAPTURE LAB ROOT CA"),
            ]
        ),
        dn("Partner CA", "Partner Inc"),
        None,
        dn("Capture Lab Root CA"),  # listed twice: counted once
    ]
    comparison = compare_ca_list(advertised, store(pki.root, pki.other_root, pki.old_root))
    assert comparison == CaListComparison(
        missing=["CN=Other Root CA,O=Other Org,C=US", "CN=Old Root CA,O=Capture Lab,C=US"],
        extra=["CN=Partner CA,O=Partner Inc,C=US", "(unreadable name #3)"],
        matched=["CN=CAPTURE LAB ROOT CA,O=\\  capture   lab\\ ,C=us"],  # as the server spelled it
    )
    assert comparison.differs


def test_compare_ca_list_accepts_der_and_matches_exactly(pki: Pki) -> None:
    advertised: list[x509.Name | bytes | None] = [pki.root_name.public_bytes(), pki.other_name]
    comparison = compare_ca_list(advertised, store(pki.other_root, pki.root, pki.root))
    assert comparison.missing == [] and comparison.extra == []
    assert comparison.matched == ["CN=Capture Lab Root CA,O=Capture Lab,C=US", "CN=Other Root CA,O=Other Org,C=US"]
    assert not comparison.differs
    assert compare_ca_list([], store(pki.root)).missing == ["CN=Capture Lab Root CA,O=Capture Lab,C=US"]


def test_missing_intermediate_seen_elsewhere_but_anchor_expired(pki: Pki) -> None:
    expired_root = issue(
        pki.root_name, pki.root_key, pki.root_name, pki.root_key, ca=True, lifetime=dt.timedelta(days=30)
    )
    result = verify_chain([pki.leaf], store(expired_root), AT, extra_certs=[pki.inter])
    assert result.problem == "missing-intermediate"
    assert (
        "with it the path reaches CN=Capture Lab Root CA,O=Capture Lab,C=US in the truststore, but "
        "CN=Capture Lab Root CA,O=Capture Lab,C=US is expired at 2025-06-01 00:00:00Z"
    ) in result.message


def test_near_miss_extra_attribute_but_not_a_sibling_ca(pki: Pki) -> None:
    with_ou = x509.Name([*pki.inter_name, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops")])
    ca = issue(with_ou, new_key(), with_ou, new_key(), ca=True)
    result = verify_chain([pki.leaf], store(pki.root, ca), AT)
    assert result.message.endswith(
        "; the truststore has the similar OU=Ops,CN=Capture Lab Client CA,O=Capture Lab,C=US (extra attribute OU='Ops')"
    )
    assert "similar" not in verify_chain([pki.leaf], store(pki.root), AT).message  # Root CA is a sibling
