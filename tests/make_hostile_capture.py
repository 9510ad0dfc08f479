#!/usr/bin/env python3
"""Make tests/data/hostile-mtls.pcap: a real mutual-TLS 1.2 handshake whose strings are attacks on the reader.

Real software end to end: `openssl s_server -Verify 1 -WWW` on 127.0.0.1, `openssl s_client` sending a
client certificate and one HTTP request, `tcpdump -i lo` writing the capture, and the client's key log
(`-keylogfile`) kept beside it as hostile-mtls.keylog. The certificates are made here with `cryptography`
(which takes any string in a UTF8String):

- the client certificate's CN is `<script>alert(1)</script>`, its O holds an ANSI clear-screen sequence
  (ESC [2J ESC [H), its OU a right-to-left override (U+202E), its L a NUL, its SAN an HTML `<img>` with
  an onerror handler and an e-mail address with an ANSI colour; it expired yesterday, so tlscap has a
  finding to write about it (s_server without -verify_return_error goes on anyway);
- the CA (the CertificateRequest's CA name) is `<iframe src=javascript:alert(3)>` with ESC ]0; (terminal
  title) in its O;
- the SNI is a spreadsheet formula with HTML in it: `=HYPERLINK("http://evil.example","<b>x</b>")`;
- the HTTP page's <title> holds a script tag, an ANSI sequence and a bidi override.

Usage: python tests/make_hostile_capture.py [OUTPUT_DIR]   (default tests/data; needs root for tcpdump)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = Path(__file__).resolve().parent / "data"
NAME = "hostile-mtls"

CLIENT_CN = "<script>alert(1)</script>"
CLIENT_O = "Evil\x1b[2J\x1b[HCorp"
CLIENT_OU = "\u202egnp.exe"
CLIENT_L = "nul\x00byte"
CLIENT_SAN_DNS = "<img src=x onerror=alert(2)>.example"
CLIENT_SAN_EMAIL = "\x1b[31mred@evil.example"
CA_CN = "<iframe src=javascript:alert(3)>"
CA_O = "CA\x1b]0;pwned\x07Org"
SNI = '=HYPERLINK("http://evil.example","<b>x</b>")'
TITLE = "<script>alert(4)</script>\x1b[2J\u202eeltit"
PAGE = f"<html><head><title>{TITLE}</title></head><body>hi</body></html>\n"


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _pem(obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(folder: Path) -> None:
    """ca.pem, server.pem/.key, client.pem/.key in `folder`."""
    now = datetime.now(UTC).replace(microsecond=0)
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = _name((NameOID.COMMON_NAME, CA_CN), (NameOID.ORGANIZATION_NAME, CA_O))
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=30))
          .not_valid_after(now + timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(_name((NameOID.COMMON_NAME, "localhost"))).issuer_name(ca_name)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=3650))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    client_name = _name((NameOID.COMMON_NAME, CLIENT_CN), (NameOID.ORGANIZATION_NAME, CLIENT_O),
                        (NameOID.ORGANIZATIONAL_UNIT_NAME, CLIENT_OU), (NameOID.LOCALITY_NAME, CLIENT_L))
    client = (x509.CertificateBuilder().subject_name(client_name).issuer_name(ca_name)
              .public_key(client_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=400)).not_valid_after(now - timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName(CLIENT_SAN_DNS),
                                                          x509.RFC822Name(CLIENT_SAN_EMAIL)]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    for filename, obj in (("ca.pem", ca), ("server.pem", server), ("server.key", server_key),
                          ("client.pem", client), ("client.key", client_key)):
        (folder / filename).write_bytes(_pem(obj))
    (folder / "page.html").write_text(PAGE, encoding="utf-8")


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
    raise RuntimeError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    """Whether something listens on the port, asked of the kernel (a test connection would use up
    s_server's single accept)."""
    result = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False)
    return bool(result.stdout.strip())


def capture(folder: Path, pcap: Path, keylog: Path) -> None:
    """One s_client → s_server connection under tcpdump; the server and tcpdump are stopped by pid."""
    port = _free_port()
    errors = folder / "tcpdump.err"
    tcpdump = subprocess.Popen(
        ["tcpdump", "-n", "--immediate-mode", "-B", "16384", "-U", "-Z", "root", "-i", "lo", "-s", "0",
         "-w", str(pcap), f"tcp port {port}"], stderr=open(errors, "wb"), stdout=subprocess.DEVNULL)
    server = None
    try:
        _wait_for(lambda: b"listening on" in errors.read_bytes() or tcpdump.poll() is not None, "tcpdump")
        if tcpdump.poll() is not None:
            raise RuntimeError(f"tcpdump failed: {errors.read_text(errors='replace')}")
        time.sleep(0.5)
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-tls1_2", "-WWW",
             "-cert", "server.pem", "-key", "server.key", "-CAfile", "ca.pem", "-Verify", "1"],
            cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: _listening(port), "s_server")
        subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-servername", SNI,
             "-cert", "client.pem", "-key", "client.key", "-CAfile", "ca.pem", "-keylogfile", str(keylog),
             "-ign_eof", "-quiet"],
            cwd=folder, input=b"GET /page.html HTTP/1.0\r\n\r\n", stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=30, check=False)
        time.sleep(1.0)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=5)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)


def make(out: Path = OUT) -> tuple[Path, Path]:
    """Write <out>/hostile-mtls.pcap and .keylog; returns their paths."""
    for tool in ("openssl", "tcpdump"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is needed (make test installs it)")
    out.mkdir(parents=True, exist_ok=True)
    pcap, keylog = out / f"{NAME}.pcap", out / f"{NAME}.keylog"
    with tempfile.TemporaryDirectory(prefix="tlscap-hostile-") as work:
        folder = Path(work)
        make_pki(folder)
        work_pcap, work_keylog = folder / "capture.pcap", folder / "keys.log"
        capture(folder, work_pcap, work_keylog)
        shutil.copyfile(work_pcap, pcap)
        shutil.copyfile(work_keylog, keylog)
    return pcap, keylog


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("tcpdump on lo needs root", file=sys.stderr)
    for written in make(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(written, written.stat().st_size)
