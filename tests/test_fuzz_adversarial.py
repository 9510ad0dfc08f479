"""Algorithmic attacks (tests/adversarial.py builds them), at a smaller scale: tlscap
completes and its results make sense. How the time and memory grow with size is the benchmark suite's
business (`python tests/adversarial.py DIR` writes the full-size captures), not a timed test here."""

from __future__ import annotations

import adversarial as A
import pytest

from tlscap import limits
from tlscap.analysis.engine import analyze_capture


def test_one_byte_out_of_order_segments_complete(tmp_path):
    path = tmp_path / "ooo.pcap"
    frames = A.out_of_order_segments(path, segments=10_000, window=64)
    report = analyze_capture(str(path))
    assert report.frames == frames and report.errors == []


def test_one_byte_out_of_order_segments_show_the_client_hello(tmp_path):
    """Found while writing these attacks: TLS was recognised from the first delivered chunk alone, so a
    ClientHello whose first segment held fewer than 5 bytes was taken for plaintext. Such a start is held
    until the bytes after it tell TLS from plaintext."""
    path = tmp_path / "ooo.pcap"
    A.out_of_order_segments(path, segments=10_000, window=64)
    [conn] = analyze_capture(str(path)).connections
    assert [h.message for h in conn.handshake] == ["ClientHello"]
    assert conn.sni == "server.example"


@pytest.mark.parametrize("first", [1, 2, 4])
def test_client_hello_split_after_a_few_bytes(tmp_path, first):
    path = tmp_path / "split.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        hello = A.records(22, A.client_hello())
        conv.send(True, hello[:first])
        conv.send(True, hello[first:])
        conv.send(False, A.records(22, A.server_hello()))
        conv.close()
    [conn] = analyze_capture(str(path)).connections
    assert [h.message for h in conn.handshake] == ["ClientHello", "ServerHello"]


def test_client_hello_split_after_five_bytes_is_read(tmp_path):
    path = tmp_path / "split.pcap"
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        hello = A.records(22, A.client_hello())
        conv.send(True, hello[:5])
        conv.send(True, hello[5:])
        conv.close()
    [conn] = analyze_capture(str(path)).connections
    assert [h.message for h in conn.handshake] == ["ClientHello"]


def test_half_open_connections(tmp_path):
    path = tmp_path / "half-open.pcap"
    A.half_open_connections(path, connections=10_000)
    report = analyze_capture(str(path))
    assert len(report.connections) == 10_000
    assert [c.id for c in report.connections] == list(range(10_000))
    assert {c.outcome for c in report.connections} == {"incomplete"}
    assert all([f.code for f in c.findings] == ["handshake-incomplete"] for c in report.connections)
    assert {c.sni for c in report.connections} == {"server.example"}


def test_certificate_request_with_10000_ca_names(tmp_path):
    path = tmp_path / "names.pcap"
    names = A.many_ca_names(path, names=10_000)
    assert len(names) == 10_000
    [conn] = analyze_capture(str(path)).connections
    assert conn.outcome == "established"
    assert len(conn.certificate_request.ca_names) == limits.MAX_CA_NAMES
    assert conn.certificate_request.ca_names[:2] == ("CN=0", "CN=1")
    # None of the listed names issued the client's chain.
    assert "client-cert-issuer-not-requested" in [f.code for f in conn.findings]


def test_chain_of_1000_certificates(tmp_path):
    path = tmp_path / "chain.pcap"
    chain = A.long_chain(path, certificates=1_000)
    [conn] = analyze_capture(str(path)).connections
    assert conn.outcome == "established"
    kept = conn.client_certificate.chain
    assert len(kept) == limits.MAX_CHAIN_CERTIFICATES
    assert [c.subject_rfc4514 for c in kept[:2]] == ["CN=link 0", "CN=link 1"]
    assert "client-chain-broken" not in [f.code for f in conn.findings]  # each kept link is issued by the next
    assert len(chain) == 1_000
