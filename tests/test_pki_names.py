"""Distinguished-name comparison (RFC 5280 §7.1 with RFC 4518 preparation) and its explanations.

One test per rule of `tlscap.pki.names`: case, white space, string types, multi-valued RDNs, RDN order,
empty names, IA5String email addresses, Unicode normalization, DER input, and the explanations.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from tlscap.pki.names import (
    closest_name,
    explain_difference,
    names_equal,
    normalize_name,
    prepare_value,
)

CN, ORG, OU, C = (
    NameOID.COMMON_NAME,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.COUNTRY_NAME,
)
EMAIL, DC = NameOID.EMAIL_ADDRESS, NameOID.DOMAIN_COMPONENT


def attr(oid: x509.ObjectIdentifier, value: str, kind: _ASN1Type | None = None) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=kind) if kind else x509.NameAttribute(oid, value)


def name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """Wire order: the first pair is the least specific RDN (C), as certificates carry them."""
    return x509.Name([attr(oid, value) for oid, value in pairs])


def rdns(*groups: list[x509.NameAttribute]) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName(group) for group in groups])


LAB = name((C, "US"), (ORG, "Capture Lab"), (CN, "Capture Lab Client CA"))


# --------------------------------------------------------------------------- equality rules


def test_identical_and_der_fast_path() -> None:
    assert names_equal(LAB, name((C, "US"), (ORG, "Capture Lab"), (CN, "Capture Lab Client CA")))
    assert names_equal(LAB.public_bytes(), LAB.public_bytes())
    assert names_equal(LAB.public_bytes(), LAB) and names_equal(LAB, LAB.public_bytes())
    assert explain_difference(LAB, LAB.public_bytes()) == "the names are identical"


def test_case_is_ignored() -> None:
    assert names_equal(LAB, name((C, "us"), (ORG, "CAPTURE lab"), (CN, "capture LAB client ca")))


def test_insignificant_white_space() -> None:
    spaced = name((C, "US"), (ORG, "  Capture \t  Lab "), (CN, "Capture\u00a0Lab  Client\u3000CA"))
    assert names_equal(LAB, spaced)
    assert not names_equal(LAB, name((C, "US"), (ORG, "CaptureLab"), (CN, "Capture Lab Client CA")))


def test_string_types_compare_by_value() -> None:
    printable = x509.Name(
        [
            attr(C, "US", _ASN1Type.PrintableString),
            attr(ORG, "Capture Lab", _ASN1Type.PrintableString),
            attr(CN, "Capture Lab Client CA", _ASN1Type.PrintableString),
        ]
    )
    bmp = x509.Name(
        [
            attr(C, "US", _ASN1Type.PrintableString),
            attr(ORG, "Capture Lab", _ASN1Type.BMPString),
            attr(CN, "Capture Lab Client CA", _ASN1Type.UTF8String),
        ]
    )
    assert printable.public_bytes() != LAB.public_bytes() != bmp.public_bytes()
    assert names_equal(printable, LAB) and names_equal(bmp, LAB)
    assert names_equal(printable.public_bytes(), bmp.public_bytes())
    explanation = explain_difference(printable, LAB)
    assert explanation.startswith("equal by RFC 5280 §7.1 rules, but not byte for byte")
    assert "O string type PrintableString vs UTF8String" in explanation
    assert "Go's crypto/tls" in explanation


def test_multi_valued_rdn_is_a_set() -> None:
    one = rdns([attr(C, "US")], [attr(ORG, "Capture Lab"), attr(OU, "Ops")], [attr(CN, "x")])
    other = rdns([attr(C, "US")], [attr(OU, "OPS"), attr(ORG, "capture lab")], [attr(CN, "X")])
    assert names_equal(one, other)
    assert names_equal(one.public_bytes(), other.public_bytes())
    assert normalize_name(one) == normalize_name(other)


def test_multi_valued_rdn_differs_from_separate_rdns() -> None:
    grouped = rdns([attr(C, "US")], [attr(ORG, "Capture Lab"), attr(CN, "x")])
    separate = name((C, "US"), (ORG, "Capture Lab"), (CN, "x"))
    assert not names_equal(grouped, separate)
    assert explain_difference(grouped, separate).startswith("RDN grouping differs")


def test_rdn_order_is_significant() -> None:
    reversed_lab = name((CN, "Capture Lab Client CA"), (ORG, "Capture Lab"), (C, "US"))
    assert not names_equal(LAB, reversed_lab)
    assert explain_difference(LAB, reversed_lab) == (
        "RDN order differs: 'CN=Capture Lab Client CA,O=Capture Lab,C=US' vs "
        "'C=US,O=Capture Lab,CN=Capture Lab Client CA'"
    )


def test_empty_names() -> None:
    empty = x509.Name([])
    assert names_equal(empty, x509.Name([]))
    assert names_equal(empty.public_bytes(), b"\x30\x00")
    assert not names_equal(empty, LAB) and not names_equal(LAB, empty)
    assert explain_difference(empty, x509.Name([])) == "both names are empty"
    assert explain_difference(empty, name((CN, "x"))) == "the first name is empty, the second is 'CN=x'"
    assert explain_difference(name((CN, "x")), empty) == "the second name is empty, the first is 'CN=x'"


def test_email_address_ia5_case_ignore() -> None:
    one = name((CN, "markw"), (EMAIL, "MarkW@Example.COM"))
    other = name((CN, "markw"), (EMAIL, " markw@example.com"))
    assert one.get_attributes_for_oid(EMAIL)[0]._type == _ASN1Type.IA5String
    assert names_equal(one, other)
    assert not names_equal(one, name((CN, "markw"), (EMAIL, "mark.w@example.com")))
    assert names_equal(name((DC, "Example"), (DC, "COM")), name((DC, "example"), (DC, "com")))


def test_unicode_preparation() -> None:
    assert prepare_value("ＡＢＣ") == "abc"  # full-width forms: NFKC
    assert prepare_value("Straße") == prepare_value("STRASSE")  # full case folding
    assert prepare_value("e\u0301") == prepare_value("\u00e9")  # composed and decomposed
    assert prepare_value("ﬁle") == "file"  # ligature
    assert prepare_value("soft\u00adhyphen\u200b") == "softhyphen"  # mapped to nothing
    assert prepare_value("  a \n\t b  ") == "a b"
    assert prepare_value("nul\x00byte") == "nulbyte"  # RFC 4518 maps controls, NUL included, to nothing
    assert prepare_value(b"\x01\xff") == "#01ff"


def test_none_and_unreadable_der() -> None:
    assert not names_equal(None, LAB) and not names_equal(LAB, None) and not names_equal(None, None)
    garbage = b"\x30\x05garbage"
    assert names_equal(garbage, bytes(garbage))
    assert not names_equal(garbage, LAB)
    assert normalize_name(garbage) == normalize_name(bytearray(garbage))
    assert explain_difference(garbage, LAB) == "the first name cannot be read"


def test_normalized_names_are_dictionary_keys() -> None:
    variants = [
        LAB,
        LAB.public_bytes(),
        name((C, "us"), (ORG, "capture  lab"), (CN, "CAPTURE LAB CLIENT CA")),
        x509.Name(
            [
                attr(C, "US"),
                attr(ORG, "Capture Lab", _ASN1Type.PrintableString),
                attr(CN, "Capture Lab Client CA"),
            ]
        ),
    ]
    keys = {normalize_name(v) for v in variants}
    assert len(keys) == 1
    assert {normalize_name(LAB): "lab"}[normalize_name(variants[2])] == "lab"
    assert normalize_name(LAB) != normalize_name(
        name((C, "US"), (ORG, "Capture Labs"), (CN, "Capture Lab Client CA"))
    )


def test_unknown_attribute_types_compare_and_explain() -> None:
    oid = x509.ObjectIdentifier("1.2.3.4.5")
    assert names_equal(name((oid, "Value")), name((oid, "value")))
    assert explain_difference(name((oid, "a")), name((oid, "b"))) == "1.2.3.4.5 differs: 'a' vs 'b'"


# --------------------------------------------------------------------------- explanations


def test_explain_value_difference() -> None:
    wanted = name((C, "US"), (ORG, "Capture Lab"), (CN, "Capture Lab Client CA"))
    got = name((C, "US"), (ORG, "Capture Labs"), (CN, "Capture Lab Client CA"))
    assert explain_difference(wanted, got) == "O differs: 'Capture Lab' vs 'Capture Labs'"
    old = name((C, "US"), (ORG, "My Company"), (CN, "Old Client CA"))
    new = name((C, "US"), (ORG, "My Company"), (CN, "My Company Client CA"))
    assert explain_difference(old, new) == "CN differs: 'Old Client CA' vs 'My Company Client CA'"


def test_explain_extra_and_missing_attributes() -> None:
    with_ou = name((C, "US"), (ORG, "Capture Lab"), (OU, "Ops"), (CN, "Capture Lab Client CA"))
    assert explain_difference(LAB, with_ou) == "extra attribute OU='Ops'"
    assert explain_difference(with_ou, LAB) == "missing attribute OU='Ops'"


def test_explain_several_differences_most_specific_first() -> None:
    got = name((C, "DE"), (ORG, "Capture Lab"), (CN, "Other CA"), (EMAIL, "ca@example.com"))
    assert explain_difference(LAB, got) == (
        "CN differs: 'Capture Lab Client CA' vs 'Other CA'; C differs: 'US' vs 'DE'; "
        "extra attribute emailAddress='ca@example.com'"
    )


def test_explain_value_and_order_difference() -> None:
    got = name((CN, "Other CA"), (ORG, "Capture Lab"), (C, "US"))
    assert (
        explain_difference(LAB, got) == "CN differs: 'Capture Lab Client CA' vs 'Other CA'; RDN order differs"
    )


def test_explain_shows_control_characters() -> None:
    nul = name((CN, "Microsoft RSA TL\x00 CA 01"))
    assert explain_difference(nul, name((CN, "Microsoft RSA TLS CA 01"))) == (
        "CN differs: 'Microsoft RSA TL\\x00 CA 01' vs 'Microsoft RSA TLS CA 01'"
    )


def test_explain_case_only_difference() -> None:
    explanation = explain_difference(
        LAB, name((C, "US"), (ORG, "CAPTURE LAB"), (CN, "Capture Lab Client CA"))
    )
    assert explanation.startswith("equal by RFC 5280 §7.1 rules, but not byte for byte")
    assert "O 'Capture Lab' vs 'CAPTURE LAB'" in explanation


# --------------------------------------------------------------------------- closest name


def test_closest_name_by_matching_attributes() -> None:
    issuer = name((C, "US"), (ORG, "My Company"), (CN, "Old Client CA"))
    listed = [
        name((C, "US"), (ORG, "Partner Inc"), (CN, "Partner CA")),
        name((C, "US"), (ORG, "My Company"), (CN, "My Company Client CA")),
        name((C, "DE"), (ORG, "Other"), (CN, "Old Client CA ")),
    ]
    assert closest_name(issuer, listed) == (1, "CN differs: 'Old Client CA' vs 'My Company Client CA'")


def test_closest_name_ties_go_to_the_first_and_accept_der() -> None:
    target = name((C, "US"), (CN, "A"))
    listed = [name((C, "US"), (CN, "B")).public_bytes(), name((C, "US"), (CN, "C")), b"\x30\x02junk"]
    assert closest_name(target, listed)[0] == 0
    assert closest_name(target, [b"junk", name((CN, "a"))])[0] == 1


def test_closest_name_exact_match_and_empty_list() -> None:
    assert closest_name(LAB, [name((CN, "x")), LAB.public_bytes()]) == (1, "the names are identical")
    assert closest_name(LAB, []) == (-1, "there are no names to compare with")


# --------------------------------------------------------------------------- properties

_VALUES = st.text(alphabet=st.sampled_from("aAbB ßéÉ\u00a0\u0301ﬁ.-"), min_size=1, max_size=8)
_OIDS = st.sampled_from([CN, ORG, OU, NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME])
_NAMES = st.lists(st.tuples(_OIDS, _VALUES), max_size=4).map(lambda pairs: name(*pairs))


@given(_NAMES, _NAMES)
def test_equality_is_symmetric_and_agrees_with_keys(a: x509.Name, b: x509.Name) -> None:
    assert names_equal(a, a)
    assert names_equal(a, b) == names_equal(b, a)
    assert names_equal(a, b) == (normalize_name(a) == normalize_name(b))
    assert names_equal(a, b) == names_equal(a.public_bytes(), b.public_bytes())
    if not names_equal(a, b):
        assert explain_difference(a, b) != "the names are identical"


@given(_NAMES)
def test_changing_case_and_spacing_keeps_names_equal(a: x509.Name) -> None:
    shouted = x509.Name(
        [attr(attribute.oid, f"  {str(attribute.value).upper()}  ", _ASN1Type.BMPString) for attribute in a]
    )
    assert names_equal(a, shouted)
