"""Memory stays bounded whatever the input repeats: measured from outside, on captures the test writes
(tests/memory_captures.py), as peak RSS of a `tlscap analyze` process."""

from __future__ import annotations

import json

from memory_captures import peak_rss_mb, tiny_records

LIMIT_MB = 200


def test_open_connections_flooded_with_tiny_records(tmp_path):
    """2,000 open connections, each a ClientHello and 10,000 zero-length ChangeCipherSpec records: a run of
    identical records is one event with a count."""
    capture = tiny_records(tmp_path / "ccs.pcap", 2_000, 10_000, content_type=20)
    peak, result = peak_rss_mb("analyze", str(capture), "--format", "json", "-o", str(tmp_path / "r.json"),
                               "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert peak <= LIMIT_MB, peak
    doc = json.loads((tmp_path / "r.json").read_text())
    first = doc["captures"][0]["connections"][0]
    ccs = [h for h in first["handshake"] if h["message"] == "ChangeCipherSpec"]
    assert len(ccs) == 1 and ccs[0]["count"] == 10_000 and doc["summary"]["connections"] == 2_000


def test_zero_length_alerts_are_one_finding_per_run(tmp_path):
    """200 connections × 10,000 zero-length alert records: one alert entry and one finding per connection,
    a report under 10 MB."""
    capture = tiny_records(tmp_path / "alerts.pcap", 200, 10_000, content_type=21)
    report = tmp_path / "r.json"
    peak, result = peak_rss_mb("analyze", str(capture), "--format", "json", "-o", str(report), "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert peak <= LIMIT_MB, peak
    assert report.stat().st_size <= 10 * 1024 * 1024
    doc = json.loads(report.read_text())
    for conn in doc["captures"][0]["connections"]:
        (alert,) = conn["alerts"]
        assert alert["count"] == 10_000 and alert["encrypted"]
        assert [f["code"] for f in conn["findings"]].count("encrypted-alert") == 1


def test_many_short_connections_in_a_short_capture(tmp_path):
    """400,000 complete connections within 3 s of capture time: the finished conversations the stream
    table must remember (a late retransmission continues its tcp.stream) are packed."""
    from memory_captures import short_connections

    capture = short_connections(tmp_path / "short.pcap", 400_000)
    peak, result = peak_rss_mb("analyze", str(capture), "--format", "jsonl", "-o", str(tmp_path / "r.jsonl"),
                               "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert peak <= LIMIT_MB, peak
    with open(tmp_path / "r.jsonl") as lines:
        assert sum(1 for _ in lines) == 400_000


def test_many_half_open_connections(tmp_path):
    """400,000 connections that send a SYN and a ClientHello and never close: 16,384 stay open at once (the
    least recently active is finished early), and every one is reported."""
    from memory_captures import half_open

    capture = half_open(tmp_path / "half.pcap", 400_000)
    peak, result = peak_rss_mb("analyze", str(capture), "--format", "jsonl", "-o", str(tmp_path / "r.jsonl"),
                               "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "r.jsonl") as lines:
        assert sum(1 for _ in lines) == 400_000
    assert peak <= LIMIT_MB, peak
