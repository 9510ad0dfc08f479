"""`tlscap compare` (tlscap.engines.compare): every disagreement between the engines, by fact.

The engines' reports of every sample and corpus capture come from test_tshark_engine.engine_runs
(computed once for both modules); here `compare` runs over them: it must find no disagreement
except on the captures and connections named in test_tshark_engine.KNOWN_ENGINE_DIFFERENCES.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
from test_tshark_engine import CAPTURES, KNOWN_ENGINE_DIFFERENCES, ROOT, engine_runs

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import AlertEntry
from tlscap.engines.compare import Disagreement, compare_engines, compare_reports, connection_facts

# capture -> the connections on which compare must report disagreements (see the reasons there)
DISAGREEING_CONNECTIONS: dict[str, set[int] | None] = {
    "corpus/files/PcapPlusPlus/tls2.pcap": None,  # lost segments in most of its 335 connections
    "corpus/files/nDPI/tls_missing_ch_frag.pcap": {0},
    "corpus/files/nDPI/KakaoTalk_chat.pcap": {2},
    "corpus/files/nDPI/anydesk.pcapng": {0, 1},
    "corpus/files/nDPI/openvpn.pcap": {1},
    "corpus/files/wireshark-notes/webrtc-freeswitch.pcapng": {3},  # DTLS: the tshark engine reads TCP only
}


@pytest.fixture(scope="module")
def runs(tshark_and_corpus):
    return engine_runs()


def test_every_known_difference_is_expected_here():
    assert set(DISAGREEING_CONNECTIONS) == set(KNOWN_ENGINE_DIFFERENCES)


@pytest.mark.parametrize("name", CAPTURES)
def test_compare_finds_only_the_known_differences(name, runs):
    run = runs[name]
    result = compare_reports(run.native, run.tshark)
    assert result.facts > 0 or not run.native.connections
    if name not in KNOWN_ENGINE_DIFFERENCES:
        assert result.agree, result.render_text()
        assert result.render_text().count("\n") == 1
        return
    assert not result.agree
    expected = DISAGREEING_CONNECTIONS[name]
    if expected is not None:
        assert {d.connection for d in result.disagreements} == expected, result.render_text()


def test_the_lost_segments_of_tls2_only_move_or_damage_messages(runs):
    """Where tls2.pcap lost segments, the native engine reports the damaged message and capture-gap,
    and credits what follows the hole to the frame where it declared the hole lost; tshark shows no
    damaged message and credits what follows to the frame that carried it. Nothing else differs."""
    run = runs["corpus/files/PcapPlusPlus/tls2.pcap"]
    result = compare_reports(run.native, run.tshark)
    for d in result.disagreements:
        if d.fact == "finding":
            assert (d.native or "").startswith("capture-gap") or (d.tshark or "").startswith("handshake-incomplete")
        else:
            assert d.fact == "handshake", str(d)
    assert len(run.native.connections) == len(run.tshark.connections)


def test_compare_engines_on_a_sample():
    result = compare_engines(str(ROOT / "samples" / "multi-connection.pcap"), AnalysisOptions())
    assert result.agree and len(result.native.connections) == 4
    assert result.render_text().startswith(str(ROOT / "samples" / "multi-connection.pcap") + ": the engines agree")


def test_each_kind_of_disagreement_is_reported():
    native = analyze_capture(str(ROOT / "samples" / "tls12-alert-expired-client-cert.pcap"))
    other = copy.deepcopy(native)
    conn = other.connections[0]
    conn.alerts[0] = dataclasses.replace(conn.alerts[0], frame=conn.alerts[0].frame + 1)
    conn.alerts.append(AlertEntry(frame=99, frames=(99,), sender="client", level=None, description=None,
                                  encrypted=True))
    conn.outcome = "incomplete"
    conn.handshake.pop(0)
    conn.server_certificates[0] = dataclasses.replace(conn.server_certificates[0], chain=())
    extra = copy.deepcopy(conn)
    extra.id = 7
    other.connections.append(extra)
    result = compare_reports(native, other)
    text = result.render_text()
    by_fact = {}
    for d in result.disagreements:
        by_fact.setdefault((d.connection, d.fact), []).append(d)
    assert by_fact[(0, "outcome")] == [Disagreement(connection=0, fact="outcome", native="failed", tshark="incomplete")]
    alert_frame = native.connections[0].alerts[0].frame
    assert [(d.native, d.tshark) for d in by_fact[(0, "alert")]] == [
        (f"frame {alert_frame} S→C fatal certificate_expired", None),
        (None, f"frame {alert_frame + 1} S→C fatal certificate_expired"),
        (None, "frame 99 C→S encrypted"),
    ]
    assert [d.native for d in by_fact[(0, "handshake")]] == ["frame 4 C→S ClientHello"]
    assert [d.tshark for d in by_fact[(0, "certificate")] if d.tshark] == ["frame 6 S→C chain sha256: (empty)"]
    assert by_fact[(7, "connection")][0].native is None
    assert "the engines disagree on" in text and "connection 7" in text
    assert "tshark only: frame 99 C→S encrypted" in text
    assert "native: failed" in text and "tshark: incomplete" in text


def test_facts_of_a_connection():
    conn = analyze_capture(str(ROOT / "samples" / "tls12-expired-client-cert.pcap")).connections[0]
    facts = connection_facts(conn)
    assert facts["outcome"] == ["established"]
    assert facts["tunnel"] == ["none"] and facts["endpoints"] == [f"{conn.client} → {conn.server}"]
    assert "frame 6 S→C CertificateRequest" in facts["handshake"]
    assert facts["certificate_request"] == [
        "frame 6 CA names: CN=Capture Lab Root CA,O=Capture Lab,C=US; CN=Capture Lab Client CA,O=Capture Lab,C=US"]
    assert [f.split(" (")[0] for f in facts["finding"]] == ["client-cert-expired"]
    assert facts["tcp_end"] == ["frame 13 S→C FIN", "frame 15 S→C RST"]


def test_disagreement_as_a_line():
    assert str(Disagreement(connection=3, fact="outcome", native="failed", tshark="established")) == (
        "connection 3: outcome: native failed; tshark established")
    assert str(Disagreement(connection=None, fact="error", native=None, tshark="tshark-error: x")) == (
        "capture: error: tshark only: tshark-error: x")
