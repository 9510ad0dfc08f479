"""`json_report.connection_json` joins a connection's JSON text from fragments (cached per certificate)
for speed; `connection_dict` is the plain form the whole-document writers use. The two must give the
same text for every connection: here on every corpus capture, every sample (with its key log when it
has one) and a report whose strings hold what JSON has to escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_facts import corpus_folder
from pki_factory import issue, name
from test_reports_formats import connection

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import Connection
from tlscap.report.json_report import connection_dict, connection_json, dumps
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".gz")
CAPTURES = sorted([*(p for p in corpus_folder("files").rglob("*") if p.suffix in CAPTURE_SUFFIXES),
                   *(ROOT / "samples").glob("*.pcap*")])


def assert_fragments_match(connections: list[Connection]) -> None:
    for conn in connections:
        assert connection_json(conn) == dumps(connection_dict(conn)), f"connection {conn.id}"


def test_the_captures_are_found():
    assert len(CAPTURES) >= 170


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_fragments_match_the_plain_dict(path: Path):
    connections = analyze_capture(str(path)).connections
    keylog = path.with_suffix(".keylog")
    if keylog.is_file():
        connections += analyze_capture(str(path), AnalysisOptions(keylog=load_keylog_file(keylog))).connections
    assert_fragments_match(connections)


@pytest.mark.parametrize("text", ["\u2028", "\u2029", "\x85", "\ud800", "caf\udce9", "\x00\x1f\"\\", "é €"])
def test_fragments_escape_like_the_plain_dict(text: str):
    cert_text = text.encode("utf-8", "replace").decode()  # a certificate cannot be made with a lone surrogate
    ca = issue(name(f"CA {cert_text}", o=cert_text), ca=True)
    leaf = issue(name(f"client {cert_text}"), ca)
    conn = connection(0, sni=text, ca_names=(f"CN={text}",), message=text, chain=(leaf.summary, ca.summary))
    assert_fragments_match([conn])
    assert "\u2028" not in connection_json(conn) and "\x85" not in connection_json(conn)
