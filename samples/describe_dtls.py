"""MANIFEST.tsv of samples/dtls: what each capture was built to show (from make_dtls.sh) and what tshark
sees in it (never tlscap), without and with the key log beside it (`tshark_with_keylog`: the Finished
messages and alerts it decrypts). Usage: python3 describe_dtls.py samples/dtls PORT > samples/dtls/MANIFEST.tsv"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# case -> (client certificate given to s_client, the diagnosis the case was built to show)
BUILT = {
    "dtls12-success": ("client-alice + Capture Lab Client CA (listed, valid)", "ok"),
    "dtls12-expired-client-cert": ("client-markw + Capture Lab Client CA (expired 2025-01-01)", "client-cert-expired"),
    "dtls12-unlisted-ca": ("client-bob from Partner Root CA (not listed, not trusted)", "client-cert-wrong-ca"),
    "dtls12-no-client-cert": ("none", "client-cert-not-sent"),
    "dtls12-success-chacha20": ("client-alice + Capture Lab Client CA; -cipher ECDHE-RSA-CHACHA20-POLY1305", "ok"),
    "dtls12-success-cbc-sha384": ("client-alice + Capture Lab Client CA; -cipher ECDHE-RSA-AES256-SHA384 -no_etm",
                                  "ok"),
}


def tshark(pcap: Path, port: str, *fields: str, keylog: Path | None = None) -> list[list[str]]:
    args = ["tshark", "-2", "-r", str(pcap), "-d", f"udp.port=={port},dtls", "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=|"]
    if keylog is not None:
        args += ["-o", f"tls.keylog_file:{keylog}"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def with_keylog(pcap: Path, port: str, client_port: str) -> str:
    """What the key log opens, as tshark reads it: where each Finished completes, and every alert."""
    rows = tshark(pcap, port, "frame.number", "udp.srcport", "dtls.handshake.type", "dtls.handshake.fragment_offset",
                  "dtls.handshake.fragment_length", "dtls.handshake.length", "dtls.alert_message.desc",
                  keylog=pcap.with_suffix(".keylog"))
    out = []
    for frame, port_, types, offsets, lengths, totals, alerts in rows:
        who = "client" if port_ == client_port else "server"
        fragments = zip(types.split("|"), offsets.split("|"), lengths.split("|"), totals.split("|"), strict=False)
        for t, o, n, total in fragments:
            if t == "20" and o and int(o) + int(n) == int(total):
                out.append(f"frame {frame}: {who} Finished")
        out += [f"frame {frame}: {who} alert {d}" for d in alerts.split("|") if d]
    return ", ".join(out) or "-"


def main() -> None:
    folder, port = Path(sys.argv[1]), sys.argv[2]
    print("\t".join(["file", "built_to_show", "client_certificate_given", "server", "tshark_frames",
                     "tshark_version", "tshark_ca_names", "tshark_client_certificates", "tshark_alerts",
                     "tshark_cipher", "tshark_with_keylog"]))
    for case, (client, cause) in BUILT.items():
        pcap = folder / f"{case}.pcap"
        rows = tshark(pcap, port, "frame.number", "dtls.handshake.version", "dtls.handshake.dname_len",
                      "dtls.handshake.certificates_length", "dtls.alert_message.desc", "ip.src", "udp.srcport",
                      "dtls.handshake.ciphersuite")
        version = next((r[1].split("|")[-1] for r in rows if r[1]), "")
        ca_names = next((str(len(r[2].split("|"))) for r in rows if r[2]), "0")
        client_port = rows[0][6] if rows else ""
        client_certs = ",".join(f"frame {r[0]}: {r[3]} bytes" for r in rows if r[3] and r[6] == client_port)
        alerts = ",".join(f"frame {r[0]}: {r[4]}" for r in rows if r[4])
        cipher = next((r[7] for r in rows if r[7] and r[6] != client_port), "")
        print("\t".join([pcap.name, cause, client, "openssl s_server -dtls1_2 -Verify 2 -verify_return_error, "
                         "CAfile trust-root-and-client-ca.pem", str(len(rows)), version, ca_names,
                         client_certs or "-", alerts or "-", cipher, with_keylog(pcap, port, client_port)]))


if __name__ == "__main__":
    main()
