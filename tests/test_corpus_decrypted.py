"""Differential test with keys: the corpus captures that come with key material (a key log file beside
them, key-log lines in the pcapng comment, or a Decryption Secrets Block), compared with tshark's truth
on every fact, decrypted ones included (TLS 1.3 CertificateRequest and Certificates, decrypted alerts,
renegotiations)."""

from __future__ import annotations

import csv

import pytest
from corpus_facts import CORPUS, load_truth, tlscap_facts, truth_facts, truth_files

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.tls.keylog import load_keylog_file


def _keylog_files() -> dict[str, str]:
    with open(CORPUS / "PROVENANCE.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {r["corpus_path"]: r["keylog"] for r in rows if r.get("keylog")}


KEYLOGS = _keylog_files()
# truth name -> (reason, number of facts on which tlscap and tshark disagree)
KNOWN_DIFFERENCES: dict[str, tuple[str, int]] = {
    "wireshark-notes__imap-ssl.pcapng.json": (
        "the truth tool passed tshark only the first of the comment's two key-log lines; tlscap uses both "
        "(see test_corpus_differential.py)", 4),
}


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


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_keyed_capture_agrees_with_tshark(path, results):
    want, got = results[path.name]
    diff = (want - got) | (got - want)
    detail = f"tshark only: {sorted(want - got, key=str)[:6]}\ntlscap only: {sorted(got - want, key=str)[:6]}"
    known = KNOWN_DIFFERENCES.get(path.name)
    assert len(diff) == (known[1] if known else 0), detail


def test_overall_agreement_with_decrypted_facts(results):
    total = sum(len(w | g) for w, g in results.values())
    agreed = sum(len(w & g) for w, g in results.values())
    assert agreed / total >= 0.99, f"{agreed}/{total}"
