"""Distinguished-name comparison as RFC 5280 §7.1 asks, and explanations of how two names differ.

The rules (each has a test):

- Exact DER equality, or the very same `x509.Name` object, is a fast "equal".
- Otherwise both names are compared after RFC 4518 string preparation of every attribute value:
  characters RFC 4518 §2.2 maps to nothing (controls, soft hyphen, zero-width and variation
  selectors — note that this includes NUL) are removed; the value is case folded and NFKC-normalized;
  leading and trailing spaces are dropped and inner runs of white space become one space.
  This is caseIgnoreMatch, and for IA5String attributes (emailAddress, DC) caseIgnoreIA5Match, which
  prepares strings the same way. RFC 4518's prohibited-character check is not applied.
- The string type (PrintableString, UTF8String, BMPString, T61String, ...) does not matter, only the value.
- An RDN is a set: the attributes of a multi-valued RDN (`CN=a+O=b`) compare in any order.
- The RDN sequence is ordered: `CN=a,O=b` and `O=b,CN=a` differ.
- Two empty names are equal; an empty name equals no other name.
- Non-string values (a BIT STRING x500UniqueIdentifier, an unreadable value) compare as exact bytes.

Names are `x509.Name` objects or DER bytes (as a CertificateRequest carries them). DER that cannot be read
as a Name equals only the very same bytes.

The prepared form of a name, its attribute breakdown and `closest_name` answers are remembered per
`x509.Name` object (by identity, bounded): the same parsed names recur on every connection.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from tlscap.pki.der import parse_name_der
from tlscap.pki.memo import IdentityMemo

try:  # the short names cryptography prints in RFC 4514 strings (CN, O, OU, C, L, ST, STREET, DC, UID)
    from cryptography.x509.name import _NAMEOID_TO_NAME
except ImportError:  # pragma: no cover - kept in every cryptography release so far
    _NAMEOID_TO_NAME = {}

__all__ = [
    "NameKey",
    "NameLike",
    "closest_name",
    "explain_difference",
    "names_equal",
    "normalize_name",
    "prepare_value",
]

NameLike = x509.Name | bytes | bytearray | memoryview
# One RDN per element, in wire order; each RDN is its sorted, de-duplicated (OID, prepared value) pairs.
NameKey = tuple[tuple[tuple[str, str], ...], ...]

# RFC 4518 §2.2: code points mapped to nothing.
_MAP_TO_NOTHING = (
    [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)]
    + [0x00AD, 0x034F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0xFFFC]
    + [*range(0xFE00, 0xFE10), *range(0x200E, 0x2010), *range(0x202A, 0x202F)]
)
_PREPARE_TABLE = {code: None for code in _MAP_TO_NOTHING}


def prepare_value(value: str | bytes) -> str:
    """RFC 4518 preparation of one attribute value (bytes, e.g. a BIT STRING, become `#<hex>`)."""
    if isinstance(value, bytes):
        return "#" + value.hex()
    text = value.translate(_PREPARE_TABLE)
    if text.isascii():
        text = text.lower()  # casefold and NFKC change nothing else in ASCII
    else:
        text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # str.split() with no argument splits on every Unicode space separator (Zs) and line break.
    return " ".join(text.split())


def _is_der(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _as_name(value: NameLike) -> x509.Name | None:
    if isinstance(value, x509.Name):
        return value
    if _is_der(value):
        return parse_name_der(bytes(value))
    raise TypeError(f"expected an x509.Name or DER bytes, not {type(value).__name__}")


def _compute_key(name: x509.Name) -> NameKey:
    return tuple(
        tuple(sorted({(attribute.oid.dotted_string, prepare_value(attribute.value)) for attribute in rdn}))
        for rdn in name.rdns
    )


# Names whose key, attribute breakdown or closest-name answer is remembered (by identity).
NAME_MEMO_SIZE = 8192
_normalized: IdentityMemo[NameKey] = IdentityMemo(_compute_key, NAME_MEMO_SIZE)


def normalize_name(name: NameLike) -> NameKey:
    """A hashable key: two names have equal keys exactly when `names_equal` says they are equal.

    Unreadable DER gets a key holding its hex, so it matches only the same bytes.
    """
    parsed = _as_name(name)
    if parsed is None:
        return ((("der", bytes(name).hex()),),)  # type: ignore[arg-type]
    return _normalized(parsed)


def names_equal(a: NameLike | None, b: NameLike | None) -> bool:
    """True when the names match by RFC 5280 §7.1 (see the module's rules); False if either is None."""
    if a is None or b is None:
        return False
    if _is_der(a) and _is_der(b) and bytes(a) == bytes(b):  # type: ignore[arg-type]
        return True
    name_a, name_b = _as_name(a), _as_name(b)
    if name_a is None or name_b is None:
        return False
    # Names equal by cryptography's `==` always have equal keys, so the keys alone decide.
    return name_a is name_b or _normalized(name_a) == _normalized(name_b)


# --------------------------------------------------------------------------- explanations


@dataclass(frozen=True, slots=True)
class _Attribute:
    oid: str
    label: str
    shown: str
    key: str
    asn1_type: str


def _label(oid: x509.ObjectIdentifier) -> str:
    short = _NAMEOID_TO_NAME.get(oid)
    if short:
        return short
    name = getattr(oid, "_name", None)
    return str(name) if name and name != "Unknown OID" else oid.dotted_string


def _show(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return "#" + value.hex()
    return "".join(f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in value)


def _quote(text: str) -> str:
    return f"'{text}'"


def _compute_rdn_attributes(name: x509.Name) -> list[list[_Attribute]]:
    out: list[list[_Attribute]] = []
    for rdn in name.rdns:
        row = []
        for attribute in rdn:
            asn1_type = getattr(attribute, "_type", None)
            row.append(
                _Attribute(
                    oid=attribute.oid.dotted_string,
                    label=_label(attribute.oid),
                    shown=_show(attribute.value),
                    key=prepare_value(attribute.value),
                    asn1_type=getattr(asn1_type, "name", str(asn1_type)),
                )
            )
        out.append(row)
    return out


# Shared by every caller: treat the lists as read-only.
_rdn_attributes: IdentityMemo[list[list[_Attribute]]] = IdentityMemo(_compute_rdn_attributes, NAME_MEMO_SIZE)


def _display(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - a hand-built name cryptography cannot print
        return repr(name)


def _attribute_differences(wanted: list[list[_Attribute]], got: list[list[_Attribute]]) -> list[str]:
    """'O differs: ...', 'missing attribute ...', 'extra attribute ...', most specific attribute first."""
    flat_wanted = [a for rdn in reversed(wanted) for a in rdn]
    flat_got = [a for rdn in reversed(got) for a in rdn]
    oids = list(dict.fromkeys([a.oid for a in flat_wanted] + [a.oid for a in flat_got]))
    notes: list[str] = []
    for oid in oids:
        rest_wanted = [a for a in flat_wanted if a.oid == oid]
        rest_got: list[_Attribute] = []
        for attribute in (a for a in flat_got if a.oid == oid):
            match = next((i for i, w in enumerate(rest_wanted) if w.key == attribute.key), None)
            if match is None:
                rest_got.append(attribute)
            else:
                rest_wanted.pop(match)
        for w, g in zip(rest_wanted, rest_got, strict=False):
            notes.append(f"{w.label} differs: {_quote(w.shown)} vs {_quote(g.shown)}")
        for w in rest_wanted[len(rest_got) :]:
            notes.append(f"missing attribute {w.label}={_quote(w.shown)}")
        for g in rest_got[len(rest_wanted) :]:
            notes.append(f"extra attribute {g.label}={_quote(g.shown)}")
    return notes


def _structure_difference(wanted: list[list[_Attribute]], got: list[list[_Attribute]]) -> str | None:
    """'RDN order differs' or 'RDN grouping differs' when the RDNs are arranged differently."""

    def rdn_key(rdn: list[_Attribute]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({(a.oid, a.key) for a in rdn}))

    def rdn_oids(rdn: list[_Attribute]) -> tuple[str, ...]:
        return tuple(sorted({a.oid for a in rdn}))

    if [rdn_key(r) for r in wanted] == [rdn_key(r) for r in got]:
        return None
    if Counter(rdn_key(r) for r in wanted) == Counter(rdn_key(r) for r in got):
        return "RDN order differs"
    if Counter(rdn_oids(r) for r in wanted) == Counter(rdn_oids(r) for r in got):
        if [rdn_oids(r) for r in wanted] != [rdn_oids(r) for r in got]:
            return "RDN order differs"
        return None
    if sorted(a.oid for r in wanted for a in r) == sorted(a.oid for r in got for a in r):
        return "RDN grouping differs (multi-valued RDNs)"
    return None


def _der(name: x509.Name) -> bytes | None:
    try:
        return name.public_bytes()
    except Exception:  # noqa: BLE001 - a hand-built name with a value cryptography cannot encode
        return None


def _explain_equal(wanted: x509.Name, got: x509.Name) -> str:
    """For names equal by the rules: say whether they are byte-for-byte equal, and if not, what differs."""
    der_wanted, der_got = _der(wanted), _der(got)
    if der_wanted is not None and der_wanted == der_got:
        return "the names are identical"
    notes: list[str] = []
    for rdn_wanted, rdn_got in zip(_rdn_attributes(wanted), _rdn_attributes(got), strict=True):
        for w in rdn_wanted:
            g = next((a for a in rdn_got if a.oid == w.oid and a.key == w.key), None)
            if g is None:
                continue
            if g.asn1_type != w.asn1_type:
                notes.append(f"{w.label} string type {w.asn1_type} vs {g.asn1_type}")
            if g.shown != w.shown:
                notes.append(f"{w.label} {_quote(w.shown)} vs {_quote(g.shown)}")
        if [a.key for a in rdn_wanted] != [a.key for a in rdn_got] and not notes:
            notes.append("attribute order inside a multi-valued RDN")
    if not notes:
        return "the names are identical"
    return (
        f"equal by RFC 5280 §7.1 rules, but not byte for byte ({'; '.join(notes)}); "
        "clients that compare the DER bytes, as Go's crypto/tls does, treat them as different"
    )


def explain_difference(wanted: NameLike | None, got: NameLike | None) -> str:
    """How `got` differs from `wanted`, in plain words (values quoted: the first one is `wanted`'s).

    Examples: "O differs: 'Capture Lab' vs 'Capture Labs'", "extra attribute OU='Ops'" (in `got` only),
    "missing attribute OU='Ops'" (in `wanted` only), "RDN order differs", "the names are identical".
    """
    name_wanted = None if wanted is None else _as_name(wanted)
    name_got = None if got is None else _as_name(got)
    if name_wanted is None or name_got is None:
        if _is_der(wanted) and _is_der(got) and bytes(wanted) == bytes(got):  # type: ignore[arg-type]
            return "the names are identical"
        which = "first" if name_wanted is None else "second"
        return f"the {which} name cannot be read"
    rdns_wanted, rdns_got = _rdn_attributes(name_wanted), _rdn_attributes(name_got)
    if not rdns_wanted and not rdns_got:
        return "both names are empty"
    if not rdns_wanted:
        return f"the first name is empty, the second is {_quote(_display(name_got))}"
    if not rdns_got:
        return f"the second name is empty, the first is {_quote(_display(name_wanted))}"
    if _normalized(name_wanted) == _normalized(name_got):
        return _explain_equal(name_wanted, name_got)
    notes = _attribute_differences(rdns_wanted, rdns_got)
    structure = _structure_difference(rdns_wanted, rdns_got)
    if structure is not None and not any(n.startswith(("missing", "extra")) for n in notes):
        notes.append(
            f"{structure}: {_quote(_display(name_wanted))} vs {_quote(_display(name_got))}"
            if not notes
            else structure
        )
    return "; ".join(notes) if notes else "the names differ"


def _score(target: Counter[tuple[str, str]], candidate: NameLike) -> int:
    try:
        key = normalize_name(candidate)
    except TypeError:
        return -1
    return sum((target & Counter(pair for rdn in key for pair in rdn)).values())


def closest_name(target: NameLike, candidates: Sequence[NameLike]) -> tuple[int, str]:
    """(index of the candidate sharing most attributes with `target`, how `target` differs from it).

    Attributes match when type and prepared value are equal; ties go to the first candidate.
    With no candidates: (-1, "there are no names to compare with").
    """
    if not candidates:
        return -1, "there are no names to compare with"
    if any(isinstance(n, bytearray | memoryview) for n in (target, *candidates)):
        return _compute_closest(target, *candidates)  # mutable: not remembered
    return _closest(target, *candidates)


def _compute_closest(target: NameLike, *candidates: NameLike) -> tuple[int, str]:
    target_pairs = Counter(pair for rdn in normalize_name(target) for pair in rdn)
    scores = [_score(target_pairs, candidate) for candidate in candidates]
    best = scores.index(max(scores))
    return best, explain_difference(target, candidates[best])


# By identity of the target and every candidate.
_closest: IdentityMemo[tuple[int, str]] = IdentityMemo(_compute_closest, NAME_MEMO_SIZE)
