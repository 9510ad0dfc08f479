"""The tshark engine (`--engine tshark`) against the native engine, and its own pieces.

On every sample and every capture of the public corpus with TCP TLS, both engines must give the
same JSON report, except the captures in KNOWN_ENGINE_DIFFERENCES, each with its reason. The runs
are shared with test_compare.py (`engine_runs`), which checks `tlscap compare` on the same reports.
"""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus_facts import CORPUS, has_tcp_tls, load_truth, truth_files

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, Report
from tlscap.engines import tshark_engine as T
from tlscap.engines import tshark_output
from tlscap.engines.tshark_engine import EngineUnavailable, analyze_capture_tshark
from tlscap.report.json_report import report_dict
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "samples").glob("*.pcap"))
CORPUS_CAPTURES = sorted({"corpus/" + load_truth(p)["file"] for p in truth_files() if has_tcp_tls(load_truth(p))})
CAPTURES = SAMPLES + CORPUS_CAPTURES

# capture (as named in CAPTURES) -> why the two engines' reports differ there
KNOWN_ENGINE_DIFFERENCES: dict[str, str] = {
    "corpus/files/wireshark-notes/webrtc-freeswitch.pcapng": (
        "a DTLS connection (udp.stream 3) beside its TLS one: the native engine reads DTLS over UDP, the "
        "tshark engine reads TLS over TCP only"),
    "corpus/files/PcapPlusPlus/tls2.pcap": (
        "segments lost by the capture (tshark: 1405 'previous segment not captured'): the native engine "
        "reports the damaged messages and capture-gap (in TLS 1.3 without keys also for bytes lost long "
        "after the handshake, whose end it cannot see) and credits what follows a hole to the frame where "
        "it declared the hole lost; tshark shows no record across a hole and no gap, and credits what "
        "follows to the frame that carried it"),
    "corpus/files/nDPI/tls_missing_ch_frag.pcap": (
        "a segment of the ClientHello was not captured: the native engine reports the damaged "
        "ClientHello (frames 2, 9) and capture-gap; tshark cannot reassemble it and shows no ClientHello"),
    "corpus/files/nDPI/KakaoTalk_chat.pcap": (
        "after a bogus SYN/ACK (seq 0, then data at seq 4195656682) tshark takes stream 2's server data "
        "for retransmissions; the native engine reads its ServerHello (91) and Certificate (95)"),
    "corpus/files/nDPI/anydesk.pcapng": (
        "TLS on port 80 (streams 0 and 1): tshark dissects it as HTTP and shows no TLS; the native "
        "engine finds TLS by content"),
    "corpus/files/nDPI/openvpn.pcap": (
        "stream 1 is OpenVPN on port 443 (port-share): tshark expects plain TLS there and shows nothing; "
        "the native engine finds the OpenVPN control channel by content"),
}


def capture_path(name: str) -> str:
    """A name of CAPTURES as a path: samples/… under the project, corpus/… in ../shared/corpus."""
    if name.startswith("corpus/"):
        return str(CORPUS / name.removeprefix("corpus/"))
    return str(ROOT / name)


@dataclass(frozen=True)
class EngineRun:
    native: CaptureReport
    tshark: CaptureReport


_RUNS: dict[str, EngineRun] = {}
_LOCK = threading.Lock()


def _run_one(name: str) -> tuple[str, EngineRun]:
    path = capture_path(name)
    return name, EngineRun(native=analyze_capture(path, AnalysisOptions()),
                           tshark=analyze_capture_tshark(path, AnalysisOptions()))


def engine_runs() -> dict[str, EngineRun]:
    """Both engines' reports of every capture in CAPTURES (computed once, two at a time)."""
    with _LOCK:
        if not _RUNS:
            with ThreadPoolExecutor(max_workers=2) as pool:
                _RUNS.update(pool.map(_run_one, CAPTURES))
        return _RUNS


def json_report(cap: CaptureReport) -> dict:
    return report_dict(Report(captures=[cap]))


def _differing_connections(a: dict, b: dict) -> list[str]:
    ca = {c["id"]: c for c in a["captures"][0]["connections"]}
    cb = {c["id"]: c for c in b["captures"][0]["connections"]}
    out = []
    for cid in sorted(ca.keys() | cb.keys()):
        x, y = ca.get(cid), cb.get(cid)
        if x != y:
            fields = ["(missing)"] if x is None or y is None else [k for k in x if x[k] != y.get(k)]
            out.append(f"{cid}: {', '.join(fields)}")
    return out


@pytest.fixture(scope="module")
def runs(tshark_and_corpus) -> dict[str, EngineRun]:
    return engine_runs()


def test_corpus_and_samples_are_there():
    assert len(SAMPLES) >= 20
    assert len(CORPUS_CAPTURES) >= 100


def test_known_differences_name_real_captures():
    assert set(KNOWN_ENGINE_DIFFERENCES) <= set(CAPTURES)
    assert all(len(reason) > 40 for reason in KNOWN_ENGINE_DIFFERENCES.values())


@pytest.mark.parametrize("name", CAPTURES)
def test_same_json_report(name, runs):
    run = runs[name]
    a, b = json_report(run.native), json_report(run.tshark)
    reason = KNOWN_ENGINE_DIFFERENCES.get(name)
    if reason is None:
        assert a == b, f"the engines' reports differ: {_differing_connections(a, b)}"
    else:
        assert a != b, f"{name} is listed as differing ({reason}) but now agrees: remove it"
        assert len(run.native.connections) + len(run.tshark.connections) > 0


def test_nearly_every_capture_agrees(runs):
    agree = sum(1 for run in runs.values() if json_report(run.native) == json_report(run.tshark))
    connections = sum(len(run.native.connections) for run in runs.values())
    assert connections > 700
    assert agree / len(runs) >= 0.95, f"{agree}/{len(runs)}"


# --------------------------------------------------------------------------------------------
# Decryption, formats only tshark reads, filters


def test_key_logs_decrypt_as_in_the_native_engine():
    for stem in ("tls13-alert-expired-client-cert", "tls12-expired-client-cert"):
        pcap, keys = str(ROOT / "samples" / f"{stem}.pcap"), str(ROOT / "samples" / f"{stem}.keylog")
        native = analyze_capture(pcap, AnalysisOptions(keylog=load_keylog_file(keys)))
        tshark = analyze_capture_tshark(pcap, AnalysisOptions(), keylogs=[keys])
        assert json_report(native) == json_report(tshark)
        assert tshark.connections[0].decrypted


def test_filters_apply():
    path = str(ROOT / "samples" / "multi-connection.pcap")
    everything = analyze_capture_tshark(path, AnalysisOptions())
    port = everything.connections[0].client.port
    only = analyze_capture_tshark(path, AnalysisOptions(port=port))
    assert [c.id for c in only.connections] == [everything.connections[0].id]
    assert analyze_capture_tshark(path, AnalysisOptions(sni="no.such.name")).connections == []


def test_a_format_only_tshark_reads(tmp_path, tshark_and_corpus):
    snoop = tmp_path / "x.snoop"
    subprocess.run(["editcap", "-F", "snoop", str(ROOT / "samples" / "tls12-expired-client-cert.pcap"), str(snoop)],
                   check=True, capture_output=True)
    assert analyze_capture(str(snoop)).unreadable
    report = analyze_capture_tshark(str(snoop), AnalysisOptions())
    pcap = analyze_capture_tshark(str(ROOT / "samples" / "tls12-expired-client-cert.pcap"), AnalysisOptions())
    assert not report.unreadable and report.frames == pcap.frames
    assert report.first_time_ns == pcap.first_time_ns
    strip = json_report(report)["captures"][0]["connections"]
    assert strip == json_report(pcap)["captures"][0]["connections"]
    assert [f.code for f in report.connections[0].findings] == ["client-cert-expired"]


def test_missing_file_is_unreadable(tmp_path):
    report = analyze_capture_tshark(str(tmp_path / "nothing.pcap"), AnalysisOptions())
    assert report.unreadable and report.errors[0].code == "unreadable"


def test_not_a_capture_is_unreadable(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is no capture at all\n" * 10)
    report = analyze_capture_tshark(str(junk), AnalysisOptions())
    assert report.unreadable and report.connections == []


# --------------------------------------------------------------------------------------------
# tshark missing or too old


def test_missing_tshark_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineUnavailable, match="tshark is not installed") as info:
        analyze_capture_tshark(str(ROOT / "samples" / "tls12-success.pcap"), AnalysisOptions())
    assert "\n" not in str(info.value) and "--engine native" in str(info.value)


def test_old_tshark_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "tshark"
    fake.write_text('#!/bin/sh\necho "TShark (Wireshark) 3.4.10 (Git v3.4.10 packaged as 3.4.10-0+deb11u1)."\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineUnavailable, match=r"tshark 3\.4\.10; --engine tshark needs 3\.6 or later"):
        T.find_tshark()


def test_installed_tshark_is_recent_enough(tshark_and_corpus):
    assert T.tshark_version(T.find_tshark())[:2] >= T.MIN_VERSION


# --------------------------------------------------------------------------------------------
# Reading tshark's output


def _row(**values: str) -> str:
    cols = [""] * len(tshark_output.FIELDS)
    for name, value in values.items():
        cols[tshark_output.FIELDS.index(name.replace("__", "."))] = value
    return "\t".join(cols) + "\n"


def test_epoch_times_keep_nanoseconds():
    assert tshark_output._epoch_ns("1795742062.970190000") == 1_795_742_062_970_190_000
    assert tshark_output._epoch_ns("1.5") == 1_500_000_000
    assert tshark_output._epoch_ns("-1.25") == -1_250_000_000
    assert tshark_output._epoch_ns("junk") == 0


def test_row_of_a_tcp_frame():
    row = tshark_output.parse_row(_row(frame__number="7", frame__time_epoch="10.000000001",
                                       frame__protocols="eth:ethertype:ip:tcp:tls", tcp__stream="3",
                                       ip__src="10.0.0.1", ip__dst="10.0.0.2", tcp__srcport="51000", tcp__dstport="443",
                                       tcp__flags="0x0011", tcp__len="0", tls__record__version="0x0303,0x0303",
                                       tls__record__length="17,4000"))
    assert row is not None
    assert (row.frame, row.time_ns, row.stream) == (7, 10_000_000_001, 3)
    assert row.src == ("10.0.0.1", 51000) and row.dst == ("10.0.0.2", 443)
    assert row.flags & T.TCP_FIN and row.payload == 0
    assert row.records == [(0x0303, 17), (0x0303, 4000)]


def test_row_of_an_icmp_quote_is_no_segment():
    row = tshark_output.parse_row(_row(frame__number="9", frame__time_epoch="1.0",
                                       frame__protocols="eth:ethertype:ip:icmp:ip:tcp",
                                       tcp__stream="4", ip__src="10.0.0.9,10.0.0.1", ip__dst="10.0.0.1,10.0.0.2",
                                       tcp__srcport="1", tcp__dstport="2", tcp__flags="0x0002"))
    assert row is not None and row.stream is None


def test_row_inside_a_tunnel_uses_the_inner_addresses():
    row = tshark_output.parse_row(_row(frame__number="1", frame__time_epoch="1.0",
                                       frame__protocols="eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp:tls",
                                       tcp__stream="0", ip__src="192.0.2.1,10.1.1.1", ip__dst="192.0.2.2,10.1.1.2",
                                       tcp__srcport="40000", tcp__dstport="443", tcp__flags="0x0018", tcp__len="100",
                                       vxlan__vni="42"))
    assert row is not None
    assert row.src == ("10.1.1.1", 40000)
    assert row.tunnel() == ("vxlan vni=42 192.0.2.1>192.0.2.2",)


def test_tunnel_labels_follow_the_native_decoder():
    def labels(protocols: str, **values: str) -> tuple[str, ...]:
        row = tshark_output.parse_row(_row(frame__number="1", frame__time_epoch="1.0", frame__protocols=protocols,
                                           tcp__stream="0", tcp__srcport="1", tcp__dstport="2", tcp__flags="0x0002",
                                           **values))
        assert row is not None
        return row.tunnel()

    assert labels("eth:ethertype:ip:ipv6:tcp", ip__src="198.51.100.1", ip__dst="198.51.100.2",
                  ipv6__src="2001:db8::1", ipv6__dst="2001:db8::2") == ("6in4 198.51.100.1>198.51.100.2",)
    assert labels("eth:ethertype:ip:gre:ip:tcp", ip__src="192.0.2.1,10.0.0.1", ip__dst="192.0.2.2,10.0.0.2",
                  gre__key="0x0000002a") == ("gre key=42 192.0.2.1>192.0.2.2",)
    assert labels("eth:ethertype:ip:gre:erspan:eth:ethertype:ip:tcp", ip__src="192.0.2.1,10.0.0.1",
                  ip__dst="192.0.2.2,10.0.0.2", erspan__version="1", erspan__spanid="7") == (
        "erspan2 session=7 192.0.2.1>192.0.2.2",)
    assert labels("eth:ethertype:ip:udp:gtp:ip:tcp", ip__src="192.0.2.1,10.0.0.1", ip__dst="192.0.2.2,10.0.0.2",
                  gtp__teid="0x00000bad") == ("gtp teid=0xbad 192.0.2.1>192.0.2.2",)
    assert labels("eth:ethertype:vlan:ethertype:ip:tcp", ip__src="10.0.0.1", ip__dst="10.0.0.2") == ()


def test_records_of_a_reassembled_pdu_name_the_frames_that_carried_them():
    record = bytes.fromhex("1603030006") + bytes.fromhex("0e000002aaaa")  # 11 bytes
    source = tshark_output._Segments(data=(b"\x00\x00" + record).hex(), parts=((5, 0, 6), (6, 6, 7)))
    chunks = tshark_output._record(6, record.hex(), 2, source).chunks
    assert chunks == ((5, record[:4]), (6, record[4:]))
    assert tshark_output._record(6, record.hex(), 0, None).chunks == ((6, record),)


def test_layer_source_is_found_by_its_bytes():
    frame_hex = "aa" * 10 + "1603"
    pdu = tshark_output._Segments(data="bbbb1603030000", parts=((1, 0, 3), (2, 3, 4)))
    assert tshark_output._source_of(["1603", 10, 2], frame_hex, [pdu]) is None
    assert tshark_output._source_of(["1603030000", 2, 5], frame_hex, [pdu]) is pdu


def test_json_packets_are_read_one_at_a_time():
    packets = [
        {"_source": {"layers": {"frame_raw": ["00", 0, 1, 0, 1], "frame": {"frame.number": str(n),
                                                                          "frame.len": "60", "frame.cap_len": "60"}}}}
        for n in (3, 8)
    ]
    text = json.dumps(packets, indent=2) + "\n"
    unreadable: list[None] = []
    lines = iter(text.splitlines(keepends=True))
    assert [p.frame for p in tshark_output.json_packets(lines, lambda: unreadable.append(None))] == [3, 8]
    assert not unreadable


def test_key_logs_that_cannot_be_read_are_refused(tmp_path):
    from tlscap.tls.keylog import KeyLogError

    with pytest.raises(KeyLogError, match="no such file"):
        analyze_capture_tshark(str(ROOT / "samples" / "tls12-success.pcap"), AnalysisOptions(),
                               keylogs=[str(tmp_path / "missing.keylog")])


def test_tshark_errors_do_not_hide_what_was_read(tmp_path):
    data = (ROOT / "samples" / "multi-connection.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    native, tshark = analyze_capture(str(cut)), analyze_capture_tshark(str(cut), AnalysisOptions())
    assert [e.code for e in tshark.errors] == [e.code for e in native.errors]
    assert tshark.connections and [c.id for c in tshark.connections] == [c.id for c in native.connections]

