"""--server-log: a real nginx (error_log … info) and a real Apache httpd (mod_ssl, LogLevel ssl:info) refuse
client certificates on loopback while tcpdump captures; their logs, given to tlscap, attach each refusal
to its connection and settle what TLS 1.3 without keys hides.

The expected causes come from the clients each test runs (samples/README.md, PKI): client-alice (a chain
from the listed client CA), client-markw (expired), client-bob (a leaf of the unlisted Partner Root CA)
and no certificate."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from live_servers import apache, curl, free_port, have, nginx, tcpdump

from tlscap.analysis.server_log import LogParser, ServerLog, parse_offset

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ("alice", "markw", "bob", "none")
# What each client was made to show, and the log line's words for it.
EXPECTED = {
    "alice": ("ok", None),
    "markw": ("client-cert-expired", "certificate has expired"),
    "bob": ("client-cert-wrong-ca", None),  # nginx: (21:unable to verify …); Apache: Error (20): unable to get …
    "none": ("client-cert-not-sent", None),
}
SERVERS = {"nginx": nginx, "apache": apache}


def _tlscap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlscap", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, Path]]:
    """(server, TLS version) -> (capture, error log): the four clients in turn, a second apart (nginx writes
    whole seconds and no client port)."""
    assert have("nginx", "apache2", "tcpdump", "curl"), "make system-deps installs nginx, apache2, tcpdump, curl"
    out = {}
    base = tmp_path_factory.mktemp("server-log")
    for name, server in SERVERS.items():
        for tls in ("1.2", "1.3"):
            port = free_port()
            pcap = base / f"{name}-{tls}.pcap"
            with server(base / f"{name}-{tls}", port) as log:
                with tcpdump(pcap, port):
                    for client in CLIENTS:
                        curl(port, client, tls)
                        time.sleep(1.0)
            out[(name, tls)] = (pcap, log)
    return out


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_each_refusal_in_the_log_is_attached_to_its_connection(runs, server: str, tls: str) -> None:
    pcap, log = runs[(server, tls)]
    result = _tlscap("analyze", str(pcap), "--server-log", str(log), "--format", "json", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    conns = report["captures"][0]["connections"]
    assert len(conns) == len(CLIENTS)
    for client, conn in zip(CLIENTS, conns, strict=True):
        cause, words = EXPECTED[client]
        logged = [f for f in conn["findings"] if f["code"] == "server-log"]
        if client == "alice":  # no log line for a success; TLS 1.3 without keys may not show it either
            assert conn["diagnosis"]["cause"] in (("ok",) if tls == "1.2" else ("ok", "not-visible"))
            assert logged == []
            continue
        assert conn["diagnosis"]["cause"] == cause, (client, conn["diagnosis"])
        assert len(logged) == 1, (client, logged)
        assert "for client 127.0.0.1" in logged[0]["message"]
        if server == "apache":
            assert f":{conn['client']['port']}:" in logged[0]["message"]  # Apache names the port
        if words:
            assert words in logged[0]["message"]
        assert "log" in conn["diagnosis"]["summary"]
        if cause in ("client-cert-expired", "client-cert-not-sent"):
            assert conn["diagnosis"]["certainty"] == "certain"  # the server's own words, TLS 1.3 without keys too
    assert report["summary"]["server_log"] == {"messages": 3, "matched": 3, "unmatched": 0, "not_kept": 0}
    assert "3 matched to a connection, 0 matched none" in result.stderr


def test_the_log_settles_tls13_without_keys(runs) -> None:
    """Without the log, TLS 1.3 without keys shows a refusal after a certificate, not its reason."""
    pcap, log = runs[("nginx", "1.3")]
    plain = json.loads(_tlscap("analyze", str(pcap), "--format", "json", "--fail-on", "never").stdout)
    with_log = json.loads(_tlscap("analyze", str(pcap), "--server-log", str(log), "--format", "json",
                                  "--fail-on", "never").stdout)
    before = plain["captures"][0]["connections"][1]["diagnosis"]
    after = with_log["captures"][0]["connections"][1]["diagnosis"]
    assert before["cause"] != "client-cert-expired"
    assert (after["cause"], after["certainty"]) == ("client-cert-expired", "certain")


def test_lines_of_another_time_are_counted_unmatched(runs) -> None:
    pcap, _ = runs[("nginx", "1.3")]
    _, other_log = runs[("nginx", "1.2")]  # written before this capture began
    result = _tlscap("analyze", str(pcap), "--server-log", str(other_log), "--format", "json", "--fail-on", "never")
    assert json.loads(result.stdout)["summary"]["server_log"]["unmatched"] == 3
    assert "0 matched to a connection, 3 matched none" in result.stderr


def test_unreadable_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _tlscap("analyze", str(ROOT / "samples" / "tls12-success.pcap"), "--server-log",
                     str(tmp_path / "missing.log"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing.log" in result.stderr and "Traceback" not in result.stderr


def test_bad_offset_is_refused() -> None:
    result = _tlscap("analyze", str(ROOT / "samples" / "tls12-success.pcap"), "--server-log", "/dev/null",
                     "--log-utc-offset", "CET")
    assert result.returncode == 2 and "--log-utc-offset" in result.stderr


# --- the parser on the formats the servers above write

NGINX_LINE = ("2026/12/04 18:57:33 [info] 15365#15365: *3 client SSL certificate verify error: (10:certificate has "
              "expired) while reading client request headers, client: 127.0.0.1, server: localhost, request: "
              "\"GET / HTTP/1.1\", host: \"localhost:1\"")
APACHE_LINES = [
    "[Fri Dec 04 18:57:52.011613 2026] [ssl:info] [pid 15410:tid 15418] [client 127.0.0.1:43854] AH01964: "
    "Connection to child 6 established (server localhost:39679)",
    "[Fri Dec 04 18:57:52.014981 2026] [ssl:info] [pid 15410:tid 15418] SSL Library Error: error:0A0000C7:SSL "
    "routines::peer did not return a certificate -- No CAs known to server for verification?",
]


def test_nginx_time_is_local_and_whole_seconds() -> None:
    message = LogParser(parse_offset("+01:00")).parse(NGINX_LINE, "error.log:1")
    assert message is not None
    assert message.time_utc.isoformat() == "2026-12-04T17:57:33+00:00"
    assert message.resolution == timedelta(seconds=1) and message.client_port is None
    assert message.cause == "client-cert-expired"


def test_apache_line_without_client_belongs_to_its_thread() -> None:
    parser = LogParser(timedelta(0))
    assert parser.parse(APACHE_LINES[0], "error.log:1") is None  # not about a certificate
    message = parser.parse(APACHE_LINES[1], "error.log:2")
    assert message is not None
    assert (message.client_ip, message.client_port, message.cause) == ("127.0.0.1", 43854, "client-cert-not-sent")


def test_a_line_goes_to_one_connection_and_again_to_the_same_one() -> None:
    message = LogParser(timedelta(0)).parse(NGINX_LINE, "error.log:1")
    assert message is not None
    log = ServerLog([message], timedelta(0))
    start = message.time_utc + timedelta(milliseconds=300)
    first = log.take("127.0.0.1", 5000, start, start + timedelta(milliseconds=100))
    assert first == (message,)
    assert log.take("127.0.0.1", 5001, start, start + timedelta(milliseconds=100)) == ()
    assert log.take("127.0.0.1", 5000, start, start + timedelta(milliseconds=100)) == (message,)  # read again
    assert log.take("127.0.0.2", 5000, start, start) == ()
    assert log.summary() == {"messages": 1, "matched": 1, "unmatched": 0, "not_kept": 0}


def test_lines_past_the_limit_are_counted_not_kept(tmp_path: Path, monkeypatch) -> None:
    import argparse

    from tlscap import limits
    from tlscap.cli_server_log import load_server_log, server_log_note

    log_file = tmp_path / "error.log"
    log_file.write_text("\n".join([NGINX_LINE] * 5) + "\n")
    monkeypatch.setattr(limits, "MAX_SERVER_LOG_MESSAGES", 2)
    log = load_server_log(argparse.Namespace(server_log=[str(log_file)], log_skew=0.0, log_utc_offset="+00:00"))
    assert log is not None
    assert log.summary() == {"messages": 5, "matched": 0, "unmatched": 2, "not_kept": 3}
    assert "3 more past tlscap's limit of 2 were not read" in server_log_note(log)
