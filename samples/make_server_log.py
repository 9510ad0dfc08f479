"""samples/server-log/: nginx and Apache httpd refusing client certificates over TLS 1.3, each capture with
the server's error log of the same run (no key log: the log is what tells the reasons).

Run as root (tcpdump, nginx, apache2): `python3 samples/make_server_log.py`. The clients, in this order and a
second apart: client-alice (a chain from the listed client CA), client-markw (expired), client-bob (a leaf
of the unlisted Partner Root CA), no certificate. Certificates from samples/pki. The logs are in UTC (the
machine's zone when they were made): give --log-utc-offset +00:00 elsewhere.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from live_servers import apache, curl, free_port, nginx, tcpdump  # noqa: E402

CLIENTS = ("alice", "markw", "bob", "none")


def main() -> None:
    out = HERE / "server-log"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, server in (("nginx", nginx), ("apache", apache)):
            port = free_port()
            pcap = out / f"{name}-tls13.pcap"
            with server(Path(tmp) / name, port, **({"protocols": "TLSv1.3"} if name == "nginx" else
                                                    {"protocols": "-all +TLSv1.3"})) as log:
                with tcpdump(pcap, port):
                    for client in CLIENTS:
                        curl(port, client, "1.3")
                        time.sleep(1.0)
            shutil.copyfile(log, out / f"{name}-error.log")
            pcap.with_suffix(".tcpdump.err").unlink(missing_ok=True)
            print(f"{pcap.relative_to(HERE.parent)}: {pcap.stat().st_size} bytes, log {name}-error.log")


if __name__ == "__main__":
    main()
