"""Pipes: `-` reads a capture from standard input, `-o -` writes standard output, and
`tcpdump -U -w - | tlscap analyze - --format jsonl` reports each connection while tcpdump still runs."""

from __future__ import annotations

import gzip
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PKI = SAMPLES / "pki"
EXPIRED = SAMPLES / "tls12-expired-client-cert.pcap"
PCAPNG = SAMPLES / "tls13-expired-client-cert-dsb.pcapng"


def tlscap(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run tlscap with `stdin` fed through a pipe (not a file: nothing can seek it)."""
    return subprocess.run([sys.executable, "-m", "tlscap", *args], input=stdin if stdin is not None else b"",
                          capture_output=True, cwd=ROOT, timeout=120)


def connections(jsonl: bytes) -> list[dict]:
    return [json.loads(line) for line in jsonl.decode().splitlines()]


def without_capture(conns: list[dict]) -> list[dict]:
    return [{k: v for k, v in c.items() if k != "capture"} for c in conns]


@pytest.mark.parametrize("capture", [EXPIRED, PCAPNG], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_stdin_gives_the_report_the_file_gives(capture: Path, compress: bool) -> None:
    data = capture.read_bytes()
    piped = tlscap("analyze", "-", "--format", "jsonl", stdin=gzip.compress(data) if compress else data)
    from_file = tlscap("analyze", str(capture), "--format", "jsonl")
    assert piped.returncode == from_file.returncode, piped.stderr
    assert piped.stdout and without_capture(connections(piped.stdout)) == without_capture(connections(from_file.stdout))
    assert {c["capture"] for c in connections(piped.stdout)} == {"-"}


def test_dash_output_is_standard_output_and_creates_no_file(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(EXPIRED), "-o", "-"], cwd=tmp_path,
                       capture_output=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["summary"]["connections"] == 1  # piped: json, as without -o
    assert not (tmp_path / "-").exists()
    text = tlscap("analyze", "-", "-o", "-", "--format", "text", stdin=EXPIRED.read_bytes())
    assert text.stdout.startswith(b"verdicts: 1 TLS connection")


def test_stdin_errors_are_one_line_and_exit_2() -> None:
    empty = tlscap("analyze", "-", "--format", "json", stdin=b"")
    assert empty.returncode == 2 and empty.stderr.decode() == "tlscap: -: standard input is empty\n"
    junk = tlscap("analyze", "-", "--format", "json", stdin=b"hello world, not a capture\n")
    assert junk.returncode == 2 and junk.stderr.decode().startswith("tlscap: -: not a pcap or pcapng capture")
    twice = tlscap("analyze", "-", "-", stdin=EXPIRED.read_bytes())
    assert twice.returncode == 2 and twice.stderr.decode() == "tlscap: -: standard input can be given only once\n"
    tshark = tlscap("analyze", "-", "--engine", "tshark", stdin=EXPIRED.read_bytes())
    assert tshark.returncode == 2 and len(tshark.stderr.decode().splitlines()) == 1
    compare = tlscap("compare", "-", stdin=EXPIRED.read_bytes())
    assert compare.returncode == 2 and len(compare.stderr.decode().splitlines()) == 1


def test_stdin_among_several_captures() -> None:
    r = tlscap("analyze", str(SAMPLES / "tls12-success.pcap"), "-", "--format", "json", stdin=EXPIRED.read_bytes())
    doc = json.loads(r.stdout)
    assert [c["path"] for c in doc["captures"]] == [str(SAMPLES / "tls12-success.pcap"), "-"]
    assert doc["captures"][1]["connections"][0]["diagnosis"]["cause"] == "client-cert-expired"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(predicate, what: str, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    result = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False)
    return bool(result.stdout.strip())


def _read_line(stream, seconds: float) -> bytes:  # type: ignore[no-untyped-def]
    """One line from the pipe within `seconds` (the report must come while tcpdump runs)."""
    deadline = time.monotonic() + seconds
    line = b""
    fd = stream.fileno()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no report line within {seconds} s (so far: {line!r})")
        byte = os.read(fd, 1)
        if not byte:
            raise AssertionError(f"tlscap ended its output early (so far: {line!r})")
        line += byte
    return line


def _curl(port: int, who: str) -> None:
    subprocess.run(["curl", "-sk", "--tlsv1.2", "--tls-max", "1.2", "--cert", str(PKI / f"client-{who}.pem"),
                    "--key", str(PKI / f"client-{who}.key"), "-o", os.devnull, f"https://127.0.0.1:{port}/"],
                   timeout=30, check=False)


def test_live_tcpdump_pipe_reports_each_connection_while_tcpdump_runs(tmp_path: Path) -> None:
    """A real `tcpdump -U -w -` on loopback piped into `tlscap analyze - --format jsonl`: curl sends an
    expired client certificate (client-markw, valid 2024-01-01 … 2025-01-01: samples/make_pki.py), then a
    valid one (client-alice) to an `openssl s_server` that asks for one; each connection's line comes
    while tcpdump still runs."""
    if os.geteuid() != 0:
        pytest.fail("capturing on lo needs root (the project's tests run as root)")
    port = _free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-tls1_2", "-www", "-cert", str(PKI / "server.pem"),
         "-key", str(PKI / "server.key"), "-verify", "1", "-CAfile", str(PKI / "trust-root-and-client-ca.pem")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors = tmp_path / "tcpdump.err"
    with open(errors, "wb") as err:
        tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-s", "0", "-U", "-w", "-", f"tcp port {port}"],
                                   stdout=subprocess.PIPE, stderr=err)
    assert tcpdump.stdout is not None
    analyzer = subprocess.Popen([sys.executable, "-m", "tlscap", "analyze", "-", "--format", "jsonl"],
                                stdin=tcpdump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    tcpdump.stdout.close()  # the analyzer holds the pipe now
    assert analyzer.stdout is not None and analyzer.stderr is not None
    try:
        _wait_for(lambda: b"listening on" in errors.read_bytes() or tcpdump.poll() is not None, "tcpdump")
        assert tcpdump.poll() is None, errors.read_text()
        _wait_for(lambda: _listening(port), "s_server")
        _curl(port, "markw")
        first = json.loads(_read_line(analyzer.stdout, 15))
        assert tcpdump.poll() is None  # reported while tcpdump still captures
        _curl(port, "alice")
        second = json.loads(_read_line(analyzer.stdout, 15))
        assert tcpdump.poll() is None
    finally:
        if tcpdump.poll() is None:
            tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        server.terminate()
        server.wait(timeout=10)
    rest, stderr = analyzer.communicate(timeout=30)
    assert rest == b"", stderr  # nothing more: each connection came once, when it closed
    assert analyzer.returncode == 1, stderr  # the expired certificate is an error finding
    assert (first["capture"], first["id"], first["server"]["port"]) == ("-", 0, port)
    assert first["diagnosis"]["cause"] == "client-cert-expired"
    assert first["client_certificate"]["chain"][0]["subject"].startswith("CN=client-markw")
    assert (second["id"], second["diagnosis"]["cause"]) == (1, "ok")
    assert second["client_certificate"]["chain"][0]["subject"].startswith("CN=client-alice")
