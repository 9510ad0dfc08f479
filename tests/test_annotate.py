"""`tlscap annotate` and the Wireshark round trip: the annotated pcapng, read back with
tshark, carries the comments on the frames the findings and verdicts name, and is otherwise the same
capture (tshark lists the same frames, timestamps, lengths and protocols)."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MULTI = SAMPLES / "multi-connection.pcap"  # 4 connections: ok, expired, unlisted CA, no certificate
DSB = SAMPLES / "tls13-expired-client-cert-dsb.pcapng"  # TLS 1.3 with its secrets in the file
FIELDS = ("frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols", "frame.encap_type",
          "tcp.stream")
# A pcap has no interface block (tshark shows no interface id); pcapng in, pcapng out: the same interfaces.
INTERFACE_FIELDS = ("frame.interface_id", "frame.interface_name", "frame.interface_description")


def tlscap(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlscap", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=180)


def tshark_fields(path: Path, *fields: str, display_filter: str | None = None) -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_comments(path: Path) -> dict[int, list[str]]:
    """frame.number -> its comments, as tshark reads them back."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "frame.comment", "-T", "json", "-e", "frame.number",
                          "-e", "frame.comment"], capture_output=True, text=True, check=True, timeout=120).stdout
    return {int(p["_source"]["layers"]["frame.number"][0]): p["_source"]["layers"]["frame.comment"]
            for p in json.loads(out or "[]")}


def report(capture: Path, *extra: str) -> dict:
    r = tlscap("analyze", str(capture), "--format", "json", *extra)
    return json.loads(r.stdout)


def named_frames(doc: dict) -> set[int]:
    """The frames the report's findings and verdicts name, and each connection's first frame (where its
    verdict goes)."""
    frames: set[int] = set()
    for cap in doc["captures"]:
        for conn in cap["connections"]:
            frames.add(conn["first_frame"])
            frames.update(conn["diagnosis"]["frames"])
            for f in conn["findings"]:
                frames.update(f["frames"])
    return frames


def nanosecond_pcap(source: Path, target: Path) -> None:
    """A nanosecond pcap of `source` (editcap), with each record's time moved by a few odd nanoseconds, so a
    copy that kept only microseconds would show."""
    ns = target.with_suffix(".tmp")
    subprocess.run(["editcap", "-F", "nsecpcap", str(source), str(ns)], check=True, capture_output=True)
    data = bytearray(ns.read_bytes())
    ns.unlink()
    order = "<" if data[:4] == b"\x4d\x3c\xb2\xa1" else ">"
    pos, n = 24, 0
    while pos + 16 <= len(data):
        seconds, fraction, caplen, _orig = struct.unpack_from(order + "IIII", data, pos)
        n += 1
        struct.pack_into(order + "I", data, pos + 4, (fraction + 7 * n + 1) % 1_000_000_000)
        pos += 16 + caplen
    target.write_bytes(bytes(data))


def _same_capture(original: Path, annotated: Path, *, interfaces: bool = False) -> None:
    fields = FIELDS + INTERFACE_FIELDS if interfaces else FIELDS
    assert tshark_fields(annotated, *fields) == tshark_fields(original, *fields)


def test_annotated_pcap_carries_the_comments_on_the_frames_tshark_shows(tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    r = tlscap("annotate", str(MULTI), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng
    comments = tshark_comments(out)
    assert set(comments) == named_frames(report(MULTI))
    _same_capture(MULTI, out)
    # Independently of tlscap's report, from tshark's own dissection: each connection's verdict is on the
    # stream's first frame; the expired certificate's comment is on the frame carrying the client's
    # Certificate message (the sample's stream 1 sends client-markw, expired 2025-01-01).
    firsts: dict[str, int] = {}
    for number, stream in tshark_fields(MULTI, "frame.number", "tcp.stream"):
        firsts.setdefault(stream, int(number))
    for stream, first in firsts.items():
        assert any(c.startswith(f"tlscap tcp.stream {stream}: verdict ") for c in comments[first])
    client_certs = {int(n) for (n,) in tshark_fields(
        MULTI, "frame.number", display_filter="tls.handshake.type == 11 && tcp.srcport != 18443 && tcp.stream == 1")}
    expired = {n for n, texts in comments.items() if any("✗ client-cert-expired:" in t for t in texts)}
    assert expired and expired == client_certs


def test_nanosecond_pcap_keeps_its_nanoseconds(tmp_path: Path) -> None:
    ns = tmp_path / "ns.pcap"
    nanosecond_pcap(MULTI, ns)
    assert tshark_fields(ns, "frame.time_epoch")[0][0].endswith("8")  # 7 * 1 + 1 ns: not a microsecond
    out = tmp_path / "ns.pcapng"
    assert tlscap("annotate", str(ns), "-o", str(out)).returncode == 0
    _same_capture(ns, out)
    assert set(tshark_comments(out)) == named_frames(report(ns))


def test_pcapng_keeps_its_interfaces_and_secrets_and_gzip_is_read(tmp_path: Path) -> None:
    out = tmp_path / "dsb.pcapng"
    r = tlscap("annotate", str(DSB), "-o", str(out))
    assert r.returncode == 0, r.stderr
    _same_capture(DSB, out, interfaces=True)
    comments = tshark_comments(out)
    assert set(comments) == named_frames(report(DSB))
    # The Decryption Secrets Block is copied: tshark decrypts the annotated file as it does the original.
    certs = "tls.handshake.type == 11"
    assert tshark_fields(out, "frame.number", display_filter=certs) == tshark_fields(DSB, "frame.number",
                                                                                    display_filter=certs)
    # The client's decrypted Certificate (TLS 1.3, from the DSB) carries the expired-certificate comment.
    client_cert = {int(n) for (n,) in tshark_fields(DSB, "frame.number", display_filter=certs + " && tcp.dstport == "
                                                    + tshark_fields(DSB, "tcp.dstport")[0][0])}
    expired = {n for n, texts in comments.items() if any("client-cert-expired:" in c for c in texts)}
    assert client_cert and expired == client_cert
    gz = tmp_path / "multi.pcap.gz"
    gz.write_bytes(gzip.compress(MULTI.read_bytes()))
    out_gz = tmp_path / "gz.pcapng"
    assert tlscap("annotate", str(gz), "-o", str(out_gz)).returncode == 0
    _same_capture(MULTI, out_gz)


def test_annotate_never_overwrites_an_input_and_writes_atomically(tmp_path: Path) -> None:
    capture = tmp_path / "x.pcap"
    capture.write_bytes(MULTI.read_bytes())
    for target in (capture, tmp_path / "link.pcap"):
        if target != capture:
            os.link(capture, target)
        r = tlscap("annotate", str(capture), "-o", str(target))
        assert r.returncode == 2 and "is one of the inputs" in r.stderr and len(r.stderr.splitlines()) == 1
        assert capture.read_bytes() == MULTI.read_bytes()
    old = tmp_path / "old.pcapng"
    old.write_bytes(b"the previous file")
    damaged = tmp_path / "damaged.pcap"
    damaged.write_bytes(b"not a capture at all")
    r = tlscap("annotate", str(damaged), "-o", str(old))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a pcap or pcapng capture" in r.stderr
    assert old.read_bytes() == b"the previous file"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tlscap-tmp")]
    piped = subprocess.run([sys.executable, "-m", "tlscap", "annotate", "-", "-o", str(tmp_path / "y.pcapng")],
                           input=MULTI.read_bytes(), capture_output=True, timeout=60, cwd=ROOT)
    assert piped.returncode == 2 and len(piped.stderr.splitlines()) == 1


def test_annotate_to_standard_output(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "tlscap", "annotate", str(MULTI), "-o", "-"], capture_output=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0
    out = tmp_path / "piped.pcapng"
    out.write_bytes(r.stdout)
    _same_capture(MULTI, out)


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_reports_name_the_tcp_stream_and_the_display_filter(fmt: str) -> None:
    r = tlscap("analyze", str(MULTI), "--format", fmt, "--all")
    streams = sorted({s for (s,) in tshark_fields(MULTI, "tcp.stream")}, key=int)
    for stream in streams:
        if fmt == "text":
            assert f"\n  tcp.stream {stream}   Wireshark filter: tcp.stream == {stream}" in r.stdout
        else:
            assert (f"tcp.stream <code>{stream}</code> · Wireshark filter: <code>tcp.stream == {stream}</code> "
                    f'<button type="button" class="copy" data-copy="tcp.stream == {stream}"') in r.stdout
