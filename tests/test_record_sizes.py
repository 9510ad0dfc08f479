"""TLS 1.3 record sizes read without keys: the arithmetic for each suite, each client flight, padding,
and the agreement with what the keys show on every capture that comes with keys."""

from __future__ import annotations

import pytest
from record_size_agreement import CERTAIN_QUESTIONS, QUESTIONS, keyed_captures, measure, overall, table

from tlscap.tls.record_sizes import SizedRecord, StreamEnd, infer_tls13, sizes_for

AES_128_GCM, AES_256_GCM, CHACHA, CCM_8 = 0x1301, 0x1302, 0x1303, 0x1305


def records(*spec: tuple[str, int]) -> list[SizedRecord]:
    """("c"|"s", length) in order, one frame each."""
    return [SizedRecord(frame=i + 10, from_client=side == "c", length=length) for i, (side, length) in enumerate(spec)]


@pytest.mark.parametrize(("suite", "finished", "empty", "alert"), [
    (AES_128_GCM, 53, 25, 19),  # SHA-256: 4 + 32 + 1 + 16
    (AES_256_GCM, 69, 25, 19),  # SHA-384: 4 + 48 + 1 + 16 (OpenSSL's default suite)
    (CHACHA, 53, 25, 19),
    (CCM_8, 45, 17, 11),  # an 8-byte tag
])
def test_sizes_per_suite(suite, finished, empty, alert):
    sizes = sizes_for(suite)
    assert (sizes.finished, sizes.empty_certificate, sizes.alert) == (finished, empty, alert)


def test_no_sizes_outside_tls13():
    assert sizes_for(0xC02F) is None and sizes_for(None) is None
    assert infer_tls13(records(("s", 100), ("c", 69)), [], 0xC02F).answered is False


SERVER_FLIGHT = (("s", 42), ("s", 208), ("s", 955), ("s", 281), ("s", 69))  # EE, CR, Certificate, CV, Finished


def test_finished_alone_means_no_certificate_was_asked():
    got = infer_tls13(records(("s", 42), ("s", 955), ("s", 281), ("s", 69), ("c", 69), ("c", 96), ("s", 986)),
                      [], AES_256_GCM)
    assert (got.certificate_requested, got.client_certificate, got.server_rejected) == (False, "none", False)
    assert not got.certain


def test_empty_certificate_has_one_size_and_is_certain():
    got = infer_tls13(records(*SERVER_FLIGHT, ("c", 25), ("c", 69), ("s", 19)),
                      [StreamEnd(frame=17, from_client=False)], AES_256_GCM)
    assert (got.certificate_requested, got.client_certificate, got.certain) == (True, "empty", True)
    assert got.server_rejected is True and got.rejected_by == "alert" and got.rejection_frame == 17
    assert got.alerts == ((17, False),)


def test_empty_certificate_coalesced_with_finished():
    got = infer_tls13(records(*SERVER_FLIGHT, ("c", 4 + 4 + 4 + 32 + 1 + 16)), [], AES_128_GCM)
    assert (got.client_certificate, got.certain) == ("empty", True)


def test_chain_then_signature_then_finished():
    got = infer_tls13(records(*SERVER_FLIGHT, ("c", 1827), ("c", 281), ("c", 69), ("c", 52), ("s", 19)),
                      [StreamEnd(frame=20, from_client=False)], AES_256_GCM)
    assert (got.client_certificate, got.certain, got.client_certificate_bytes) == ("chain", True, 1827 - 21)
    assert got.server_rejected is True and got.rejected_by == "alert"
    assert [r.carries for r in got.readings][:3] == ["Certificate (~1806 bytes)", "CertificateVerify", "Finished"]


def test_tickets_after_the_flight_mean_the_server_went_on():
    got = infer_tls13(records(*SERVER_FLIGHT, ("c", 1624), ("c", 95), ("c", 69), ("c", 96), ("s", 986), ("s", 986),
                              ("s", 167), ("c", 19)), [StreamEnd(frame=30, from_client=True)], AES_256_GCM)
    assert got.server_rejected is False and got.client_certificate == "chain"


def test_server_closing_first_after_its_answer_is_a_refusal_only_for_keep_alive_clients():
    flight = records(*SERVER_FLIGHT, ("c", 1827), ("c", 281), ("c", 69), ("c", 96), ("s", 1194), ("s", 1194),
                     ("s", 384), ("s", 19))
    ends = [StreamEnd(frame=30, from_client=False)]
    http11 = infer_tls13(flight, ends, AES_256_GCM, client_keeps_open=True)
    assert http11.server_rejected is True and http11.rejected_by == "close" and http11.rejection_frame == 22
    unknown = infer_tls13(flight, ends, AES_256_GCM, client_keeps_open=False)
    assert unknown.server_rejected is None  # an HTTP/1.0 answer ends the same way


def test_padding_leaves_the_answer_open():
    # an empty Certificate padded to 40 bytes, then a Finished: no flight the suite allows
    got = infer_tls13(records(*SERVER_FLIGHT, ("c", 40), ("c", 69)), [], AES_256_GCM)
    assert got.answered is False and "padding" in got.notes[0]


def test_no_server_flight_before_the_client_leaves_it_open():
    got = infer_tls13(records(("c", 300), ("s", 42), ("c", 69)), [], AES_256_GCM)
    assert got.answered is False


# --------------------------------------------------------------------------- agreement with the keys


@pytest.fixture(scope="module")
def agreement():
    return measure(keyed_captures())


def test_record_sizes_agree_with_the_keys(agreement):
    """Every TLS 1.3 connection that comes with keys, read again without them: at least 98 % of the
    answers the sizes give agree with the keys, no answer the sizes call certain is ever wrong, and the
    certificate questions the verdict rests on are seldom left open ("cannot tell"). Whether the server
    refused is left open whenever the client closed first and the server closed right after (a client that
    is done and a client refused with a 400 look the same), so only its answers are held to agreeing."""
    print("\n" + table(agreement))
    agree, wrong, left = overall(agreement)
    assert sum(t.connections for t in agreement.values()) >= 30
    assert agree / (agree + wrong) >= 0.98, table(agreement)
    for question in CERTAIN_QUESTIONS:
        answered = sum(t.agree[question] + t.wrong[question] for t in agreement.values())
        left_open = sum(t.open[question] for t in agreement.values())
        assert left_open / (answered + left_open) <= 0.05, table(agreement)
    rejected_agree = sum(t.agree["server_rejected"] for t in agreement.values())
    rejected_wrong = sum(t.wrong["server_rejected"] for t in agreement.values())
    assert rejected_agree / (rejected_agree + rejected_wrong) >= 0.95, table(agreement)
    assert [m for t in agreement.values() for m in t.certain_wrong] == []
    assert set(CERTAIN_QUESTIONS) < set(QUESTIONS)


# --------------------------------------------------------------------------- alerts, exit status

def _tls13_samples() -> list:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "samples"
    return sorted(p for p in root.rglob("tls13-*.pcap") if p.with_suffix(".keylog").exists())


TLS13_SAMPLES = _tls13_samples()


# tshark 4.0 decrypts nothing the client sends after TLS 1.3 post-handshake authentication; tlscap reads
# frame 20 as the client's close_notify (tests/golden/tls13-post-handshake-auth.pcap+keys.json).
TSHARK_MISSES = {"tls13-post-handshake-auth.pcap": [(20, "client")]}


@pytest.mark.parametrize("capture", TLS13_SAMPLES, ids=[p.name for p in TLS13_SAMPLES])
def test_alert_sized_records_are_the_alerts_wireshark_decrypts(capture):
    """Without keys, the alert-sized records listed as (inferred) alerts are at the frames where tshark,
    given the key log, shows the alerts (and from the same side)."""
    import subprocess

    from tlscap.analysis.engine import analyze_capture

    report = analyze_capture(str(capture))
    ports = sorted({c.server.port for c in report.connections})
    command = ["tshark", "-n", "-2", "-r", str(capture), "-o", f"tls.keylog_file:{capture.with_suffix('.keylog')}",
               "-Y", "tls.alert_message", "-T", "fields", "-e", "frame.number", "-e", "tcp.srcport"]
    for port in ports:
        command += ["-d", f"tcp.port=={port},tls"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    server_ports = {c.server.port for c in report.connections}
    want = sorted((int(f), "server" if int(p) in server_ports else "client")
                  for f, p in (line.split("\t") for line in out.splitlines()))
    got = sorted((a.frame, a.sender) for c in report.connections for a in c.alerts if a.inferred)
    assert got == sorted(want + TSHARK_MISSES.get(capture.name, []))


def _failure_samples() -> list:
    return [p for p in TLS13_SAMPLES if not any(w in p.name for w in ("success", "-ok", "full-chain", "post-handshake",
                                                                       "norequest"))]


@pytest.mark.parametrize("capture", _failure_samples(), ids=[p.name for p in _failure_samples()])
def test_tls13_failures_without_keys_are_never_silent(capture):
    """Every TLS 1.3 failure sample, without keys, gets a verdict other than ok. Where the sizes prove it
    (an empty Certificate) a finding of severity error makes `--fail-on error` exit 1; where they make it
    likely, a warning does so with `--fail-on warning` only; where they cannot tell (`not-visible`: a
    server that answers and closes, for a client that offers no ALPN), the verdict says so and no finding
    claims a failure."""
    import subprocess
    import sys

    from tlscap.analysis.engine import analyze_capture

    report = analyze_capture(str(capture))
    for conn in report.connections:
        if conn.record_inference is None or not conn.record_inference.answered:
            continue
        if conn.diagnosis.cause == "ok":
            continue  # multi-connection captures hold a success too
        assert conn.diagnosis.cause in ("client-cert-not-sent", "client-cert-rejected", "handshake-failed",
                                        "not-visible")
    failing = [c for c in report.connections if c.diagnosis.cause != "ok"]
    assert failing, capture.name
    certainties = {c.diagnosis.certainty for c in failing}
    run = [sys.executable, "-m", "tlscap", "analyze", str(capture), "--format", "json"]
    on_error = subprocess.run([*run, "--fail-on", "error"], capture_output=True, timeout=120).returncode
    on_warning = subprocess.run([*run, "--fail-on", "warning"], capture_output=True, timeout=120).returncode
    expected = (1, 1) if "certain" in certainties else (0, 1) if "likely" in certainties else (0, 0)
    assert (on_error, on_warning) == expected
