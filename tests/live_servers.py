"""Real servers on loopback for tests: nginx and Apache httpd asking for client certificates, tcpdump
capturing their port, curl as the client. Certificates come from samples/pki (samples/README.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

PKI = Path(__file__).resolve().parents[1] / "samples" / "pki"
APACHE_MODULES = Path("/usr/lib/apache2/modules")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, what: str, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up within {seconds} s")
        time.sleep(0.05)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def nginx(workdir: Path, port: int, protocols: str = "TLSv1.2 TLSv1.3") -> Iterator[Path]:
    """nginx with `ssl_verify_client on` and `error_log … info`; yields the error log's path."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "error.log"
    conf = workdir / "nginx.conf"
    conf.write_text(f"""daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log {log} info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {PKI}/server.pem;
        ssl_certificate_key {PKI}/server.key;
        ssl_protocols {protocols};
        ssl_verify_client on;
        ssl_client_certificate {PKI}/trust-root-and-client-ca.pem;
        ssl_verify_depth 3;
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: listening(port) or proc.poll() is not None, "nginx")
        assert proc.poll() is None, log.read_text() if log.exists() else "nginx exited"
        yield log
    finally:
        _stop(proc, signal.SIGQUIT)


@contextlib.contextmanager
def apache(workdir: Path, port: int, protocols: str = "-all +TLSv1.2 +TLSv1.3") -> Iterator[Path]:
    """Apache httpd with mod_ssl, `SSLVerifyClient require` and `LogLevel ssl:info`; yields the error log."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    docs = workdir / "htdocs"
    docs.mkdir(exist_ok=True)
    (docs / "index.html").write_text("ok\n")
    log = workdir / "error.log"
    conf = workdir / "httpd.conf"
    m = APACHE_MODULES
    conf.write_text(f"""ServerRoot {workdir}
ServerName localhost
Listen 127.0.0.1:{port} https
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule socache_shmcb_module {m}/mod_socache_shmcb.so
LoadModule ssl_module {m}/mod_ssl.so
User www-data
Group www-data
PidFile {workdir}/httpd.pid
DefaultRuntimeDir {workdir}
Mutex file:{workdir} default
ErrorLog {log}
LogLevel warn ssl:info
DocumentRoot {docs}
<Directory {docs}>
    Require all granted
</Directory>
SSLSessionCache shmcb:{workdir}/ssl_scache(512000)
<VirtualHost 127.0.0.1:{port}>
    SSLEngine on
    SSLProtocol {protocols}
    SSLCertificateFile {PKI}/server.pem
    SSLCertificateKeyFile {PKI}/server.key
    SSLVerifyClient require
    SSLVerifyDepth 3
    SSLCACertificateFile {PKI}/trust-root-and-client-ca.pem
</VirtualHost>
""")
    proc = subprocess.Popen(["apache2", "-X", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: listening(port) or proc.poll() is not None, "apache2")
        assert proc.poll() is None, log.read_text() if log.exists() else "apache2 exited"
        yield log
    finally:
        _stop(proc)


@contextlib.contextmanager
def tcpdump(pcap: Path, port: int) -> Iterator[None]:
    """tcpdump -U on loopback for one port, stopped (and flushed) on leaving."""
    errors = pcap.with_suffix(".tcpdump.err")
    with errors.open("wb") as err:
        proc = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-s", "0", "-U", "-w", str(pcap), f"tcp port {port}"],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: b"listening on" in errors.read_bytes() or proc.poll() is not None, "tcpdump")
        assert proc.poll() is None, errors.read_text()
        yield
        time.sleep(0.3)  # the last segments reach the capture
    finally:
        _stop(proc, signal.SIGINT)


# curl's certificate options for the clients of samples/pki.
CLIENTS = {
    "alice": ["--cert", str(PKI / "client-alice-chain.pem"), "--key", str(PKI / "client-alice.key")],
    "markw": ["--cert", str(PKI / "client-markw-chain.pem"), "--key", str(PKI / "client-markw.key")],
    "bob": ["--cert", str(PKI / "client-bob.pem"), "--key", str(PKI / "client-bob.key")],
    "none": [],
}


def curl(port: int, client: str, tls: str) -> None:
    """One HTTPS request from curl with the client's certificate, pinned to TLS 1.2 or 1.3."""
    versions = ["--tlsv1.2", "--tls-max", "1.2"] if tls == "1.2" else ["--tlsv1.3"]
    subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", "--http1.1",
                    "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", str(PKI / "root-ca.pem"), *versions,
                    *CLIENTS[client], f"https://localhost:{port}/"],
                   capture_output=True, check=False)
    time.sleep(0.2)  # the server writes its log line and closes before the next client


def have(*programs: str) -> bool:
    return all(shutil.which(p) for p in programs)
