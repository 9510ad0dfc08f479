"""Every frame a finding or a verdict names carries, in tshark, the thing it is named for, in the
connection's own tcp.stream; and on every capture the verdicts count each TLS connection once.

tshark is the oracle: it is run on every sample (with its key log, so TLS 1.3 shows what tlscap
decrypts) and on the corpus captures, two-pass (-2) so that a message split over segments is credited to
the frame that completes it, as tlscap does. What each finding's frames must carry:
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from corpus_facts import CORPUS, load_truth, truth_files

from tlscap.analysis.diagnosis import CAUSE_SIDES, CAUSES, CERTAINTIES
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, Report
from tlscap.report.json_report import render_json
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"

CERT, REQUEST, HELLO, SERVER_HELLO = "hs:11", "hs:13", "hs:1", "hs:2"
ANY_HANDSHAKE = frozenset(f"hs:{t}" for t in range(256)) | {"hs:encrypted"}
ENDS = frozenset({"fin", "rst"})
# finding code -> what every one of its frames must carry (one of)
CARRIES: dict[str, frozenset[str]] = {
    # (TLS 1.3 without keys: the encrypted record whose size is an empty Certificate's)
    "client-cert-not-sent": frozenset({REQUEST, CERT, "alert", "record"}),
    "client-cert-expired": frozenset({CERT}),
    "client-cert-not-yet-valid": frozenset({CERT}),
    "client-chain-broken": frozenset({CERT}),
    "client-cert-wrong-usage": frozenset({CERT}),
    "client-cert-untrusted": frozenset({CERT}),
    "client-cert-issuer-not-requested": frozenset({REQUEST, CERT}),
    "client-cert-signature-not-accepted": frozenset({REQUEST, CERT}),
    "ca-list-empty": frozenset({REQUEST}),
    "ca-list-differs-from-truststore": frozenset({REQUEST}),
    "truststore-cert-expired": frozenset({REQUEST}),
    "handshake-alert": frozenset({"alert"}),
    # (TLS 1.3: an alert travels in an application_data record; without keys its size names it)
    "encrypted-alert": frozenset({"alert", "record"}),
    "handshake-encrypted": frozenset({SERVER_HELLO}),
    "http-error-after-handshake": frozenset({"http"}),
    "decryption-failed": frozenset({HELLO, "record"}),
    "handshake-incomplete": ANY_HANDSHAKE | ENDS | {"record"},  # TLS 1.3 handshake records look like data
    "capture-truncated": ANY_HANDSHAKE | {"record", "cut"},
    # tshark marks where bytes are missing ("previous segment(s) not captured", tcp.analysis.lost_segment);
    # tlscap names the frame that completes the damaged message, which tshark cannot reassemble past the
    # hole: a frame with payload of the stream.
    "capture-gap": ANY_HANDSHAKE | {"record", "lost", "payload"},
    "malformed-message": ANY_HANDSHAKE | {"record"},
    "limit-exceeded": ANY_HANDSHAKE | {"record"},
    # TLS 1.3 without keys: the frame completes an encrypted record (tshark: tls.record.length), or, past a
    # segment the capture lost, carries the payload tshark cannot reassemble into one.
    "inferred-rejection": frozenset({"record", "payload", "fin", "rst"}),
}
# The verdict's frames show the cause: a handshake message, an alert, an HTTP answer or the end.
VERDICT_CARRIES = ANY_HANDSHAKE | ENDS | {"alert", "http", "record", "cut"}
VERDICT_CARRIES_BY_CAUSE = {"capture-incomplete": VERDICT_CARRIES | CARRIES["capture-gap"]}
SIZES_CARRIES = VERDICT_CARRIES | CARRIES["inferred-rejection"]  # verdicts read from TLS 1.3 record sizes

# Captures where tshark 4.0 finds no TLS where tlscap does (tests/test_corpus_differential.py says why).
TSHARK_SEES_NO_TLS = ("openvpn.pcap", "openvpn_nohmac_tcp.pcapng", "anydesk.pcapng")

FIELDS = ("frame.number", "tcp.stream", "tls.handshake.type", "tls.record.content_type", "tcp.flags.fin",
          "tcp.flags.reset", "http.response.code", "frame.len", "frame.cap_len", "tcp.analysis.lost_segment",
          "tcp.len", "tls.record.length")


def _sample_runs() -> list[tuple[Path, Path | None]]:
    runs: list[tuple[Path, Path | None]] = []
    for capture in sorted([*SAMPLES.rglob("*.pcap"), *SAMPLES.rglob("*.pcapng")]):
        keylog = capture.with_suffix(".keylog")
        runs.append((capture, keylog if keylog.exists() else None))
    return runs


def _corpus_captures() -> list[Path]:
    files = {load_truth(p)["file"] for p in truth_files()}
    return sorted(CORPUS / f for f in files)


@cache
def tshark_frames(capture: Path, keylog: Path | None, ports: tuple[int, ...]) -> dict[int, tuple[int | None, set]]:
    """frame -> (tcp.stream, what it carries), as tshark shows it."""
    # Out-of-order segments reassembled, as tlscap does (tshark 4.0 leaves it off by default).
    command = ["tshark", "-n", "-2", "-r", str(capture), "-o", "tcp.reassemble_out_of_order:TRUE", "-T", "fields",
               "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for port in ports:
        command += ["-d", f"tcp.port=={port},tls"]
    if keylog is not None:
        command += ["-o", f"tls.keylog_file:{keylog}"]
    for field in FIELDS:
        command += ["-e", field]
    # A damaged capture makes tshark exit 2 after printing what it read; that is the truth for those frames.
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False).stdout
    frames: dict[int, tuple[int | None, set]] = {}
    for line in out.splitlines():
        fields = (line.split("\t") + [""] * 12)[:12]
        number, stream, types, content, fin, rst, http, length, caplen, lost, payload, records = fields
        things: set[str] = set()
        things.update(f"hs:{t}" for t in types.split(",") if t)
        contents = {c for c in content.split(",") if c}
        if contents or records:  # TLS 1.3 encrypted records have a length and no content type in tshark 4.0
            things.add("record")
        if "21" in contents:
            things.add("alert")
        if "22" in contents and not types:
            things.add("hs:encrypted")
        if fin in ("1", "True"):
            things.add("fin")
        if rst in ("1", "True"):
            things.add("rst")
        if http:
            things.add("http")
        if lost:
            things.add("lost")
        if payload and payload != "0":
            things.add("payload")
        if length and caplen and int(caplen) < int(length):
            things.add("cut")
        frames[int(number)] = (int(stream) if stream else None, things)
    return frames


def _report(capture: Path, keylog: Path | None) -> CaptureReport:
    options = AnalysisOptions(keylog=load_keylog_file(keylog) if keylog else None)
    return analyze_capture(str(capture), options)


def _problems(report: CaptureReport, capture: Path, keylog: Path | None, *, decode_as: bool) -> list[str]:
    # The samples use ports tshark does not take for TLS; the corpus is read as tshark reads it by itself.
    ports = tuple(sorted({c.server.port for c in report.connections})) if decode_as else ()
    frames = tshark_frames(capture, keylog, ports)
    problems = []
    for conn in report.connections:
        if conn.tunnel:
            continue  # tcp.stream counts the inner connections of tunnels in tshark's own order; not compared
        if conn.transport == "udp":
            continue  # DTLS frames are held to tshark's udp.stream by test_corpus_dtls.py and test_dtls_samples.py
        named = [(f.code, f.frames, CARRIES.get(f.code, VERDICT_CARRIES)) for f in conn.findings]
        d = conn.diagnosis
        assert d is not None
        wanted = SIZES_CARRIES if conn.record_inference is not None else VERDICT_CARRIES_BY_CAUSE.get(
            d.cause, VERDICT_CARRIES)
        named.append((f"verdict {d.cause}", d.frames, wanted))
        for code, numbers, wanted in named:
            for number in numbers:
                stream, things = frames.get(number, (None, set()))
                if stream != conn.id or not (things & wanted):
                    problems.append(f"{capture.name} conn {conn.id} {code}: frame {number} carries "
                                    f"{sorted(things) or 'nothing'} in stream {stream}")
    return problems


SAMPLE_RUNS = _sample_runs()


@pytest.mark.parametrize(("capture", "keylog"), SAMPLE_RUNS, ids=[str(c.relative_to(SAMPLES)) for c, _ in SAMPLE_RUNS])
def test_sample_findings_name_frames_tshark_shows(capture, keylog):
    report = _report(capture, keylog)
    assert report.connections
    assert _problems(report, capture, keylog, decode_as=True) == []


def test_corpus_findings_name_frames_tshark_shows():
    captures = _corpus_captures()

    def check(capture: Path) -> list[str]:
        keylog = next(iter(sorted(capture.parent.glob(capture.name + "*.keylog"))), None)
        if capture.name in TSHARK_SEES_NO_TLS:
            return []
        return _problems(_report(capture, keylog), capture, keylog, decode_as=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for found in pool.map(check, captures) for p in found]
    assert problems == []


def _check_counts(report: Report) -> None:
    summary = json.loads(render_json(report))["summary"]
    assert sum(summary["connections_by_cause"].values()) == summary["connections"]
    for conn in report.connections():
        d = conn.diagnosis
        assert d is not None and d.cause in CAUSES and d.certainty in CERTAINTIES
        assert d.side == CAUSE_SIDES[d.cause]
        assert all(0 <= i < len(conn.findings) for i in d.evidence)
        if d.certainty == "certain":
            assert d.alternatives == () and d.decide_with is None
        # A visible client-certificate cause is never hidden behind a symptom.
        visible = {f.code for f in conn.findings} & {"client-cert-expired", "client-cert-not-yet-valid",
                                                     "client-chain-broken"}
        if visible:
            assert d.cause in visible | {"client-cert-expired", "client-cert-not-yet-valid"}, (conn.id, d.cause)


def test_connections_by_cause_adds_up_on_every_corpus_capture():
    captures = _corpus_captures()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda c: analyze_capture(str(c)), captures))
    for report in reports:
        _check_counts(Report(captures=[report]))
    assert sum(len(r.connections) for r in reports) > 100


@pytest.mark.parametrize(("capture", "keylog"), SAMPLE_RUNS, ids=[str(c.relative_to(SAMPLES)) for c, _ in SAMPLE_RUNS])
def test_connections_by_cause_adds_up_on_every_sample(capture, keylog):
    for key in (None, keylog):
        _check_counts(Report(captures=[_report(capture, key)]))
