"""Verify the sample captures with tshark and write samples/README.md.

For every capture under the samples folder this runs tshark (with the key log
that lies beside it), reads per TCP stream the frames that carry the
CertificateRequest, the client's Certificate, alerts and the HTTP response,
checks them against what the scenario must show, and writes the README table
from what tshark reported. Exit status 1 when a capture does not show what it
should.

Usage: describe_samples.py SAMPLES_DIR [--readme FILE] [--ports P1,P2,...]
"""

# ruff: noqa: E501  -- the scenario descriptions and the README template are long prose/table lines.
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    48: "unknown_ca",
    51: "decrypt_error",
    70: "protocol_version",
    80: "internal_error",
    90: "user_canceled",
    116: "certificate_required",
}
VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
LEVELS = {1: "warning", 2: "fatal"}
FIELDS = [
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tls.record.version",
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.certificates_length",
    "tls.handshake.certificate_length",
    "tls.alert_message.level",
    "tls.alert_message.desc",
    "tls.record.content_type",
    "http.response.code",
    "http.file_data",
]

CERT_ERROR = "400 The SSL certificate error"
NO_CERT = "400 No required SSL certificate was sent"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    """What one TCP stream of a scenario must show (None: not checked)."""

    chain: int | None = None  # client certificates sent; 0 = empty Certificate
    http: int | None = None  # HTTP status seen after decryption
    title: str | None = None  # nginx error page title
    alert: str | None = None  # fatal alert from the server
    truncated: bool = False  # frames cut by the snap length


@dataclass(slots=True, kw_only=True)
class Stream:
    """What tshark showed for one TCP stream."""

    index: int
    server_port: int | None = None
    first_frame: int = 0
    version: str = ""
    cert_request: list[int] = field(default_factory=list)
    client_cert: list[tuple[int, int]] = field(default_factory=list)  # (frame, number of certs)
    alerts: list[tuple[int, str, str]] = field(default_factory=list)  # (frame, from, "fatal unknown_ca")
    http: list[tuple[int, int, str]] = field(default_factory=list)  # (frame, status, title)
    truncated: list[int] = field(default_factory=list)
    closed: bool = False  # a FIN or RST was captured


def scenario_table() -> dict[str, tuple[str, list[Expect]]]:
    """File name → (what it shows, expectations per stream in order)."""
    table: dict[str, tuple[str, list[Expect]]] = {}
    for v, label in (("tls12", "TLS 1.2"), ("tls13", "TLS 1.3")):
        table |= {
            f"{v}-success.pcap": (
                f"nginx+curl {label}: client-alice sends leaf+intermediate; server lists root+intermediate → 200",
                [Expect(chain=2, http=200)],
            ),
            f"{v}-expired-client-cert.pcap": (
                f"nginx+curl {label}: client-markw (expired 2025-01-01) + intermediate → nginx completes the handshake, answers 400",
                [Expect(chain=2, http=400, title=CERT_ERROR)],
            ),
            f"{v}-unlisted-ca.pcap": (
                f"nginx+curl {label}: client-bob from Partner Root CA (not listed) → 400",
                [Expect(chain=1, http=400, title=CERT_ERROR)],
            ),
            f"{v}-no-client-cert.pcap": (
                f"nginx+curl {label}: client sends an empty Certificate → 400",
                [Expect(chain=0, http=400, title=NO_CERT)],
            ),
            f"{v}-missing-intermediate.pcap": (
                f"nginx+curl {label}: server trusts/lists root only (depth 2); client-alice sends leaf alone → 400",
                [Expect(chain=1, http=400, title=CERT_ERROR)],
            ),
            f"{v}-full-chain.pcap": (
                f"nginx+curl {label}: as missing-intermediate, but leaf+intermediate sent → 200",
                [Expect(chain=2, http=200)],
            ),
            f"{v}-alert-expired-client-cert.pcap": (
                f"openssl s_server -Verify 2 -verify_return_error / s_client {label}: expired client-markw → fatal alert",
                [Expect(chain=2, alert="certificate_expired")],
            ),
            f"{v}-alert-unlisted-ca.pcap": (
                f"openssl s_server/s_client {label}: client-bob (Partner CA) → fatal alert",
                [Expect(chain=1, alert="unknown_ca")],
            ),
            f"{v}-alert-no-client-cert.pcap": (
                f"openssl s_server/s_client {label}: no client certificate → fatal alert",
                [Expect(chain=0, alert="handshake_failure" if v == "tls12" else "certificate_required")],
            ),
            f"{v}-alert-missing-intermediate.pcap": (
                f"openssl s_server/s_client {label}: server trusts root only, client-alice leaf alone → fatal alert",
                [Expect(chain=1, alert="unknown_ca")],
            ),
        }
    table |= {
        "tls12-expired-client-cert-any.pcap": (
            "as tls12-expired-client-cert, captured with `tcpdump -i any -y LINUX_SLL2` (Linux cooked v2)",
            [Expect(chain=2, http=400, title=CERT_ERROR)],
        ),
        "tls12-expired-client-cert-any-sll.pcap": (
            "as tls12-expired-client-cert, captured with `tcpdump -i any -y LINUX_SLL` (Linux cooked v1)",
            [Expect(chain=2, http=400, title=CERT_ERROR)],
        ),
        "snaplen-truncated.pcap": (
            "as tls12-expired-client-cert, captured with `tcpdump -s 200`: handshake frames cut",
            [Expect(truncated=True)],
        ),
        "multi-connection.pcap": (
            "nginx+curl TLS 1.2, four connections: success, expired, unlisted CA, no certificate",
            [
                Expect(chain=2, http=200),
                Expect(chain=2, http=400, title=CERT_ERROR),
                Expect(chain=1, http=400, title=CERT_ERROR),
                Expect(chain=0, http=400, title=NO_CERT),
            ],
        ),
        "stale-truststore/stale-truststore.pcap": (
            "nginx loaded bundle-A (Capture Lab root); file replaced by bundle-AB without reload; client-bob (Partner CA) → 400, CA list still root only",
            [Expect(chain=1, http=400, title=CERT_ERROR)],
        ),
        "stale-truststore/stale-truststore-reloaded.pcap": (
            "same nginx after `nginx -s reload`: CA list root + Partner Root CA; client-bob → 200",
            [Expect(chain=1, http=200)],
        ),
    }
    return table


def ints(value: str) -> list[int]:
    """tshark's comma-joined numeric field → ints (hex allowed)."""
    return [int(x, 0) for x in value.split(",") if x]


def run_tshark(capture: Path, ports: list[int]) -> list[dict[str, str]]:
    """One dict of the FIELDS per frame."""
    cmd = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]
    for port in ports:
        cmd += ["-d", f"tcp.port=={port},tls"]
    keylog = capture.with_suffix(".keylog")
    if keylog.exists():
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def streams_of(rows: list[dict[str, str]]) -> list[Stream]:
    """Group the frames by tcp.stream and pick out the key frames."""
    streams: dict[int, Stream] = {}
    for row in rows:
        if not row["tcp.stream"]:
            continue
        s = streams.setdefault(int(row["tcp.stream"]), Stream(index=int(row["tcp.stream"])))
        frame = int(row["frame.number"])
        s.first_frame = s.first_frame or frame
        if row["tcp.flags.syn"] in ("1", "True") and row["tcp.flags.ack"] in ("0", "False"):
            s.server_port = int(row["tcp.dstport"])
        if row["tcp.flags.fin"] in ("1", "True") or row["tcp.flags.reset"] in ("1", "True"):
            s.closed = True
        if int(row["frame.cap_len"]) < int(row["frame.len"]):
            s.truncated.append(frame)
        from_server = s.server_port is not None and int(row["tcp.srcport"]) == s.server_port
        types = ints(row["tls.handshake.type"])
        if 13 in types:
            s.cert_request.append(frame)
        if 2 in types and from_server and not s.version:
            # The ServerHello's supported_versions extension says TLS 1.3; otherwise its version field.
            chosen = (
                ints(row["tls.handshake.extensions.supported_version"])
                or ints(row["tls.handshake.version"])[:1]
            )
            s.version = VERSIONS.get(chosen[0], "?") if chosen else "?"
        if 11 in types and not from_server:
            s.client_cert.append((frame, len(ints(row["tls.handshake.certificate_length"]))))
        levels, descs = ints(row["tls.alert_message.level"]), ints(row["tls.alert_message.desc"])
        for level, desc in zip(levels, descs, strict=False):
            s.alerts.append(
                (
                    frame,
                    "server" if from_server else "client",
                    f"{LEVELS.get(level, level)} {ALERTS.get(desc, f'unknown({desc})')}",
                )
            )
        undecrypted = ints(row["tls.record.content_type"]).count(21) - len(descs)
        for _ in range(max(0, undecrypted)):
            s.alerts.append((frame, "server" if from_server else "client", "encrypted"))
        for code in ints(row["http.response.code"]):
            m = re.search(r"<title>([^<]*)</title>", row["http.file_data"])
            s.http.append((frame, code, m.group(1) if m else ""))
    return [streams[k] for k in sorted(streams)]


def check(name: str, streams: list[Stream], expects: list[Expect]) -> list[str]:
    """Problems found (empty: the capture shows what it should)."""
    problems: list[str] = []
    if len(streams) != len(expects):
        return [f"{name}: {len(streams)} TCP streams, expected {len(expects)}"]
    for s, e in zip(streams, expects, strict=True):
        where = f"{name} stream {s.index}"
        if not s.closed:
            problems.append(f"{where}: no FIN/RST captured (capture stopped too early?)")
        if e.truncated:
            if not s.truncated:
                problems.append(f"{where}: no truncated frames")
            continue
        if not s.cert_request:
            problems.append(f"{where}: no CertificateRequest")
        if e.chain is not None and [c for _, c in s.client_cert] != [e.chain]:
            problems.append(f"{where}: client Certificate {s.client_cert}, expected {e.chain} cert(s)")
        if e.http is not None and [h for _, h, _ in s.http] != [e.http]:
            problems.append(f"{where}: HTTP {s.http}, expected {e.http}")
        if e.title is not None and (not s.http or s.http[0][2] != e.title):
            problems.append(f"{where}: page title {s.http}, expected {e.title!r}")
        if e.alert is not None and not any(
            d == f"fatal {e.alert}" and who == "server" for _, who, d in s.alerts
        ):
            problems.append(f"{where}: alerts {s.alerts}, expected fatal {e.alert} from the server")
    return problems


def fmt_stream(s: Stream) -> list[str]:
    """Cells: CertificateRequest, client Certificate, alerts, HTTP."""
    cr = ", ".join(str(f) for f in s.cert_request) or "—"
    cc = (
        ", ".join(
            f"{f} ({'empty' if n == 0 else f'{n} cert' + ('s' if n > 1 else '')})" for f, n in s.client_cert
        )
        or "—"
    )
    al = "; ".join(f"{f} {who}: {d}" for f, who, d in s.alerts) or "—"
    ht = "; ".join(f"{f}: {c}" + (f" “{t}”" if t else "") for f, c, t in s.http) or "—"
    if s.truncated:
        ht += f" (frames cut by snaplen: {', '.join(map(str, s.truncated))})"
    return [cr, cc, al, ht]


def link_type(capture: Path) -> str:
    """The file's encapsulation as capinfos names it."""
    out = subprocess.run(["capinfos", "-E", "-T", "-r", str(capture)], capture_output=True, text=True).stdout
    return out.strip().split("\t")[-1] if out.strip() else "?"


def versions() -> list[str]:
    """Versions of the software that made and verified the captures."""

    def first(cmd: list[str], needle: str = "") -> str:
        if not shutil.which(cmd[0]):
            return "not installed"
        r = subprocess.run(cmd, capture_output=True, text=True)
        lines = (r.stdout + r.stderr).strip().splitlines()
        wanted = [ln for ln in lines if needle in ln] if needle else lines
        return (wanted or ["?"])[0].strip()

    import cryptography

    kernel = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    return [
        f"nginx: {first(['nginx', '-v'], 'version')}",
        f"curl: {first(['curl', '--version'])}",
        f"openssl: {first(['openssl', 'version'])}",
        f"tcpdump: {first(['tcpdump', '--version'])}",
        f"libpcap: {first(['tcpdump', '--version'], 'libpcap')}",
        f"tshark (verification): {first(['tshark', '--version'])}",
        f"python cryptography (PKI): {cryptography.__version__}",
        f"kernel: {kernel}",
    ]


def main() -> int:
    """Verify every capture, print problems, write the README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path)
    parser.add_argument("--readme", type=Path)
    parser.add_argument("--ports", default="18443,18444,18445")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",") if p]
    table = scenario_table()
    rows: list[str] = []
    problems: list[str] = []
    # verdict/ is the verdict set's: describe_verdict.py checks it and writes its own README section.
    found = sorted(
        str(p.relative_to(args.samples))
        for p in args.samples.rglob("*.pcap")
        if p.relative_to(args.samples).parts[0] != "verdict"
    )
    order = list(table) + sorted(set(found) - set(table))
    for name in order:
        path = args.samples / name
        if name not in found:
            problems.append(f"{name}: missing")
            continue
        what, expects = table.get(name, ("(not described)", []))
        streams = streams_of(run_tshark(path, ports))
        problems += check(name, streams, expects) if expects else []
        keylog = path.with_suffix(".keylog")
        size = f"{path.stat().st_size:,} B"
        for i, s in enumerate(streams):
            label = f"`{name}`" if i == 0 else f"″ stream {s.index}"
            meta = f"{link_type(path)}, {s.version or '?'}, {size}" if i == 0 else s.version
            kl = f"`{keylog.name}`" if i == 0 and keylog.exists() else ""
            rows.append("| " + " | ".join([label, what if i == 0 else "", meta, kl, *fmt_stream(s)]) + " |")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    if args.readme:
        args.readme.write_text(render_readme(rows, versions()), encoding="utf-8")
    print(f"{len(found)} captures checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def render_readme(rows: list[str], software: list[str]) -> str:
    """The README text around the generated table."""
    head = "| file | what it shows | link type, TLS, size | key log | CertificateRequest frame | client Certificate frame | alert frames | HTTP response (decrypted) |\n|---|---|---|---|---|---|---|---|\n"
    return README_TEMPLATE.format(
        table=head + "\n".join(rows), software="\n".join(f"- {s}" for s in software)
    )


README_TEMPLATE = """# tlscap sample captures

Real mutual-TLS connections between real software on loopback (127.0.0.1), captured with
tcpdump. They are the inputs of tlscap's tests and of `make demo`
(`tls12-expired-client-cert.pcap`).

**Everything under `pki/` and `stale-truststore/*.pem` is test material**: throw-away
certificates and *unencrypted private keys* made by `make_pki.py` for these captures only.
Never trust them anywhere. The `.keylog` files are NSS key logs (SSLKEYLOGFILE format)
for the captures of the same basename; they decrypt those captures and nothing else.

## Regenerate

```
make samples            # = bash samples/make_samples.sh (as root: tcpdump, nginx)
```

`make_samples.sh` deletes the previous captures, key logs, `pki/` and `stale-truststore/`,
builds a new PKI (`make_pki.py`, Python `cryptography`, so that certificates can be dated
in the past), runs each scenario under its own `tcpdump -U -i lo -s 0 'tcp port N'`
(ports 18443 nginx, 18444 openssl s_server, 18445 stale-truststore nginx; override with
`PORT_NGINX`, `PORT_SSERVER`, `PORT_STALE`), stops every server and tcpdump it started,
then runs `describe_samples.py`, which checks each capture with tshark and rewrites this
file. Each capture is retried (up to 3 times) when tcpdump dropped or lost a packet.
Regenerating makes new keys, so every certificate fingerprint, random and frame time
changes. TLS 1.2 frame numbers normally stay the same; in the TLS 1.3 nginx captures the
order of nginx's NewSessionTickets and curl's request depends on timing, so their frame
numbers can shift. Golden outputs built on these captures must be regenerated with them.

## PKI (`pki/`)

| file | subject | issuer | validity | notes |
|---|---|---|---|---|
| `root-ca.pem` | CN=Capture Lab Root CA,O=Capture Lab,C=US | self | 2023-01-01 … 2038-01-01 | RSA 2048 |
| `client-ca.pem` | CN=Capture Lab Client CA,O=Capture Lab,C=US | Capture Lab Root CA | 2023-01-01 … 2038-01-01 | intermediate, pathlen 0 |
| `partner-root-ca.pem` | CN=Partner Root CA,O=Partner Inc,C=US | self | 2023-01-01 … 2038-01-01 | unrelated CA |
| `server.pem` | CN=localhost,O=Capture Lab,C=US | Capture Lab Root CA | 2025-06-01 … 2036-06-01 | SAN DNS:localhost, IP:127.0.0.1; serverAuth |
| `client-alice.pem` | CN=client-alice,O=Capture Lab,C=US | Capture Lab Client CA | 2025-06-01 … 2036-06-01 | **EC P-256**, clientAuth; `client-alice-chain.pem` = leaf + intermediate |
| `client-markw.pem` | CN=client-markw,O=Capture Lab,C=US | Capture Lab Client CA | **2024-01-01 … 2025-01-01** (expired) | RSA 2048, clientAuth; `client-markw-chain.pem` = leaf + intermediate |
| `client-bob.pem` | CN=client-bob,O=Partner Inc,C=US | Partner Root CA | 2025-06-01 … 2036-06-01 | RSA 2048, clientAuth |
| `client-carol.pem` | CN=client-carol,O=Capture Lab,C=US | Capture Lab Root CA | 2025-06-01 … 2036-06-01 | leaf issued directly by the root (not used in a capture yet) |

Each `.pem` has its `.key` (PKCS#8, unencrypted). Truststores: `trust-root-and-client-ca.pem`
(root + intermediate: nginx `ssl_client_certificate` for success/expired/unlisted/no-cert,
so the CertificateRequest lists both names), `trust-root-only.pem` (missing-intermediate /
full-chain, `ssl_verify_depth 2`), `trust-root-and-partner.pem` (= `stale-truststore/bundle-AB.pem`).

## Captures

Frame numbers are tshark's (1-based). "client Certificate" counts the certificates in the
client's Certificate message; "empty" is a Certificate message with no certificate.
The TLS 1.3 columns are what tshark shows **with** the key log
(`tshark -r F.pcap -o tls.keylog_file:F.keylog`); without it the CertificateRequest, the
client Certificate, alerts and HTTP are encrypted and invisible.

{table}

Verify one by hand, e.g.:

```
tshark -r tls13-expired-client-cert.pcap -o tls.keylog_file:tls13-expired-client-cert.keylog \\
  -Y 'tls.handshake.type==13 or tls.handshake.type==11 or tls.alert_message or http.response' \\
  -T fields -e frame.number -e tcp.srcport -e tls.handshake.type -e tls.alert_message.desc -e http.response.code
```

(tshark finds TLS on these ports by its heuristics; add `-d tcp.port==18443,tls` if yours does not.)

## Behaviours worth knowing (seen in these captures)

- **nginx never sends a TLS alert for a bad client certificate.** With `ssl_verify_client on`
  its verify callback accepts everything; it completes the handshake, reads the request, and
  answers `400 Bad Request` with the page title "400 The SSL certificate error" (expired,
  unknown CA, missing intermediate) or "400 No required SSL certificate was sent" (empty
  Certificate), then sends close_notify and closes. The reason is only in nginx's error log
  (e.g. `client SSL certificate verify error: (10:certificate has expired)`,
  `(21:unable to verify the first certificate)` for both the unlisted CA and the missing
  intermediate). So the failure is only visible by decrypting the HTTP response (key log)
  or by inspecting the certificates themselves — which is what tlscap does.
- **openssl s_server `-Verify 2 -verify_return_error`** refuses with a real fatal alert right
  after the client's flight: certificate_expired (45), unknown_ca (48; also for the missing
  intermediate), and for no certificate handshake_failure (40) in TLS 1.2 or
  certificate_required (116) in TLS 1.3. In TLS 1.2 the alert is plaintext; in TLS 1.3 it is
  encrypted (readable with the key log). s_server also sends the root after its own leaf
  (it builds the chain from `-CAfile`), nginx sends the leaf only.
- **TLS 1.3:** the CertificateRequest travels encrypted in the server's first flight
  (after EncryptedExtensions, before the server's Certificate); the client's Certificate,
  CertificateVerify and Finished are sent encrypted *after* the server's Finished, so the
  server judges the certificate only after it has finished its side of the handshake. nginx
  sends two NewSessionTicket messages right after the client's Finished, even when it will
  answer 400; whether they come before or after curl's request depends on timing (see the
  frame numbers). openssl s_client sends its request before the server's alert arrives, so
  the TLS 1.3 alert captures hold a (decryptable) GET followed by the fatal alert, whereas in
  TLS 1.2 the alert comes before the client could send anything.
- In TLS 1.2 the whole client flight (Certificate, ClientKeyExchange, CertificateVerify,
  ChangeCipherSpec, Finished) is one loopback segment, and so is the server's first flight;
  loopback's 64 KiB MTU means no handshake message spans frames in these captures.
- `tcpdump -i any` on loopback recorded each packet once (same 15 frames as with `-i lo`).
  tcpdump 4.99.3 / libpcap 1.10.3 write LINUX_SLL2 (link type 276) for `-i any` by default;
  `-y LINUX_SLL` gives cooked v1 (113). The script passes `-y` explicitly for both.
- The stale-truststore pair: nginx reads `ssl_client_certificate` only at start and reload, so
  after the file was replaced by A+B it still listed and trusted only A (400 for client-bob);
  after `nginx -s reload` the CertificateRequest lists both CAs and client-bob gets 200.
  `stale-truststore/bundle-A.pem` is what nginx had loaded, `bundle-AB.pem` what was on disk.

## Renegotiation

`tls12-renegotiation-client-cert.pcap`: openssl s_server asks for no certificate in the first
handshake, then renegotiates and asks for one (its interactive `R` command, as Apache does for a
protected directory); s_client answers with client-markw (expired) + intermediate. The second
handshake is encrypted: with `tls12-renegotiation-client-cert.keylog`, tshark and tlscap show its
CertificateRequest (frame 15) and the client's Certificate (frame 16); without it, only encrypted
handshake records.

## Post-handshake authentication

`tls13-post-handshake-auth.pcap`: a TLS 1.3 handshake without a certificate request; then openssl
s_server sends a CertificateRequest after the handshake (its interactive `c` command) and s_client
(`-enable_pha`) answers with client-markw (expired) + intermediate. With
`tls13-post-handshake-auth.keylog`: the CertificateRequest in frame 13 and the client's Certificate in
frame 14.

## Key log inside the capture

`tls13-expired-client-cert-dsb.pcapng` is `tls13-expired-client-cert.pcap` with its key log embedded
as a pcapng Decryption Secrets Block (`editcap --inject-secrets tls,KEYLOG in.pcap out.pcapng`, the
last step of `make_samples.sh`): tshark and tlscap decrypt it with no `--keylog`.

## Software used

{software}
"""


if __name__ == "__main__":
    sys.exit(main())
