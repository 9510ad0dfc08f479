"""Every command's --help shows examples and the exit codes, and every example it shows runs: each is
run as a user would type it, in a folder that holds the project's samples/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKI = ROOT / "samples" / "pki"
COMMANDS = ("analyze", "scan", "certs", "annotate", "compare")
LIVE_PORT = 8443  # the tcpdump example's port


def help_text(*command: str) -> str:
    r = subprocess.run([sys.executable, "-m", "tlscap", *command, "--help"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0
    return r.stdout


def examples(text: str) -> list[str]:
    """The lines under `examples:` up to the next blank line."""
    lines = text.splitlines()
    start = lines.index("examples:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_examples_and_exit_codes(command: str) -> None:
    text = help_text(command)
    assert examples(text) and all(e.split()[0] in ("tlscap", "gzip", "tcpdump", "tshark") for e in examples(text))
    codes = text[text.index("exit status:"):]
    assert "\n  0  " in codes and "\n  2  " in codes
    assert examples(help_text())  # and tlscap --help


def _serve_and_curl(stop: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Mutual-TLS connections to an openssl s_server on 127.0.0.1:LIVE_PORT until `stop` ends."""
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{LIVE_PORT}", "-tls1_2", "-www",
         "-cert", str(PKI / "server.pem"), "-key", str(PKI / "server.key"), "-verify", "1",
         "-CAfile", str(PKI / "trust-root-and-client-ca.pem")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while stop.poll() is None and time.monotonic() < deadline:
            subprocess.run(["curl", "-sk", "--cert", str(PKI / "client-markw.pem"), "--key",
                            str(PKI / "client-markw.key"), "-o", os.devnull, f"https://127.0.0.1:{LIVE_PORT}/"],
                           timeout=30, check=False)
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def all_examples() -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for command in ("", *COMMANDS):
        for example in examples(help_text(*([command] if command else []))):
            if (command, example) not in seen:
                seen.append((command or "tlscap", example))
    return seen


def test_every_example_in_every_help_runs(tmp_path: Path) -> None:
    """Run in order, in one folder (annotate's tshark example reads the file the one before it wrote);
    the tcpdump example captures connections that the test makes to an openssl s_server while it runs."""
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    ran = 0
    for command, example in all_examples():
        proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", example], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        if example.startswith("tcpdump"):
            assert _port_free(LIVE_PORT), f"port {LIVE_PORT} is taken: the tcpdump example cannot be run"
            time.sleep(1.5)  # tcpdump starts listening
            _serve_and_curl(proc)
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
            raise
        assert proc.returncode in (0, 1), f"{command}: {example}\n{err}"
        assert "Traceback" not in err and "internal error" not in err, example
        if example.startswith(("tcpdump", "gzip")) or "-o -" in example:
            assert out.strip(), f"{example} printed nothing"
        if example.startswith("tcpdump"):
            assert '"cause": "client-cert-expired"' in out  # the connections made while it ran
        ran += 1
    assert ran >= sum(len(examples(help_text(c))) for c in COMMANDS)
    assert (tmp_path / "annotated.pcapng").exists() and (tmp_path / "connections.csv").exists()
    assert (tmp_path / "certs" / "index.json").exists()
