"""The command line as a user runs it: exit codes, one-line errors, formats, filters, certs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tls12-expired-client-cert.pcap"
SUCCESS = ROOT / "samples" / "tls12-success.pcap"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlscap", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_expired_sample_text_report_reads_like_the_playbook():
    r = run("analyze", str(SAMPLE), "--format", "text")
    assert r.returncode == 1, r.stderr
    out = r.stdout
    assert "CertificateRequest — 2 acceptable CA names:" in out
    assert "1. CN=Capture Lab Root CA,O=Capture Lab,C=US" in out
    assert "Certificate — chain of 2:" in out
    assert "[0] CN=client-markw,O=Capture Lab,C=US" in out
    assert "EXPIRED at capture time" in out
    assert "✗ client-cert-expired (frame 8)" in out and "fix:" in out
    block = out[out.index("connection 0"):]
    # The verdict heads the block; the walkthrough follows it, then the findings.
    assert block.startswith("connection 0   ✗ client-cert-expired   (client side, certain)\n")
    assert "  tcp.stream 0   Wireshark filter: tcp.stream == 0   (verdict frames 6, 8)\n" in block
    assert (block.index("verdict:") < block.index("CertificateRequest") < block.index("chain of 2")
            < block.index("✗ client-cert-expired (frame 8)"))
    # The report opens with the verdict tables, before any capture's walkthrough.
    assert out.startswith("verdicts: 1 TLS connection, 0 ok, 1 failing or not visible\n")
    tables, captures = out.index("causes (each failing connection"), out.index("\ncapture ")
    assert tables < out.index("client-cert-expired  client") < captures


def test_json_report_follows_the_schema():
    r = run("analyze", str(SAMPLE), "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["tool"] == "tlscap" and doc["schema"] == 2
    (cap,) = doc["captures"]
    assert cap["format"] == "pcap" and cap["link_types"] == ["ETHERNET"] and cap["frames"] == 15
    (conn,) = cap["connections"]
    assert conn["certificate_request"]["frame"] == 6
    assert conn["client_certificate"]["frame"] == 8
    cert = conn["client_certificate"]["chain"][0]
    assert set(cert) == {"subject", "issuer", "serial", "not_before", "not_after", "sha256", "public_key",
                         "signature_algorithm", "extended_key_usage", "subject_alt_names"}
    assert cert["not_after"] == "2025-01-01T00:00:00Z"
    assert [h["message"] for h in conn["handshake"]][:3] == ["ClientHello", "ServerHello", "Certificate"]
    assert doc["summary"]["findings_by_code"] == {"client-cert-expired": 1}
    assert doc["summary"]["connections_by_cause"] == {"client-cert-expired": 1}
    # start_time is tshark's frame.time_epoch of frame 1; the filter is Wireshark's tcp.stream of the connection
    assert conn["start_time"] == "2026-11-27T01:14:22.967596Z" and conn["wireshark_filter"] == "tcp.stream == 0"
    diagnosis = conn["diagnosis"]
    assert set(diagnosis) == {"cause", "side", "certainty", "summary", "fix", "frames", "evidence", "alternatives",
                              "decide_with"}
    assert (diagnosis["cause"], diagnosis["side"], diagnosis["certainty"]) == ("client-cert-expired", "client",
                                                                             "certain")
    assert diagnosis["frames"] == [6, 8] and diagnosis["evidence"] == [0]


def test_jsonl_has_one_connection_per_line():
    r = run("analyze", str(ROOT / "samples" / "multi-connection.pcap"), "--format", "jsonl")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["id"] for d in lines] == [0, 1, 2, 3]
    assert all(d["capture"].endswith("multi-connection.pcap") for d in lines)


def test_fail_on_controls_the_exit_status():
    assert run("analyze", str(SAMPLE), "--format", "json").returncode == 1
    assert run("analyze", str(SAMPLE), "--format", "json", "--fail-on", "never").returncode == 0
    assert run("analyze", str(SUCCESS), "--format", "json").returncode == 0


def test_filters():
    multi = str(ROOT / "samples" / "multi-connection.pcap")
    doc = json.loads(run("analyze", multi, "--format", "json", "--port", "1").stdout)
    assert doc["captures"][0]["connections"] == []
    doc = json.loads(run("analyze", multi, "--format", "json", "--host", "127.0.0.1", "--sni", "LOCALHOST").stdout)
    assert len(doc["captures"][0]["connections"]) == 4


def test_at_judges_validity_at_another_time():
    doc = json.loads(run("analyze", str(SAMPLE), "--format", "json", "--at", "2024-06-01T00:00:00Z").stdout)
    assert doc["summary"]["findings_by_code"] == {}


def test_text_hides_clean_connections_unless_all():
    assert "connection 0" not in run("analyze", str(SUCCESS), "--format", "text").stdout
    assert "connection 0" in run("analyze", str(SUCCESS), "--format", "text", "--all").stdout


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"GET / HTTP/1.1\r\n\r\n", "not a pcap or pcapng capture"),
])
def test_bad_files_give_one_line_and_status_2(tmp_path, content, reason):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    r = run("analyze", str(bad), "--format", "json")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and str(bad) in r.stderr and reason in r.stderr


def test_missing_file_and_directory(tmp_path):
    for target, reason in ((tmp_path / "nope.pcap", "no such file"), (tmp_path, "is a directory")):
        r = run("analyze", str(target))
        assert r.returncode == 2 and reason in r.stderr and "Traceback" not in r.stderr


def test_truncated_file_still_reports_what_was_read(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SAMPLE.read_bytes()[:4000])
    r = run("analyze", str(cut), "--format", "json", "--fail-on", "never")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    assert doc["captures"][0]["errors"][0]["code"] == "truncated-file"
    assert doc["captures"][0]["connections"], "the connection before the cut is still reported"
    assert str(cut) in r.stderr


def test_one_bad_capture_among_good_ones(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_text("not a capture")
    r = run("analyze", str(bad), str(SAMPLE), "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert [c["errors"] != [] for c in doc["captures"]] == [True, False]


def test_bad_usage_is_status_2():
    assert run("analyze").returncode == 2
    assert run("analyze", str(SAMPLE), "--at", "yesterday").returncode == 2
    assert run("analyze", str(SAMPLE), "--port", "99999").returncode == 2


def test_output_file_and_format_from_extension(tmp_path):
    out = tmp_path / "report.json"
    r = run("analyze", str(SAMPLE), "-o", str(out))
    assert r.stdout == ""
    assert json.loads(out.read_text())["schema"] == 2


def test_certs_writes_every_certificate_once(tmp_path):
    r = run("certs", str(ROOT / "samples" / "multi-connection.pcap"), "--out", str(tmp_path / "certs"))
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "certs").glob("*.pem"))
    assert len(files) >= 4
    for f in files:
        cert = x509.load_pem_x509_certificate(f.read_bytes())
        assert hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() == f.stem
