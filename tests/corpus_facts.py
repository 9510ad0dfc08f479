"""Handshake facts from tshark's truth files and from tlscap, in one comparable form.

A fact is a hashable tuple: (kind, stream, frame, detail...). Kinds: client_hello, server_hello
(with the negotiated version), certificate_request (CA names as attribute values in wire order),
certificate (sender, count, subjects as attribute values), alert (sender, description or
"encrypted"). Facts that tshark only shows after decryption are out of scope for the plaintext
comparison and are left out of both sides (see `decrypted_only`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tlscap.analysis.model import CaptureReport, Connection
from tlscap.pki.der import parse_name_der

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
TRUTH = CORPUS / "truth"

Fact = tuple


def corpus_folder(name: str) -> Path:
    """A folder of the public corpus. Missing, it fails (at collection, where a test module lists the
    corpus) and names the folder: nothing is skipped, and CI has ../shared/corpus."""
    folder = CORPUS / name
    if not folder.is_dir():
        raise FileNotFoundError(f"the public corpus is missing: no folder {folder.resolve()}")
    return folder


def truth_files() -> list[Path]:
    return sorted(corpus_folder("truth").glob("*.json"))


def load_truth(path: Path) -> dict:
    return json.loads(path.read_text())


def has_tcp_tls(truth: dict) -> bool:
    return any(m.get("transport") == "tcp" for m in truth["handshake_messages"]) or any(
        a.get("transport") == "tcp" for a in truth["alerts"]
    )


def _values_from_rdns(rdns: list[str]) -> tuple[str, ...]:
    return tuple(r.split("=", 1)[1] if "=" in r else r for r in rdns)


def _values_from_name(name: x509.Name | None) -> tuple[str, ...]:
    """Attribute values in wire order; NUL written as tshark writes it (\\000)."""
    if name is None:
        return ()
    out = []
    for rdn in name.rdns:
        for attr in rdn:
            value = attr.value
            text = value if isinstance(value, str) else value.hex()
            out.append(text.replace("\x00", "\\000"))
    return tuple(out)


def _version_text(code: str) -> str:
    return code.lower()


@dataclass(frozen=True)
class FactSet:
    facts: frozenset
    decrypted: frozenset  # facts known only through decryption (compared only when decrypting)


def truth_facts(truth: dict) -> FactSet:
    facts = set()
    decrypted = set()
    keyed = bool(truth.get("keylog") or truth.get("decryption"))
    tls13_streams = {
        s["stream"] for s in truth["sessions"] if s.get("transport") == "tcp"
        and any(sh.get("version") in ("0x0304",) or str(sh.get("version", "")).startswith("0x7f")
                for sh in s.get("server_hellos", []))
    }
    for m in truth["handshake_messages"]:
        if m.get("transport") != "tcp":
            continue
        stream, frame, name = m["stream"], m["frame"], m.get("hs_name")
        fact: Fact | None = None
        if name == "client_hello":
            fact = ("client_hello", stream, frame)
        elif name == "server_hello":
            fact = ("server_hello", stream, frame, _version_text(m.get("selected_version") or m.get("hs_version")
                                                                  or "?"))
        elif name == "certificate_request":
            names = tuple(_values_from_rdns(dn.get("rdns", [])) for dn in m.get("distinguished_names", []))
            fact = ("certificate_request", stream, frame, names)
        elif name == "certificate":
            subjects = tuple(_values_from_rdns(c.get("subject", {}).get("rdns", []))
                             for c in m.get("certificates", []))
            fact = ("certificate", stream, frame, m.get("from"), m.get("cert_count", len(subjects)), subjects)
        if fact is None:
            continue
        if keyed and stream in tls13_streams and name not in ("client_hello", "server_hello"):
            decrypted.add(fact)
        else:
            facts.add(fact)
    for a in truth["alerts"]:
        if a.get("transport") != "tcp":
            continue
        desc = a.get("description")
        fact = ("alert", a["stream"], a["frame"], a.get("from"), "encrypted" if desc == "encrypted" else desc)
        facts.add(fact)
    return FactSet(frozenset(facts), frozenset(decrypted))


def tlscap_facts(report: CaptureReport) -> set:
    """The facts of the TLS-over-TCP connections (DTLS ones are test_corpus_dtls.py's)."""
    facts: set = set()
    for conn in report.connections:
        if conn.transport == "tcp":
            facts |= connection_facts(conn)
    return facts


def connection_facts(conn: Connection) -> set:
    s = conn.id
    facts: set = set()
    for h in conn.handshake:
        if h.damaged:
            continue  # bytes missing: tshark shows no message there either
        if h.message == "ClientHello":
            facts.add(("client_hello", s, h.frame))
        elif h.message in ("ServerHello", "HelloRetryRequest"):
            version = f"0x{conn.version_code:04x}" if conn.version_code is not None else "?"
            facts.add(("server_hello", s, h.frame, version))
    for cr in conn.certificate_requests:
        names = tuple(_values_from_name(parse_name_der(der)) for der in cr.ca_names_der)
        facts.add(("certificate_request", s, cr.frame, names))
    for info in [*conn.client_certificates, *conn.server_certificates]:
        subjects = tuple(_values_from_name(c.subject_name) for c in info.chain)
        facts.add(("certificate", s, info.frame, info.sender, len(info.chain), subjects))
    for a in conn.alerts:
        if a.inferred:
            continue  # TLS 1.3 without keys: read from the record's size; tshark shows application data there
        facts.add(("alert", s, a.frame, a.sender, "encrypted" if a.encrypted else a.description_code))
    return facts


def _sender(fact: Fact) -> str:
    kind = fact[0]
    if kind == "client_hello":
        return "client"
    if kind in ("server_hello", "certificate_request"):
        return "server"
    return str(fact[3])


def encrypted_from(report: CaptureReport) -> dict[tuple[int, str], int]:
    """Per (stream, sender): the frame after which that sender's handshake is encrypted."""
    out: dict[tuple[int, str], int] = {}
    for conn in report.connections:
        for h in conn.handshake:
            if h.message == "ChangeCipherSpec" and not conn.tls13:
                out.setdefault((conn.id, h.sender), h.frame)
            if h.message == "ServerHello" and conn.tls13:
                out.setdefault((conn.id, "client"), h.frame)
                out.setdefault((conn.id, "server"), h.frame)
    return out


@dataclass(frozen=True)
class Comparison:
    total: int
    agreed: int
    tshark_only: frozenset
    tlscap_only: frozenset


def compare(truth: dict, report: CaptureReport) -> Comparison:
    """Compare the plaintext facts; decrypted-only facts are set aside on both sides."""
    keyed = bool(truth.get("keylog") or truth.get("decryption"))
    expected = truth_facts(truth)
    want = set(expected.facts)
    got = tlscap_facts(report) - expected.decrypted
    if keyed:
        boundary = encrypted_from(report)
        tls13 = {c.id for c in report.connections if c.tls13}
        for fact in list(want):
            if fact[0] == "alert" and fact[1] not in tls13:
                continue  # TLS <= 1.2 alerts are visible as records, readable or not
            start = boundary.get((fact[1], _sender(fact)))
            if start is not None and fact[2] > start and fact not in got:
                want.discard(fact)  # shown by tshark only because it decrypted the record
        # An alert tlscap cannot read (no keys given) matches tshark's decrypted description.
        for fact in [f for f in got if f[0] == "alert" and f[4] == "encrypted"]:
            twin = next((w for w in want if w[:4] == fact[:4] and w[0] == "alert"), None)
            if twin is not None:
                got.discard(fact)
                got.add(twin)
    union = want | got
    agreed = len(want & got)
    return Comparison(len(union), agreed, frozenset(want - got), frozenset(got - want))


# --------------------------------------------------------------------------- differences, fact by fact


@dataclass(frozen=True, kw_only=True)
class Difference:
    """One place where tlscap and tshark disagree: at `frame` of connection `stream` (tcp.stream or
    udp.stream), what each shows for `field`; None where it shows nothing there."""

    stream: int
    frame: int
    field: str
    tshark: object
    tlscap: object


@dataclass(frozen=True, kw_only=True)
class KnownDifference(Difference):
    """A difference a differential test expects, in the capture of truth file `capture`, and why."""

    capture: str
    why: str

    def difference(self) -> Difference:
        return Difference(stream=self.stream, frame=self.frame, field=self.field, tshark=self.tshark,
                          tlscap=self.tlscap)


def _field_and_value(fact: Fact) -> tuple[str, object]:
    """A fact as the field it is about and the value shown there (see the module docstring for facts)."""
    kind = fact[0]
    if kind == "client_hello":
        return "ClientHello", "seen"
    if kind == "server_hello":
        return "ServerHello version", fact[3]
    if kind == "certificate_request":
        return "CertificateRequest CA names", fact[3]
    if kind == "certificate":
        sender, count, subjects = fact[3], fact[4], fact[5]
        if count == len(subjects):
            return f"{sender} Certificate subjects", subjects
        return f"{sender} Certificate count and subjects", (count, subjects)
    if kind == "alert":
        return f"{fact[3]} alert description", fact[4]  # the alert's number, or "encrypted"
    raise ValueError(f"unknown fact kind {kind!r}")


def differences(tshark_only: frozenset | set, tlscap_only: frozenset | set) -> frozenset[Difference]:
    """The facts only one side shows, paired by place and field: a value tshark and tlscap both give
    for the same field of the same frame, differently, is one difference, not two."""
    places: dict[tuple[int, int, str], tuple[list, list]] = {}
    for side, facts in ((0, tshark_only), (1, tlscap_only)):
        for fact in facts:
            field, value = _field_and_value(fact)
            places.setdefault((fact[1], fact[2], field), ([], []))[side].append(value)

    def shown(values: list) -> object:
        if not values:
            return None
        return values[0] if len(values) == 1 else tuple(sorted(values, key=repr))

    return frozenset(Difference(stream=stream, frame=frame, field=field, tshark=shown(t), tlscap=shown(c))
                     for (stream, frame, field), (t, c) in places.items())


def unexpected(capture: str, found: frozenset[Difference], known: list[KnownDifference]) -> str:
    """What a differential test reports for one capture: the differences found that are not listed, and
    the listed ones no longer found. Empty when the list holds exactly what was found."""
    expected = {k.difference(): k for k in known if k.capture == capture}
    new = sorted(found - expected.keys(), key=repr)
    gone = sorted(expected.keys() - found, key=repr)
    lines = [f"new difference: {d}" for d in new]
    lines += [f"listed difference no longer found (remove it from the list): {d}\n  listed because: "
              f"{expected[d].why}" for d in gone]
    return "\n".join(lines)
