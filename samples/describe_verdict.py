"""Verify the verdict samples (samples/verdict/) with tshark; write MANIFEST.tsv and README's verdict section.

Each capture under samples/verdict/ was made to show one cause of a failed mutual-TLS
handshake. This reads every capture with tshark (and the key log beside it), per TCP
stream: the CertificateRequest and the CA names it lists, the client's Certificate
(how many certificates), the alerts, the decrypted HTTP response; checks them against
what the scenario must show, and writes:

- verdict/MANIFEST.tsv, one row per connection (frames are tshark's, 1-based);
- the "Verdict samples" section of samples/README.md (between its two marker comments;
  appended when missing), with the PKI table read from verdict/pki/.

--reasons DIR holds one NAME.txt per capture with what the server said (nginx's error-log
lines in connection order, or s_server's verify error), written by make_samples.sh. Without
it, the reasons are taken from the MANIFEST.tsv already there.

Exit status 1 when a capture does not show what it should.

Usage: describe_verdict.py VERDICT_DIR [--reasons DIR] [--ports P1,P2,...] [--readme FILE]
"""

# ruff: noqa: E501  -- scenario descriptions and README prose are long table lines.
from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from describe_samples import CERT_ERROR, NO_CERT, Stream, link_type, run_tshark, streams_of

BEGIN = "<!-- verdict samples: written by describe_verdict.py -->"
END = "<!-- end of verdict samples -->"
HEADING = "## Verdict samples (`verdict/`)"
COLUMNS = [
    "file",
    "server",
    "tls",
    "built_to_show",
    "truststore_configured",
    "server_log_reason",
    "cert_request_frame",
    "client_cert_frame",
    "client_chain_len",
    "alert_frames",
    "http_frame",
    "http_status",
]

ROOT = "CN=Example Root CA,O=Example Corp,C=US"
CLIENT_CA = "CN=Example Client CA,O=Example Corp,C=US"
G1 = "CN=Example Client CA G1,O=Example Corp,C=US"
REKEYED = "CA re-issued with the same name and a new key"
# What nginx logs for a leaf sent alone whose issuer it cannot find (foreign CA, missing intermediate,
# re-keyed CA, CA not loaded): one line for four causes.
UNABLE_21 = "client SSL certificate verify error: (21:unable to verify the first certificate)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Conn:
    """What one connection (TCP stream) must show."""

    shows: str  # built_to_show
    chain: int  # certificates in the client's Certificate; 0 = empty
    http: int | None = None  # decrypted HTTP status (nginx)
    title: str | None = None  # nginx's error page title
    alert: str | None = None  # fatal alert from the server (s_server)
    reason: str | None = None  # text the server's log line must contain


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One capture of the verdict set."""

    server: str  # nginx | s_server
    tls: str  # 1.2 | 1.3
    what: str
    truststore: str  # configured truststore, relative to verdict/
    ca_names: tuple[str, ...]  # the CertificateRequest's CA names, in order
    conns: tuple[Conn, ...]


def scenario_table() -> dict[str, Scenario]:
    """File name → scenario, in README order."""
    both = "pki/trust-root-and-client-ca.pem"
    root_only = "pki/trust-root-only.pem"
    verify_error = "client SSL certificate verify error: "
    table: dict[str, Scenario] = {}
    for tls in ("1.2", "1.3"):
        v = f"tls{tls.replace('.', '')}"

        def nginx(
            what: str, *conns: Conn, truststore: str = both, names: tuple[str, ...] = (ROOT, CLIENT_CA), tls: str = tls
        ) -> Scenario:
            return Scenario(server="nginx", tls=tls, what=what, truststore=truststore, ca_names=names, conns=conns)

        def sserver(what: str, conn: Conn, tls: str = tls) -> Scenario:
            return Scenario(
                server="s_server", tls=tls, what=what, truststore=both, ca_names=(ROOT, CLIENT_CA), conns=(conn,)
            )

        table |= {
            f"{v}-success.pcap": nginx(
                "nginx trusts root + client-ca; client-ok sends leaf + client-ca → 200",
                Conn(shows="ok", chain=2, http=200),
            ),
            f"{v}-expired.pcap": nginx(
                "client-expired (2024-01-01 … 2025-01-01) + client-ca → 400",
                Conn(
                    shows="client-cert-expired",
                    chain=2,
                    http=400,
                    title=CERT_ERROR,
                    reason=verify_error + "(10:certificate has expired)",
                ),
            ),
            f"{v}-not-yet-valid.pcap": nginx(
                "client-future (valid from 2030-01-01) + client-ca → 400",
                Conn(
                    shows="client-cert-not-yet-valid",
                    chain=2,
                    http=400,
                    title=CERT_ERROR,
                    reason=verify_error + "(9:certificate is not yet valid)",
                ),
            ),
            f"{v}-wrong-usage.pcap": nginx(
                "client-serverauth (EKU serverAuth only) + client-ca → 400",
                Conn(
                    shows="client-cert-wrong-usage",
                    chain=2,
                    http=400,
                    title=CERT_ERROR,
                    reason=verify_error + "(26:unsuitable certificate purpose)",
                ),
            ),
            f"{v}-no-cert.pcap": nginx(
                "curl sends no certificate (empty Certificate) → 400",
                Conn(
                    shows="client-cert-not-sent",
                    chain=0,
                    http=400,
                    title=NO_CERT,
                    reason="client sent no required SSL certificate",
                ),
            ),
            f"{v}-foreign-ca.pcap": nginx(
                "client-foreign (issued by Foreign Root CA, O=Other Inc; leaf only) → 400",
                Conn(shows="client-cert-wrong-ca", chain=1, http=400, title=CERT_ERROR, reason=UNABLE_21),
            ),
            f"{v}-missing-intermediate.pcap": nginx(
                "nginx trusts and lists the root only (depth 2); client-dave sends its leaf without client-ca → 400",
                Conn(shows="client-chain-incomplete", chain=1, http=400, title=CERT_ERROR, reason=UNABLE_21),
                truststore=root_only,
                names=(ROOT,),
            ),
            f"{v}-rekeyed-ca.pcap": nginx(
                "nginx trusts the OLD client-ca; client-rekeyed (leaf only) is signed by client-ca-rekeyed: same name, new key → 400",
                Conn(shows=REKEYED, chain=1, http=400, title=CERT_ERROR, reason=UNABLE_21),
            ),
            f"{v}-stale-truststore.pcap": nginx(
                "nginx loaded trust-g1.pem; the file was replaced by trust-g1-g2.pem without reload; client-g2 (leaf only) → 400, CA list still G1 only",
                Conn(shows="server-ca-not-loaded", chain=1, http=400, title=CERT_ERROR, reason=UNABLE_21),
                truststore="pki/trust-g1-g2.pem",
                names=(G1,),
            ),
            f"{v}-multi-connection.pcap": nginx(
                "nginx trusts the root only (depth 2), two connections: client-ok with leaf + client-ca → 200, then client-dave leaf only → 400",
                Conn(shows="ok", chain=2, http=200),
                Conn(shows="client-chain-incomplete", chain=1, http=400, title=CERT_ERROR, reason=UNABLE_21),
                truststore=root_only,
                names=(ROOT,),
            ),
            f"{v}-alert-foreign-ca.pcap": sserver(
                "openssl s_server -Verify 2 -verify_return_error, trusts root + client-ca; client-foreign (leaf only) → fatal alert",
                Conn(
                    shows="client-cert-wrong-ca",
                    chain=1,
                    alert="unknown_ca",
                    reason="s_server: verify error:num=20:unable to get local issuer certificate",
                ),
            ),
            f"{v}-alert-wrong-usage.pcap": sserver(
                "openssl s_server; client-serverauth (serverAuth only) + client-ca → fatal alert",
                Conn(
                    shows="client-cert-wrong-usage",
                    chain=2,
                    alert="unsupported_certificate",
                    reason="s_server: verify error:num=26:unsuitable certificate purpose",
                ),
            ),
            f"{v}-alert-not-yet-valid.pcap": sserver(
                "openssl s_server; client-future (valid from 2030-01-01) + client-ca → fatal alert",
                Conn(
                    shows="client-cert-not-yet-valid",
                    chain=2,
                    alert="bad_certificate",
                    reason="s_server: verify error:num=9:certificate is not yet valid",
                ),
            ),
        }
    order = [
        "success", "expired", "not-yet-valid", "wrong-usage", "no-cert", "foreign-ca", "missing-intermediate",
        "rekeyed-ca", "stale-truststore", "multi-connection", "alert-foreign-ca", "alert-wrong-usage", "alert-not-yet-valid",
    ]  # fmt: skip
    return {f"{v}-{n}.pcap": table[f"{v}-{n}.pcap"] for n in order for v in ("tls12", "tls13")}


# ----------------------------------------------------------------------------- tshark
def ca_names_by_frame(capture: Path, ports: list[int]) -> dict[int, list[str]]:
    """Frame → the CA names its CertificateRequest lists (tshark's decode, as CN=…,O=…,C=…)."""
    cmd = ["tshark", "-n", "-r", str(capture), "-Y", "tls.handshake.type==13", "-T", "pdml"]
    for port in ports:
        cmd += ["-d", f"tcp.port=={port},tls"]
    keylog = capture.with_suffix(".keylog")
    if keylog.exists():
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    pdml = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    short = {"id-at-commonName": "CN", "id-at-organizationName": "O", "id-at-countryName": "C"}
    names: dict[int, list[str]] = {}
    for packet in ET.fromstring(pdml).iter("packet"):
        frame = next(int(f.get("show", "0")) for f in packet.iter("field") if f.get("name") == "frame.number")
        for f in packet.iter("field"):
            if f.get("name") != "tls.handshake.dname":
                continue
            m = re.search(r"\((.*)\)\s*$", f.get("showname", ""))
            text = m.group(1) if m else "?"
            for long, abbrev in short.items():
                text = text.replace(long + "=", abbrev + "=")
            names.setdefault(frame, []).append(text)
    return names


# ----------------------------------------------------------------------------- checks
def check(
    name: str, sc: Scenario, streams: list[Stream], ca_names: dict[int, list[str]], reasons: list[str]
) -> list[str]:
    """Problems found (empty: the capture shows what it was made to show)."""
    if len(streams) != len(sc.conns):
        return [f"{name}: {len(streams)} TCP streams, expected {len(sc.conns)}"]
    problems: list[str] = []
    failing = [c for c in sc.conns if c.reason is not None]
    if len(reasons) != len(failing):
        problems.append(f"{name}: server reasons {reasons}, expected {len(failing)}")
    want_tls = f"TLS {sc.tls}"
    for s, c in zip(streams, sc.conns, strict=True):
        where = f"{name} stream {s.index}"
        if not s.closed:
            problems.append(f"{where}: no FIN/RST captured")
        if s.version != want_tls:
            problems.append(f"{where}: {s.version}, expected {want_tls}")
        if len(s.cert_request) != 1:
            problems.append(f"{where}: CertificateRequest frames {s.cert_request}, expected one")
        elif tuple(ca_names.get(s.cert_request[0], [])) != sc.ca_names:
            problems.append(f"{where}: CA names {ca_names.get(s.cert_request[0])}, expected {list(sc.ca_names)}")
        if [n for _, n in s.client_cert] != [c.chain]:
            problems.append(f"{where}: client Certificate {s.client_cert}, expected {c.chain} cert(s)")
        if [code for _, code, _ in s.http] != ([c.http] if c.http is not None else []):
            problems.append(f"{where}: HTTP {s.http}, expected {c.http}")
        if c.title is not None and (not s.http or s.http[0][2] != c.title):
            problems.append(f"{where}: page title {s.http}, expected {c.title!r}")
        fatal_from_server = [d for _, who, d in s.alerts if who == "server" and d.startswith("fatal")]
        if fatal_from_server != ([f"fatal {c.alert}"] if c.alert else []):
            problems.append(f"{where}: server's fatal alerts {fatal_from_server}, expected {c.alert}")
        if any(d == "encrypted" for _, _, d in s.alerts):
            problems.append(f"{where}: an alert was not decrypted: {s.alerts}")
    for c, reason in zip(failing, reasons, strict=False):
        if c.reason not in reason:
            problems.append(f"{name}: server said {reason!r}, expected it to contain {c.reason!r}")
    return problems


# ----------------------------------------------------------------------------- MANIFEST.tsv
def manifest_rows(name: str, sc: Scenario, streams: list[Stream], reasons: list[str]) -> list[dict[str, str]]:
    """One MANIFEST row per connection."""
    rows = []
    failing = iter(reasons)
    for s, c in zip(streams, sc.conns, strict=False):
        reason = next(failing, "") if c.reason is not None else ""
        if sc.server == "s_server":
            fatal = [d.removeprefix("fatal ") for _, who, d in s.alerts if who == "server" and d.startswith("fatal")]
            reason = f"alert {', '.join(fatal) or 'none'}" + (f" ({reason})" if reason else "")
        rows.append(
            {
                "file": name,
                "server": sc.server,
                "tls": sc.tls,
                "built_to_show": c.shows,
                "truststore_configured": sc.truststore,
                "server_log_reason": reason,
                "cert_request_frame": ",".join(map(str, s.cert_request)),
                "client_cert_frame": ",".join(str(f) for f, _ in s.client_cert),
                "client_chain_len": ",".join("empty" if n == 0 else str(n) for _, n in s.client_cert),
                "alert_frames": ",".join(f"{f}:{who}:{d.replace(' ', ':')}" for f, who, d in s.alerts),
                "http_frame": ",".join(str(f) for f, _, _ in s.http),
                "http_status": ",".join(str(code) for _, code, _ in s.http),
            }
        )
    return rows


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def old_reasons(path: Path) -> dict[str, list[str]]:
    """The server reasons of an existing MANIFEST.tsv, as --reasons would give them."""
    out: dict[str, list[str]] = {}
    if not path.exists():
        return out
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            reason = row["server_log_reason"]
            if row["server"] == "s_server":
                m = re.search(r"\((s_server: .*)\)$", reason)
                reason = m.group(1) if m else ""
            if reason:
                out.setdefault(row["file"].removesuffix(".pcap"), []).append(reason)
    return out


# ----------------------------------------------------------------------------- README
PKI_NOTES = {
    "root-ca": "self-signed; the root of the server's certificate and of client-ca",
    "client-ca": "intermediate, pathlen 0; issues the client-* leaves below unless said",
    "server": "SAN DNS:localhost, IP:127.0.0.1; serverAuth",
    "client-ok": "clientAuth; `client-ok-chain.pem` = leaf + client-ca",
    "client-expired": "**expired**; `client-expired-chain.pem`",
    "client-future": "**not yet valid**; `client-future-chain.pem`",
    "client-serverauth": "**EKU serverAuth only** (no clientAuth); `client-serverauth-chain.pem`",
    "client-dave": "clientAuth; sent leaf-only to show a missing intermediate; `client-dave-chain.pem`",
    "foreign-root-ca": "self-signed, unrelated to Example Corp",
    "client-foreign": "clientAuth",
    "client-ca-g1": "self-signed (generation 1 of the client CA)",
    "client-ca-g2": "self-signed (generation 2, the new client CA)",
    "client-g1": "clientAuth (not used in a capture)",
    "client-g2": "clientAuth; AIA caIssuers `http://pki.example.test/client-ca-g2.crt`",
    "client-ca-rekeyed": "**same subject as client-ca, new key** (new SKI), pathlen 0",
    "client-rekeyed": "clientAuth; AKI = client-ca-rekeyed's SKI; `client-rekeyed-chain.pem` = leaf + client-ca-rekeyed (not used in a capture)",
}


def pki_table(pki: Path) -> str:
    rows = [
        "| file | subject | issuer | validity | SKI (first 4 bytes) | AKI (first 4 bytes) | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, note in PKI_NOTES.items():
        cert = x509.load_pem_x509_certificate((pki / f"{name}.pem").read_bytes())
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier or b""
        issuer = "self" if cert.issuer == cert.subject else cert.issuer.rfc4514_string()
        validity = f"{cert.not_valid_before_utc:%Y-%m-%d} … {cert.not_valid_after_utc:%Y-%m-%d}"
        rows.append(
            f"| `{name}.pem` | {cert.subject.rfc4514_string()} | {issuer} | {validity} | {ski[:4].hex(':')} | {aki[:4].hex(':')} | {note} |"
        )
    return "\n".join(rows)


def capture_rows(
    verdict: Path,
    table: dict[str, Scenario],
    results: dict[str, tuple[list[Stream], dict[int, list[str]]]],
    manifest: list[dict[str, str]],
) -> str:
    head = (
        "| file | built to show | what it shows | link type, TLS, size | key log | CertificateRequest frame (CA names) "
        "| client Certificate frame | alert frames | HTTP response (decrypted) | server's reason |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in manifest:
        by_file.setdefault(row["file"], []).append(row)
    for name, sc in table.items():
        streams, names = results[name]
        path = verdict / name
        for i, (s, row) in enumerate(zip(streams, by_file[name], strict=True)):
            cr = (
                ", ".join(
                    f"{f} ({'; '.join(n.split(',')[0] for n in names.get(f, [])) or 'no names'})"
                    for f in s.cert_request
                )
                or "—"
            )
            cc = (
                ", ".join(
                    f"{f} ({'empty' if n == 0 else f'{n} cert' + ('s' if n > 1 else '')})" for f, n in s.client_cert
                )
                or "—"
            )
            al = "; ".join(f"{f} {who}: {d}" for f, who, d in s.alerts) or "—"
            ht = "; ".join(f"{f}: {code}" + (f" “{t}”" if t else "") for f, code, t in s.http) or "—"
            cells = [
                f"`{name}`" if i == 0 else f"″ stream {s.index}",
                f"**{row['built_to_show']}**",
                sc.what if i == 0 else "",
                f"{link_type(path)}, {s.version}, {path.stat().st_size:,} B" if i == 0 else s.version,
                f"`{path.with_suffix('.keylog').name}`" if i == 0 else "",
                cr,
                cc,
                al,
                ht,
                f"`{row['server_log_reason']}`" if row["server_log_reason"] else "—",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def render_section(pki: str, captures: str, ports: list[int]) -> str:
    return SECTION.format(pki=pki, captures=captures, p_nginx=ports[0], p_sserver=ports[1], p_stale=ports[2])


def write_readme(readme: Path, section: str) -> None:
    """Replace the section between the markers, or append it."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{BEGIN}\n{section.strip()}\n{END}\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + block + (("\n" + after) if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    readme.write_text(text, encoding="utf-8")


SECTION = """\
## Verdict samples (`verdict/`)

Each capture here was made to show **exactly one cause** of a failed mutual-TLS handshake (the
"built to show" column), in TLS 1.2 and in TLS 1.3, between real nginx / openssl s_server servers and
real curl / openssl s_client clients on loopback, with its own PKI in `verdict/pki/`
(**test material: unencrypted private keys**). Every `.pcap` has its NSS key log (`.keylog`, same
basename). `verdict/MANIFEST.tsv` lists the same facts per connection, machine-readable.

```
bash samples/make_samples.sh verdict   # only this set: removes and rewrites samples/verdict/
bash samples/make_samples.sh           # everything: the captures above, then this set
```

Ports {p_nginx} (nginx), {p_sserver} (openssl s_server), {p_stale} (stale-truststore nginx); override with
`PORT_VERDICT_NGINX`, `PORT_VERDICT_SSERVER`, `PORT_VERDICT_STALE`. The PKI is made by
`make_verdict_pki.py` (reusing `make_pki.py`'s helpers); the captures are checked by
`describe_verdict.py`, which writes `MANIFEST.tsv` and this section (the frame numbers are tshark's,
read with the key log and `-d tcp.port==PORT,tls`; none comes from tlscap). What each server said is
taken from nginx's error log (`ssl_verify_client on`, `ssl_verify_depth 3` unless said) and from
s_server's output (`-Verify 2 -verify_return_error`). Regenerating makes new keys (new fingerprints,
SKIs, randoms); TLS 1.2 frame numbers normally stay the same, TLS 1.3 ones can shift with timing
(nginx's NewSessionTickets against curl's request, s_client's GET against s_server's alert).

### PKI (`verdict/pki/`)

All RSA 2048 / SHA-256, every certificate with SKI and AKI; each `.pem` has its `.key`.

{pki}

Truststores (`ssl_client_certificate`, `-CAfile`, tlscap `--truststore`):
`trust-root-and-client-ca.pem` (root + client-ca), `trust-root-only.pem`, `trust-g1.pem` (G1 only: what
the stale nginx had loaded), `trust-g1-g2.pem` (G1 + G2: the file the operator configured; analyze the
stale-truststore captures with `--truststore samples/verdict/pki/trust-g1-g2.pem`),
`trust-root-and-rekeyed.pem` (root + client-ca-rekeyed: the truststore the operator meant to deploy
after re-keying the client CA; the rekeyed-ca captures were made with `trust-root-and-client-ca.pem`,
the OLD client-ca).

### Captures

"client Certificate" counts the certificates in the client's Certificate message ("empty": a
Certificate message with none). "CA names" are the common names of the CertificateRequest's
certificate_authorities, in order. "server's reason" is nginx's error-log line for that connection
(nginx sends no alert, see above) or, for s_server, the fatal alert it sent and its verify error.

{captures}

### What these captures show (beyond the table)

- **nginx logs one line for four causes.** foreign-ca, missing-intermediate, rekeyed-ca and
  stale-truststore all give `client SSL certificate verify error: (21:unable to verify the first
  certificate)` and the same page "400 The SSL certificate error": a leaf sent alone whose issuer
  nginx cannot find. Only the certificates (and the CA list) in the capture tell them apart.
  openssl s_server, which stops at the first verify error, reports the foreign CA as
  `20:unable to get local issuer certificate`; nginx, whose verify callback lets OpenSSL go on,
  logs the last error, 21.
- **The CA list holds names, not keys.** In the rekeyed-ca captures nginx's CertificateRequest
  lists `CN=Example Client CA,O=Example Corp,C=US`, exactly the issuer name in client-rekeyed's
  certificate, and nginx still refuses it: the listed (old) client-ca has another key
  (client-rekeyed's AKI is client-ca-rekeyed's SKI, not client-ca's; see the PKI table). Only the
  key identifiers or a signature check tell this apart from a CA that is listed.
- **stale-truststore:** nginx read `ssl_client_certificate` when it started (trust-g1.pem); the file
  was then replaced by trust-g1-g2.pem and nginx was not reloaded, so its CertificateRequest still
  lists G1 only and it refuses client-g2, although the configured file trusts G2. client-g2 carries
  an AIA caIssuers URL (`http://pki.example.test/client-ca-g2.crt`); nothing fetches it (no network).
- **missing-intermediate / multi-connection:** with the root alone trusted (`ssl_verify_depth 2`),
  client-ok's leaf + client-ca is accepted and client-dave's leaf alone is not; the same nginx, the
  same truststore, in one capture.
- **openssl s_server's alerts:** unknown_ca (48) for the foreign CA, unsupported_certificate (43)
  for the serverAuth-only certificate (OpenSSL's verify error 26 "unsuitable certificate purpose"),
  bad_certificate (42) for the not-yet-valid certificate (verify error 9; OpenSSL has no
  "not yet valid" alert). s_server lists the `-CAfile`'s subjects (root, client-ca) in its
  CertificateRequest, as nginx does. In TLS 1.2 the alert comes right after the client's flight;
  in TLS 1.3 it is encrypted (the key log reads it), and whether s_client's encrypted GET is on the
  wire before it depends on timing (the alert frame number shows which).

See the CA names of one CertificateRequest by hand:

```
cd samples/verdict
tshark -r tls13-rekeyed-ca.pcap -o tls.keylog_file:tls13-rekeyed-ca.keylog -d tcp.port==18446,tls \\
  -Y tls.handshake.type==13 -V | grep 'Distinguished Name:'
```
"""


# ----------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("verdict", type=Path)
    parser.add_argument("--reasons", type=Path)
    parser.add_argument("--ports", default="18446,18447,18448")
    parser.add_argument("--readme", type=Path)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",") if p]
    table = scenario_table()
    previous = old_reasons(args.verdict / "MANIFEST.tsv")
    problems: list[str] = []
    manifest: list[dict[str, str]] = []
    results: dict[str, tuple[list[Stream], dict[int, list[str]]]] = {}
    found = sorted(p.name for p in args.verdict.glob("*.pcap"))
    for extra in sorted(set(found) - set(table)):
        problems.append(f"{extra}: not described in describe_verdict.py")
    for name, sc in table.items():
        path = args.verdict / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        if not path.with_suffix(".keylog").exists():
            problems.append(f"{name}: no key log")
        base = name.removesuffix(".pcap")
        if args.reasons is not None:
            rfile = args.reasons / f"{base}.txt"
            reasons = [ln for ln in rfile.read_text().splitlines() if ln.strip()] if rfile.exists() else []
        else:
            reasons = previous.get(base, [])
        streams = streams_of(run_tshark(path, ports))
        names = ca_names_by_frame(path, ports)
        results[name] = (streams, names)
        problems += check(name, sc, streams, names, reasons)
        manifest += manifest_rows(name, sc, streams, reasons)
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    if len(results) == len(table):
        write_manifest(args.verdict / "MANIFEST.tsv", manifest)
        if args.readme and not problems:
            section = render_section(
                pki_table(args.verdict / "pki"), capture_rows(args.verdict, table, results, manifest), ports
            )
            write_readme(args.readme, section)
    print(f"{len(results)} verdict captures checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
