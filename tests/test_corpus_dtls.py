"""Differential test for DTLS: tlscap's handshake facts against tshark 4.0's truth (`proto: "dtls"` entries).

The facts are those of test_corpus_differential.py, for UDP connections (ids are Wireshark's udp.stream):
ClientHello and ServerHello frames with the negotiated version, every CertificateRequest with its CA names,
every Certificate with sender and subjects, every alert. tshark lists each fragment of a handshake
message; the fact is the message, at the frame that completed it (`dtls.handshake.fragment` "reassembled",
or an unfragmented message). A retransmitted copy is a fact of its own, as tshark lists it. Facts tshark
shows only because it decrypted a record are set aside, as in the TCP test. Every remaining disagreement
is listed below as the fact itself, with its reason.

tlscap reads these captures here without the key material they hold (`embedded_secrets=False`): the truth
cannot judge what keys open in them (tshark 4.0 decrypts no DTLS 1.3, so nDPI's dtls.pcap shows its
DTLS 1.3 records as plain UDP; the truth tool gave tshark only the first of webrtc-freeswitch's two
comment lines, so its DTLS alert stayed encrypted). test_dtls_decrypt.py holds the decrypted facts to
tshark given the whole key material, and DTLS 1.3 to its AEAD tags.
"""

from __future__ import annotations

import pytest
from corpus_facts import (
    CORPUS,
    Comparison,
    KnownDifference,
    _values_from_rdns,
    connection_facts,
    differences,
    load_truth,
    truth_files,
    unexpected,
)

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport

# Every fact on which tlscap and tshark disagree, with why (none today). The test fails on a difference not
# listed here, and on a listed one no longer found.
KNOWN_DIFFERENCES: list[KnownDifference] = []


def has_dtls(truth: dict) -> bool:
    return any(m.get("proto") == "dtls" for m in truth["handshake_messages"]) or any(
        a.get("proto") == "dtls" for a in truth["alerts"])


CASES = [p for p in truth_files() if has_dtls(load_truth(p))]


def dtls_truth_facts(truth: dict) -> set:
    facts: set = set()
    for m in truth["handshake_messages"]:
        if m.get("proto") != "dtls" or m.get("dtls_fragment") == "fragment":
            continue  # a part of a message: the message is the fact, where its last fragment came
        stream, frame, name = m["stream"], m["frame"], m.get("hs_name")
        if name == "client_hello":
            facts.add(("client_hello", stream, frame))
        elif name == "server_hello":
            version = m.get("selected_version") or m.get("hs_version") or "?"
            facts.add(("server_hello", stream, frame, version.lower()))
        elif name == "certificate_request":
            names = tuple(_values_from_rdns(dn.get("rdns", [])) for dn in m.get("distinguished_names", []))
            facts.add(("certificate_request", stream, frame, names))
        elif name == "certificate":
            subjects = tuple(_values_from_rdns(c.get("subject", {}).get("rdns", [])) for c in m.get("certificates", []))
            facts.add(("certificate", stream, frame, m.get("from"), m.get("cert_count", len(subjects)), subjects))
    for a in truth["alerts"]:
        if a.get("proto") != "dtls":
            continue
        desc = a.get("description")
        facts.add(("alert", a["stream"], a["frame"], a.get("from"), "encrypted" if desc == "encrypted" else desc))
    return facts


def tlscap_dtls_facts(report: CaptureReport) -> tuple[set, dict[tuple[int, str], int]]:
    """The facts of the UDP connections, and per (stream, sender) the frame after which that sender's
    records are encrypted (its ChangeCipherSpec, or the ServerHello in DTLS 1.3)."""
    facts: set = set()
    boundary: dict[tuple[int, str], int] = {}
    for conn in report.connections:
        if conn.transport != "udp":
            continue
        facts |= connection_facts(conn)
        for h in conn.handshake:
            if h.message == "ChangeCipherSpec":
                boundary.setdefault((conn.id, h.sender), h.frame)
            if h.message == "ServerHello" and conn.tls13:
                boundary.setdefault((conn.id, "client"), h.frame)
                boundary.setdefault((conn.id, "server"), h.frame)
    return facts, boundary


def compare(truth: dict, report: CaptureReport) -> Comparison:
    want = dtls_truth_facts(truth)
    got, boundary = tlscap_dtls_facts(report)
    if truth.get("keylog") or truth.get("decryption"):
        # tshark decrypted: an alert tlscap shows as encrypted matches tshark's description of it, and a
        # message tshark read only by decrypting is not expected.
        for fact in [f for f in got if f[0] == "alert" and f[4] == "encrypted"]:
            twin = next((w for w in want if w[0] == "alert" and w[:4] == fact[:4]), None)
            if twin is not None:
                got.discard(fact)
                got.add(twin)
        for fact in list(want):
            sender = "client" if fact[0] == "client_hello" else "server" if fact[0] in (
                "server_hello", "certificate_request") else fact[3]
            start = boundary.get((fact[1], sender))
            if fact not in got and start is not None and fact[2] > start:
                want.discard(fact)
    return Comparison(len(want | got), len(want & got), frozenset(want - got), frozenset(got - want))


@pytest.fixture(scope="module")
def results():
    out = {}
    for path in CASES:
        truth = load_truth(path)
        options = AnalysisOptions(embedded_secrets=False)
        out[path.name] = compare(truth, analyze_capture(str(CORPUS / truth["file"]), options))
    return out


def test_the_dtls_captures_are_there():
    assert len(CASES) >= 9, "the shared corpus (../shared/corpus) is missing its DTLS captures"


def test_every_listed_difference_names_a_compared_capture():
    assert {k.capture for k in KNOWN_DIFFERENCES} <= {p.name for p in CASES}


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_dtls_capture_agrees_with_tshark(path, results):
    c = results[path.name]
    assert unexpected(path.name, differences(c.tshark_only, c.tlscap_only), KNOWN_DIFFERENCES) == ""


def test_dtls_agreement_at_least_99_percent(results):
    total = sum(c.total for c in results.values())
    agreed = sum(c.agreed for c in results.values())
    assert total >= 60
    assert agreed / total >= 0.99, f"{agreed}/{total}"
