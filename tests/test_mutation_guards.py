"""Behaviours that a mutation run showed no test held: each test below fails when its behaviour is removed.

- the text report marks a certificate that is not yet valid at capture time;
- the walkthrough lists the CA names of every CertificateRequest, a renegotiation's second one too;
- with no ClientHello and no SYN seen, and no well-known port, the higher port is the client's;
- BoringSSL's TLS 1.3 experiments (0x7e01-0x7e03) are TLS 1.3;
- a record whose version says 3.4 is still read as a TLS record.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from connection_pieces import handshake_entry

from tlscap.analysis.builder import client_side_of
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CertificateRequestInfo, Connection, Endpoint
from tlscap.report.text_report import walkthrough
from tlscap.tls.constants import HandshakeType, is_tls13
from tlscap.tls.records import Record, RecordReader, looks_like_record_start

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_text_marks_a_certificate_not_yet_valid() -> None:
    """samples/verdict/tls12-not-yet-valid.pcap: the client's certificate starts after the capture
    (samples/verdict/MANIFEST.tsv)."""
    report = analyze_capture(str(SAMPLES / "verdict" / "tls12-not-yet-valid.pcap"), AnalysisOptions())
    lines = walkthrough(report.connections[0])
    assert any("NOT YET VALID at capture time" in line for line in lines)
    assert not any("EXPIRED" in line for line in lines)


def _request(frame: int, names: tuple[str, ...]) -> CertificateRequestInfo:
    return CertificateRequestInfo(frame=frame, frames=(frame,), ca_names=names, ca_names_der=(),
                                  signature_algorithms=(), signature_algorithm_codes=(), certificate_types=(),
                                  certificate_type_codes=())


def test_walkthrough_lists_the_names_of_a_second_certificate_request() -> None:
    first, second = ("CN=First CA",), ("CN=Renegotiation CA A", "CN=Renegotiation CA B")
    conn = Connection(
        id=0, client=Endpoint(ip="10.0.0.1", port=50000), server=Endpoint(ip="10.0.0.2", port=443), first_frame=1,
        last_frame=20, first_time_ns=0, last_time_ns=0,
        handshake=[handshake_entry(4, "server", HandshakeType.CERTIFICATE_REQUEST),
                   handshake_entry(15, "server", HandshakeType.CERTIFICATE_REQUEST)],
        certificate_requests=[_request(4, first), _request(15, second)],
    )
    text = "\n".join(walkthrough(conn))
    assert "1 acceptable CA name:" in text and "2 acceptable CA names:" in text
    for name in (*first, *second):
        assert name in text


@pytest.mark.parametrize(("ports", "client_side"), [((50000, 40000), True), ((40000, 50000), False)])
def test_without_hello_or_syn_the_higher_port_is_the_client(ports: tuple[int, int], client_side: bool) -> None:
    tracker = SimpleNamespace(session=SimpleNamespace(client_side=None), syn_side=None,
                              endpoints={True: ("10.0.0.1", ports[0]), False: ("10.0.0.2", ports[1])})
    assert client_side_of(tracker) is client_side  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0x7E01, 0x7E02, 0x7E03])
def test_boringssl_experiments_are_tls13(version: int) -> None:
    assert is_tls13(version)


def test_record_version_3_4_is_a_record_and_3_5_is_not() -> None:
    """A handshake record (a ServerHelloDone) whose header says version 3.4 is read; 3.5 is no TLS."""
    def records(minor: int) -> list[object]:
        data = b"\x16\x03" + bytes([minor]) + b"\x00\x04" + b"\x0e\x00\x00\x00"
        return [e for e in RecordReader().feed(data, 1, 1) if isinstance(e, Record)]

    assert looks_like_record_start(b"\x16\x03\x04\x00\x04\x0e\x00\x00\x00", first=True)
    assert len(records(4)) == 1
    assert records(5) == []


@pytest.mark.parametrize("version", [0x0304, 0xFEFC, 0x7F1C, 0xFB1A, 0x7E02, 0x0303, 0x7E07, 0xFEFD])
def test_a_connection_and_the_parsers_agree_on_tls13(version: int) -> None:
    """One answer to "is this TLS 1.3?": the connection's, which the rules use, is the parsers' own."""
    conn = Connection(id=0, client=Endpoint(ip="10.0.0.1", port=50000), server=Endpoint(ip="10.0.0.2", port=443),
                      first_frame=1, last_frame=1, first_time_ns=0, last_time_ns=0, version_code=version)
    assert conn.tls13 == is_tls13(version) == (version in (0x0304, 0xFEFC, 0x7F1C, 0xFB1A, 0x7E02))
