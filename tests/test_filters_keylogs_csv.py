"""Filters that say what they did, key logs across many captures, `certs --keylog` and
its index, the per-connection CSV, and text wrapped to a terminal."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MULTI = SAMPLES / "multi-connection.pcap"  # 4 connections 127.0.0.1 -> 127.0.0.1, SNI localhost
TLS13 = SAMPLES / "tls13-expired-client-cert.pcap"
TLS13_KEYS = SAMPLES / "tls13-expired-client-cert.keylog"
TLS12 = SAMPLES / "tls12-expired-client-cert.pcap"
TLS12_KEYS = SAMPLES / "tls12-expired-client-cert.keylog"


def tlscap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlscap", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=180)


def tshark_streams(capture: Path, display_filter: str | None = None) -> set[str]:
    cmd = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-e", "tcp.stream"]
    if display_filter:
        cmd += ["-Y", display_filter]
    return set(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split())


@pytest.mark.parametrize("host", ["notanip", "gateway.lab.test", "10.0.0.0/33", "127.0.0.1/8x", ""])
def test_host_that_is_no_address_is_refused_in_one_line(host: str) -> None:
    r = tlscap("analyze", str(MULTI), "--host", host)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "not an IP address or CIDR prefix" in r.stderr


@pytest.mark.parametrize(("host", "display_filter"), [
    ("127.0.0.1", "ip.addr == 127.0.0.1"),
    ("127.0.0.0/8", "ip.addr == 127.0.0.0/8"),
    ("127.1.2.3/8", "ip.addr == 127.0.0.0/8"),
    ("10.0.0.0/8", "ip.addr == 10.0.0.0/8"),
    ("::1", "ipv6.addr == ::1"),
    ("::/0", "ipv6"),
])
def test_host_matches_addresses_and_prefixes_as_tshark_does(host: str, display_filter: str) -> None:
    doc = json.loads(tlscap("analyze", str(MULTI), "--host", host, "--format", "json").stdout)
    ids = {str(c["id"]) for c in doc["captures"][0]["connections"]}
    every = tshark_streams(MULTI, "tls")
    assert ids == tshark_streams(MULTI, f"tls && ({display_filter})")
    assert doc["summary"]["connections_excluded"] == len(every - ids)


def test_sni_matches_names_patterns_case_and_trailing_dot() -> None:
    every = tshark_streams(MULTI, "tls")
    named = tshark_streams(MULTI, 'tls.handshake.extensions_server_name == "localhost"')
    for sni, expected in (("localhost", named), ("LOCALHOST.", named), ("local*", named), ("*.localhost", set()),
                          ("other.example", set())):
        doc = json.loads(tlscap("analyze", str(MULTI), "--sni", sni, "--format", "json").stdout)
        ids = {str(c["id"]) for c in doc["captures"][0]["connections"]}
        assert ids == expected, sni
        assert doc["summary"]["connections_excluded"] == len(every - expected)


@pytest.mark.parametrize("fmt", ["text", "md", "html", "csv"])
def test_every_report_says_how_many_the_filters_excluded(fmt: str) -> None:
    total = len(tshark_streams(MULTI, "tls"))
    r = tlscap("analyze", str(MULTI), "--sni", "nothing.example", "--format", fmt)
    shown = r.stdout.replace("\\", "") if fmt == "md" else r.stdout  # Markdown escapes the parentheses
    assert f"{total} TLS connections excluded by the filters (--sni nothing.example)" in shown
    unfiltered = tlscap("analyze", str(MULTI), "--format", fmt)
    assert "excluded by the filters" not in unfiltered.stdout
    kept = tlscap("analyze", str(MULTI), "--host", "127.0.0.1", "--format", fmt).stdout
    kept = kept.replace("\\", "") if fmt == "md" else kept
    assert "0 TLS connections excluded by the filters (--host 127.0.0.1)" in kept
    assert json.loads(tlscap("analyze", str(MULTI), "--format", "json").stdout)["summary"]["connections_excluded"] == 0


def test_a_key_log_without_this_connections_secret_is_no_warning() -> None:
    """One key log given for two captures: the TLS 1.2 capture it belongs to is decrypted; the TLS 1.3
    capture it has no secret for gets no decryption-failed, and stderr says per capture what it covered."""
    r = tlscap("analyze", str(TLS12), str(TLS13), "--keylog", str(TLS12_KEYS), "--format", "json")
    doc = json.loads(r.stdout)
    first, second = (cap["connections"][0] for cap in doc["captures"])
    assert first["decrypted"] and not second["decrypted"]
    assert "decryption-failed" not in doc["summary"]["findings_by_code"]
    assert f"tlscap: {TLS12}: the key logs covered 1 of 1 TLS connection\n" in r.stderr
    assert f"tlscap: {TLS13}: the key logs covered 0 of 1 TLS connection\n" in r.stderr


def test_a_secret_that_fails_is_still_decryption_failed(tmp_path: Path) -> None:
    random_hex = TLS12_KEYS.read_text().split()[1]
    wrong = tmp_path / "wrong.keylog"
    wrong.write_text(f"CLIENT_RANDOM {random_hex} {'11' * 48}\n")
    doc = json.loads(tlscap("analyze", str(TLS12), "--keylog", str(wrong), "--format", "json").stdout)
    assert doc["summary"]["findings_by_code"].get("decryption-failed") == 1


def test_analyze_keylog_dir_reads_every_key_log(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "a.keylog").write_text(TLS12_KEYS.read_text())
    (folder / "b.txt").write_text(TLS13_KEYS.read_text())
    doc = json.loads(tlscap("analyze", str(TLS12), str(TLS13), "--keylog-dir", str(folder), "--format", "json").stdout)
    assert [cap["connections"][0]["decrypted"] for cap in doc["captures"]] == [True, True]
    missing = tlscap("analyze", str(TLS12), "--keylog-dir", str(tmp_path / "nope"))
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1


def test_certs_decrypts_tls13_and_writes_an_index(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    without = tlscap("certs", str(TLS13), "--out", str(out))
    # TLS 1.3 without keys: the server's certificate is encrypted too; the user is told why.
    assert without.returncode == 0 and "give --keylog" in without.stderr
    assert json.loads((out / "index.json").read_text()) == {}
    r = tlscap("certs", str(TLS13), "--keylog", str(TLS13_KEYS), "--out", str(out))
    assert r.returncode == 0, r.stderr
    index = json.loads((out / "index.json").read_text())
    pems = {p.stem for p in out.glob("*.pem")}
    assert pems == set(index) and pems
    # From tshark's own decryption of the same capture: each Certificate message's frame and sender.
    tshark = subprocess.run(
        ["tshark", "-n", "-r", str(TLS13), "-o", f"tls.keylog_file:{TLS13_KEYS}", "-Y", "tls.handshake.type == 11",
         "-T", "fields", "-e", "frame.number", "-e", "tcp.srcport", "-e", "tls.handshake.certificate"],
        capture_output=True, text=True, check=True).stdout
    server_port = subprocess.run(["tshark", "-n", "-r", str(TLS13), "-Y", "tls.handshake.type == 2", "-T", "fields",
                                  "-e", "tcp.srcport"], capture_output=True, text=True, check=True).stdout.split()[0]
    seen: dict[str, set[tuple[int, str]]] = {}
    for line in tshark.splitlines():
        frame, port, certs = line.split("\t")
        for hexder in certs.split(","):
            der = bytes.fromhex(hexder.replace(":", ""))
            cert = x509.load_der_x509_certificate(der)
            sha = hashlib.sha256(der).hexdigest()
            seen.setdefault(sha, set()).add((int(frame), "server" if port == server_port else "client"))
            entry = index[sha]
            assert entry["subject"] == cert.subject.rfc4514_string()
            assert entry["issuer"] == cert.issuer.rfc4514_string()
            assert entry["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(index) == set(seen)
    for sha, places in seen.items():
        assert {(p["frame"], p["from"]) for p in index[sha]["frames"]} == places
        assert sorted(index[sha]["sent_by"]) == sorted({who for _, who in places})
    assert "client" in {who for places in seen.values() for _, who in places}  # the decrypted client chain


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel takes a BOM-less CSV for the ANSI code page
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_per_connection_has_one_row_per_connection_and_a_bom(tmp_path: Path) -> None:
    rows = _csv(tlscap("analyze", str(MULTI), "--format", "csv", "--csv-rows", "connections").stdout)
    assert [r["connection"] for r in rows] == sorted(tshark_streams(MULTI, "tls"), key=int)
    # The client's leaf certificate of each connection, as tshark dissects it (a Certificate message sent to
    # the port the ClientHello went to).
    server_port = subprocess.run(["tshark", "-n", "-r", str(MULTI), "-Y", "tls.handshake.type == 1", "-T", "fields",
                                  "-e", "tcp.dstport"], capture_output=True, text=True, check=True).stdout.split()[0]
    certs = subprocess.run(
        ["tshark", "-n", "-r", str(MULTI), "-Y", f"tls.handshake.type == 11 && tcp.dstport == {server_port}", "-T",
         "fields", "-e", "tcp.stream", "-e", "tls.handshake.certificate"],
        capture_output=True, text=True, check=True).stdout
    leaves = 0
    for line in certs.splitlines():
        stream, chain = line.split("\t")
        row = rows[int(stream)]
        if chain:
            leaf = x509.load_der_x509_certificate(bytes.fromhex(chain.split(",")[0].replace(":", "")))
            assert row["client_subject"] == leaf.subject.rfc4514_string()
            assert row["client_issuer"] == leaf.issuer.rfc4514_string()
            assert row["client_not_after"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            leaves += 1
        else:
            assert row["client_subject"] == ""
    assert leaves >= 2
    by_id = {r["connection"]: r for r in rows}
    assert by_id["1"]["cause"] == "client-cert-expired" and by_id["1"]["client_not_after"] == "2025-01-01T00:00:00Z"
    assert by_id["0"]["cause"] == "ok" and by_id["0"]["certainty"]
    assert all(r["start_time"].endswith("Z") and r["wireshark_filter"] == f"tcp.stream == {r['connection']}"
               for r in rows)
    # A clean capture with --all was a header alone; now every connection has its row.
    clean = _csv(tlscap("analyze", str(SAMPLES / "tls12-success.pcap"), "--format", "csv", "--csv-rows",
                        "connections").stdout)
    assert [r["cause"] for r in clean] == ["ok"]
    # Written to a file, the bytes start with the UTF-8 BOM.
    target = tmp_path / "x.csv"
    assert tlscap("analyze", str(MULTI), "-o", str(target), "--csv-rows", "connections").returncode == 1
    assert target.read_bytes().startswith(b"\xef\xbb\xbfcapture,connection,start_time,")


def test_scan_csv_per_connection_is_the_same_rows(tmp_path: Path) -> None:
    analyzed = tlscap("analyze", str(MULTI), "--format", "csv", "--csv-rows", "connections").stdout
    scanned = tlscap("scan", str(MULTI), "--format", "csv", "--csv-rows", "connections", "--quiet").stdout
    assert scanned == analyzed


def _on_terminal(args: list[str], columns: int) -> str:
    """Run tlscap with its standard output on a pseudo-terminal `columns` wide; what it printed there."""
    main, secondary = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), LINES="50")
    proc = subprocess.Popen([sys.executable, "-m", "tlscap", *args], stdout=secondary, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=ROOT, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_text_wraps_to_the_terminal_and_not_in_a_pipe() -> None:
    shown = _on_terminal(["analyze", str(TLS12), "--format", "text"], 80)
    walk = shown[shown.index("\ncapture "):shown.index("\nsummary\n")]
    assert max(len(line) for line in walk.splitlines()) <= 80
    assert "\n  verdict: The client certificate CN=client-markw" in walk
    piped = tlscap("analyze", str(TLS12), "--format", "text").stdout
    assert max(len(line) for line in piped.splitlines()) > 80  # the verdict is one line in a pipe
    # The same words, wrapped: joining the continuation lines gives the piped lines back.
    assert " ".join(walk.split()) in " ".join(piped.split())
