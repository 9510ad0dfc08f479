"""Differential test with keys: the corpus captures that come with key material (a key log file beside
them, key-log lines in the pcapng comment, or a Decryption Secrets Block), compared with tshark's truth
on every fact, decrypted ones included (TLS 1.3 CertificateRequest and Certificates, decrypted alerts,
renegotiations). Every disagreement is listed below as the fact itself, with its reason."""

from __future__ import annotations

import csv

import pytest
from corpus_facts import (
    CORPUS,
    KnownDifference,
    differences,
    load_truth,
    tlscap_facts,
    truth_facts,
    truth_files,
    unexpected,
)

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.tls.keylog import load_keylog_file


def _keylog_files() -> dict[str, str]:
    with open(CORPUS / "PROVENANCE.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {r["corpus_path"]: r["keylog"] for r in rows if r.get("keylog")}


KEYLOGS = _keylog_files()
_IMAP_WHY = ("the truth tool passed tshark only the first of the comment's two key-log lines, so tshark could not "
             "decrypt stream 0; tlscap uses both and reads close_notify (0) (see test_corpus_differential.py)")
# Every fact on which tlscap and tshark disagree, with why. The test fails on a difference not listed here,
# and on a listed one no longer found.
KNOWN_DIFFERENCES: list[KnownDifference] = [
    KnownDifference(capture="wireshark-notes__imap-ssl.pcapng.json", stream=0, frame=36,
                    field="client alert description", tshark="encrypted", tlscap=0, why=_IMAP_WHY),
    KnownDifference(capture="wireshark-notes__imap-ssl.pcapng.json", stream=0, frame=40,
                    field="server alert description", tshark="encrypted", tlscap=0, why=_IMAP_WHY),
]


def _keyed_cases() -> list:
    out = []
    for path in truth_files():
        truth = load_truth(path)
        keyed = truth.get("keylog") or truth.get("decryption")
        tcp = any(m.get("transport") == "tcp" for m in truth["handshake_messages"])
        if keyed and tcp:
            out.append(path)
    return out


CASES = _keyed_cases()


def _compare(path):
    truth = load_truth(path)
    keylog_file = KEYLOGS.get(truth["file"], "")
    keylog = None
    if keylog_file and keylog_file != "capture-comment":
        keylog = load_keylog_file(CORPUS / keylog_file)
    report = analyze_capture(str(CORPUS / truth["file"]), AnalysisOptions(keylog=keylog))
    expected = truth_facts(truth)
    want = set(expected.facts | expected.decrypted)
    got = tlscap_facts(report)
    return want, got


@pytest.fixture(scope="module")
def results():
    return {p.name: _compare(p) for p in CASES}


def test_there_are_keyed_captures():
    assert len(CASES) >= 25


def test_every_listed_difference_names_a_compared_capture():
    assert {k.capture for k in KNOWN_DIFFERENCES} <= {p.name for p in CASES}


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_keyed_capture_agrees_with_tshark(path, results):
    want, got = results[path.name]
    assert unexpected(path.name, differences(want - got, got - want), KNOWN_DIFFERENCES) == ""


def test_overall_agreement_with_decrypted_facts(results):
    total = sum(len(w | g) for w, g in results.values())
    agreed = sum(len(w & g) for w, g in results.values())
    assert agreed / total >= 0.99, f"{agreed}/{total}"
