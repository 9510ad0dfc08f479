"""Check the client-stacks samples with tshark; write client-stacks/MANIFEST.tsv and README's section.

make_client_stacks.sh records how each capture was made (the stack, its version string, the TLS
version it was pinned to, the case, what the client held, what the client printed, nginx's
error-log lines) in a runs file. This reads every capture with tshark and its key log: the
CertificateRequest and its CA names, the client's Certificate (how many certificates), the alerts,
the decrypted HTTP status, and tshark's JA3 of every ClientHello; and writes

- client-stacks/MANIFEST.tsv, one row per capture (frames are tshark's, 1-based; nothing here
  comes from tlscap);
- the client-stacks section of samples/README.md (between its marker comments; appended when
  missing).

Exit status 1 when a capture cannot be read as made: no ClientHello, no CertificateRequest, or a
client Certificate the key log does not make visible.

Usage: describe_client_stacks.py OUT_DIR --runs RUNS.tsv --software SOFTWARE.tsv --ports P1,P2,P3
                                 [--readme README.md]
       describe_client_stacks.py OUT_DIR --ports ... --readme README.md --readme-only
"""

# ruff: noqa: E501  -- README prose and table lines are long.
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from describe_samples import Stream, run_tshark, streams_of
from describe_verdict import ca_names_by_frame

BEGIN = "<!-- client-stacks samples: written by describe_client_stacks.py -->"
END = "<!-- end of client-stacks samples -->"
JAVA_GO = ("java-jsse-17", "go-1.19")
RUN_FIELDS = [
    "file",
    "stack",
    "client_version",
    "tls_pinned",
    "case",
    "client_held",
    "keylog_from",
    "port",
    "client_said",
    "nginx_log",
]
COLUMNS = [
    "file",
    "set",
    "stack",
    "client_version",
    "tls_pinned",
    "tls",
    "case",
    "client_held",
    "client_certificate",
    "client_certificate_frame",
    "observed",
    "cert_request_frame",
    "ca_names",
    "alert_frames",
    "http_status",
    "nginx_log",
    "client_hello_frames",
    "ja3_full",
    "ja3",
    "keylog",
    "client_said",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """One ClientHello as tshark reads it."""

    frame: int
    ja3_full: str
    ja3: str


def client_hellos(capture: Path, ports: list[int]) -> list[Hello]:
    """tshark's JA3 (full string and MD5) of every ClientHello in the capture."""
    cmd = ["tshark", "-n", "-r", str(capture), "-Y", "tls.handshake.type==1", "-T", "fields", "-E", "separator=\t"]
    for port in ports:
        cmd += ["-d", f"tcp.port=={port},tls"]
    cmd += ["-e", "frame.number", "-e", "tls.handshake.ja3_full", "-e", "tls.handshake.ja3"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    hellos = []
    for line in out.splitlines():
        frame, full, md5 = line.split("\t")
        hellos.append(Hello(frame=int(frame), ja3_full=full, ja3=md5))
    return hellos


def tls_stream(streams: list[Stream]) -> Stream | None:
    """The connection that shows the client's answer: the first with a client Certificate, else the
    first with a CertificateRequest (a browser opens several and leaves some after the server's flight)."""
    for wanted in (lambda s: s.client_cert, lambda s: s.cert_request):
        found = [s for s in streams if wanted(s)]
        if found:
            return found[0]
    return None


def certificate_text(stream: Stream) -> tuple[str, str]:
    """(client_certificate, its frame): `empty`, `N cert(s)`, or `none` (no Certificate message)."""
    if not stream.client_cert:
        return "none", ""
    frame, count = stream.client_cert[0]
    return ("empty" if count == 0 else f"{count} cert" + ("s" if count > 1 else "")), str(frame)


def observed(case: str, held: str, sent: str) -> str:
    """What the client did with what it held, in one phrase."""
    holds = held != "none" and not held.startswith("none")
    if sent == "empty" and holds:
        return "held a certificate, sent an empty Certificate (chosen by the CA list)"
    if sent == "empty":
        return "held no certificate, sent an empty Certificate"
    if sent == "none":
        return "sent no Certificate message"
    if case == "success":
        return "sent the chain from the listed CA"
    return "sent what it held although no certificate of it is issued by a listed CA"


def describe(out: Path, runs: list[dict[str, str]], ports: list[int]) -> tuple[list[dict[str, str]], list[str]]:
    """One MANIFEST row per run, and the problems found."""
    rows: list[dict[str, str]] = []
    problems: list[str] = []
    for run in runs:
        name = run["file"]
        capture = out / name
        keylog = capture.with_suffix(".keylog")
        streams = streams_of(run_tshark(capture, ports))
        stream = tls_stream(streams)
        hellos = client_hellos(capture, ports)
        if not hellos:
            problems.append(f"{name}: no ClientHello")
        if stream is None:
            problems.append(f"{name}: no CertificateRequest visible")
            continue
        names = ca_names_by_frame(capture, ports).get(stream.cert_request[0], [])
        sent, sent_frame = certificate_text(stream)
        if sent == "none" and run["stack"] in JAVA_GO:
            problems.append(f"{name}: the client's Certificate is not visible with {keylog.name}")
        alerts = "; ".join(f"{frame} {side}: {text}" for frame, side, text in stream.alerts)
        http = "; ".join(f"{frame}: {code}" + (f" “{title}”" if title else "") for frame, code, title in stream.http)
        rows.append(
            {
                "file": name,
                "set": "java-go" if run["stack"] in JAVA_GO else "other-stacks",
                "stack": run["stack"],
                "client_version": run["client_version"],
                "tls_pinned": run["tls_pinned"] if run["tls_pinned"] != "any" else "no (client default)",
                "tls": stream.version,
                "case": run["case"],
                "client_held": run["client_held"],
                "client_certificate": sent,
                "client_certificate_frame": sent_frame,
                "observed": observed(run["case"], run["client_held"], sent),
                "cert_request_frame": str(stream.cert_request[0]),
                "ca_names": "; ".join(names),
                "alert_frames": alerts,
                "http_status": http,
                "nginx_log": run["nginx_log"],
                "client_hello_frames": "; ".join(str(h.frame) for h in hellos),
                "ja3_full": "; ".join(h.ja3_full for h in hellos),
                "ja3": "; ".join(h.ja3 for h in hellos),
                "keylog": f"{keylog.name} ({'written by the client' if run['keylog_from'] == 'client' else 'written by nginx (LD_PRELOAD shim)'})",
                "client_said": run["client_said"],
            }
        )
        if len(streams) > 1:
            others = [s for s in streams if s is not stream]
            left = [s.index for s in others if s.cert_request and not s.client_cert]
            rows[-1]["client_said"] += (
                f" [capture: {len(streams)} TCP connections; this row describes tcp.stream {stream.index}"
                + (
                    f"; tcp.stream {', '.join(map(str, left))}: the client closed after the server's flight, sending no Certificate"
                    if left
                    else ""
                )
                + "]"
            )
    return rows, problems


def read_tsv(path: Path, fields: list[str] | None = None) -> list[dict[str, str]]:
    """Rows of a tab-separated file (with a header line unless `fields` names the columns)."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f, fieldnames=fields, delimiter="\t", quoting=csv.QUOTE_NONE)
        return list(reader)


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    """MANIFEST.tsv: a header line, then one line per capture; no quoting (cells hold no tab or newline)."""
    lines = ["\t".join(COLUMNS)]
    for row in rows:
        cells = [" ".join(row[c].split()) if "\t" in row[c] or "\n" in row[c] else row[c] for c in COLUMNS]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- README section
def md(text: str) -> str:
    """A table cell: no pipes, no newlines."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_section(rows: list[dict[str, str]], software: list[tuple[str, str]], ports: list[int]) -> str:
    """The README section, from the manifest rows."""
    by_stack: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_stack.setdefault(row["stack"], []).append(row)
    filtered = sorted({r["stack"] for r in rows if r["observed"].startswith("held a certificate, sent an empty")})
    sent_anyway = sorted({r["stack"] for r in rows if r["observed"].startswith("sent what it held although")})
    chromium = [r for r in rows if r["stack"] == "chromium"]
    if chromium:
        hellos = chromium[0]["ja3"].split("; ")
        chromium_ja3s = (
            f"the {len(hellos)} ClientHellos of `{chromium[0]['file']}` have {len(set(hellos))} different JA3s"
        )
    else:
        chromium_ja3s = "(no Chromium capture in this run)"
    lines = [
        "## Client stacks (`client-stacks/`)",
        "",
        "An empty client Certificate does not always mean “no certificate configured”. Java",
        "(JSSE) and Go choose their certificate by the CA names in the server's CertificateRequest and",
        "send an empty Certificate when nothing they hold is issued by a listed CA; other stacks send what",
        "they were given. These captures show it for each stack, and record each stack's ClientHello",
        "(tshark's JA3) so the client's stack can be recognised.",
        "",
        "Regenerate with `make samples-client-stacks` (or `bash samples/make_client_stacks.sh` as root;",
        "`make_client_stacks.sh readme` rewrites only this section from `MANIFEST.tsv`). It needs",
        "OpenJDK 17, `golang-go`, `gcc`, `gnutls-bin`, `wget`, `chromium`, `firefox-esr` and",
        '`libnss3-tools` (it installs nothing and says what is missing; `SKIP_CLIENTS="firefox chromium"`',
        "leaves the browsers out). Everything runs in a private network and mount namespace: its own",
        "loopback, and an `/etc/hosts` that resolves `server.stack-lab.test` to 127.0.0.1. nginx listens on",
        f"port {ports[0]} (CA list: Stack Lab Root CA, Stack Lab Client CA), {ports[1]} (Stack Lab Root CA only,",
        f"`ssl_verify_depth 2`: the leaf-without-intermediate case) and {ports[2]} (root + client CA, for the",
        "other stacks), all with `ssl_verify_client on` and `error_log … info`. Regenerating makes new keys,",
        "randoms and timings: frame numbers can shift, JA3 strings do not (but Chromium's, see below).",
        "",
        "**Key logs.** The Go client writes its own (`tls.Config.KeyLogWriter`). For every other capture",
        "nginx writes them: the script compiles a small LD_PRELOAD shim (gcc) whose `SSL_new` sets",
        "OpenSSL's keylog callback on the connection's `SSL_CTX`, and keeps each capture's lines by its",
        "ClientHello randoms. For the Go captures, every line Go wrote is checked to be among nginx's.",
        "With them the TLS 1.3 CertificateRequest and client Certificate are readable:",
        "",
        "```",
        "cd samples/client-stacks",
        f"tshark -r java-tls13-unlisted-ca.pcap -o tls.keylog_file:java-tls13-unlisted-ca.keylog -d tcp.port=={ports[0]},tls \\",
        "  -Y tls.handshake.type==11",
        "```",
        "",
        "**The clients.** Java: `Client.java` (written by the script), an `SSLSocket` from the default",
        "`SSLContext`, configured only by `-Djavax.net.ssl.keyStore=… -Djavax.net.ssl.keyStoreType=PKCS12",
        "-Djavax.net.ssl.keyStorePassword=changeit` (the PKCS#12 keystores in `pki/`, made with `openssl",
        "pkcs12 -export`; `pki/*.p12.txt` is `keytool -list -v` of each), a truststore holding the Stack",
        "Lab root, and `-Djdk.tls.client.protocols=TLSv1.2|TLSv1.3`; JDK 17's default key manager is",
        "SunX509 (`ssl.KeyManagerFactory.algorithm`). Go: `client.go` (written by the script), `tls.Config`",
        "with `Certificates` from the PEM chain, `GetClientCertificate` nil, `MinVersion = MaxVersion`; Go",
        "1.19's `Conn.getClientCertificate` sends the first chain one of whose certificates has an issuer",
        "byte-equal to a requested CA name, else an empty Certificate (`crypto/tls/handshake_client.go`,",
        "`CertificateRequestInfo.SupportsCertificate` in `common.go`). The other stacks, at their",
        "defaults, hold `client-partner` (issued by Stack Partner Root CA, which nginx does not list) where",
        "they can hold a certificate: `curl --cert --key`, `openssl s_client -cert -key -cert_chain`, Python",
        "`SSLContext.load_cert_chain`, `gnutls-cli --x509certfile`, `wget --certificate`, and Firefox",
        "(`pk12util` into a fresh profile, the Stack Lab root trusted with `certutil`, `security.default_personal_cert`",
        "= `Select Automatically`). Headless Chromium holds none (`--ignore-certificate-errors`).",
        "",
        "### PKI (`client-stacks/pki/`)",
        "",
        "RSA 2048 / SHA-256 (make_client_stacks_pki.py, reusing make_pki.py's helpers); keystore and",
        "truststore password `changeit`.",
        "",
        "| file | subject | issuer | held by the client as |",
        "|---|---|---|---|",
        "| `root-ca.pem` | CN=Stack Lab Root CA,O=Stack Lab,C=US | self | listed by nginx on every port; `server-trust.p12` (Java's truststore) |",
        "| `client-ca.pem` | CN=Stack Lab Client CA,O=Stack Lab,C=US | Stack Lab Root CA | listed by nginx on the listed ports only (not on the root-only one) |",
        "| `partner-root-ca.pem` | CN=Stack Partner Root CA,O=Stack Partner Inc,C=US | self | never listed |",
        "| `server.pem` | CN=server.stack-lab.test,O=Stack Lab,C=US | Stack Lab Root CA | nginx's certificate (SAN server.stack-lab.test, localhost, 127.0.0.1) |",
        "| `client-ok.pem` | CN=stack-client-ok,O=Stack Lab,C=US | Stack Lab Client CA | `client-ok.p12` / `client-ok-chain.pem`: leaf + Stack Lab Client CA (case success) |",
        "| `client-partner.pem` | CN=stack-client-partner,O=Stack Partner Inc,C=US | Stack Partner Root CA | `client-partner.p12` / `client-partner-chain.pem`: leaf + Stack Partner Root CA (case unlisted-ca) |",
        "| `client-leaf-only.pem` | CN=stack-client-leaf-only,O=Stack Lab,C=US | Stack Lab Client CA | `client-leaf-only.p12` / `.pem`: the leaf alone, nginx lists the root only (case leaf-without-intermediate) |",
        "",
        "### Captures",
        "",
        "Cases: `success` (a chain from a listed CA), `unlisted-ca` (a certificate from a CA nginx does not",
        "list), `leaf-without-intermediate` (a leaf whose issuer, the intermediate, is not listed and not",
        "held; nginx lists the root only), `no-keystore` (nothing held). “client Certificate”: what the",
        "client's Certificate message carried (tshark with the key log). Every row is in `MANIFEST.tsv` with",
        "more columns: the exact version strings, the CA names, the alerts, nginx's line, what the client",
        "printed (Java's `javax.net.debug` lines about choosing its certificate), the full JA3 strings.",
        "",
        "| file | stack | TLS | case | client held | client Certificate (frame) | CertificateRequest frame | HTTP | nginx's error log |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cert = row["client_certificate"] + (
            f" ({row['client_certificate_frame']})" if row["client_certificate_frame"] else ""
        )
        http = row["http_status"].split(": ", 1)[-1] if row["http_status"] else "—"
        log = row["nginx_log"].replace("[info] ", "") or "—"
        lines.append(
            f"| `{row['file']}` | {row['stack']} | {row['tls'].replace('TLS ', '')} | {row['case']} | {md(row['client_held'])} | {cert} | {row['cert_request_frame']} | {md(http)} | {md(log)} |"
        )
    lines += [
        "",
        "### What they show (observed with the versions below)",
        "",
        f"- **Chose by the CA list** (held a certificate, sent an empty Certificate): {', '.join(filtered) or 'none'}.",
        f"  **Sent what they held** although its issuer was not listed: {', '.join(sent_anyway) or 'none'}.",
        "- **Java and Go, both TLS versions, all four cases**: a chain from a listed CA is sent; a",
        "  certificate from the unlisted root, and a leaf held without its intermediate when only the root",
        "  is listed, are not: the Certificate is empty, exactly as with no keystore at all, and nginx logs",
        "  the same `client sent no required SSL certificate` for all three. The capture cannot tell them",
        "  apart; only the client's keystore can (Java's `javax.net.debug` says `No X.509 cert selected for",
        "  [EC, EdDSA, RSASSA-PSS, RSA…]` in each). Java reads the CA names from TLS 1.3's",
        "  `certificate_authorities` extension too (its debug log's “Ignore impact of unsupported extension:",
        "  certificate_authorities” notwithstanding).",
        "- **wget chooses by the CA list, gnutls-cli does not**, although both are GnuTLS 3.7.9: wget",
        "  sends an empty Certificate for the unlisted certificate (`wget-unlisted-ca.pcap`) and the chain",
        "  from the listed CA (`wget-success.pcap`), so it does load and send a certificate; gnutls-cli",
        "  sends the unlisted one (its `-d` output says `- Successfully sent 2 certificate(s) to server.`).",
        "  Presumably wget leaves the choice to GnuTLS while gnutls-cli answers the request itself (not",
        "  checked in their sources): “GnuTLS” is not one answer, the application decides.",
        "- **Firefox chooses by the CA list** (NSS, `Select Automatically`): holding only the unlisted",
        "  certificate, it sends an empty Certificate.",
        "- **curl, openssl s_client and Python ssl** (all OpenSSL 3.0) send the unlisted certificate and its",
        "  root; nginx refuses it (`self-signed certificate in certificate chain`, because the partner root",
        "  came with it).",
        "- **The ClientHello differs with the pinned version**, so Java and Go have two JA3s each. Java",
        "  pinned to TLSv1.2 offers 31 TLS 1.2 suites and no key_share or psk_key_exchange_modes (it still",
        "  sends supported_versions); pinned to TLSv1.3, only the three TLS 1.3 suites and no",
        "  ec_point_formats (its JA3 ends with an empty field). Go pinned to 1.2 has no TLS 1.3 suites and",
        "  no key_share (supported_versions is there); pinned to 1.3 it still offers its TLS 1.2 suites and",
        "  adds key_share. The other stacks ran at their defaults (TLS 1.2 and 1.3 offered, 1.3 chosen).",
        "- **Python's ClientHello depends on how Python was built**, not only on its OpenSSL: Debian's",
        "  /usr/bin/python3 is configured `--with-ssl-default-suites=openssl` and offers OpenSSL's default",
        "  cipher list; the venv's (a 3.11 built from source, same OpenSSL 3.0) keeps Python's own, shorter",
        "  list (17 suites against 60): two JA3s for one `ssl.create_default_context()`.",
        "- **Chromium permutes its extensions** (since Chrome 110), and JA3 keeps them in the order sent:",
        f"  {chromium_ja3s}. JA4, which sorts them, does not change.",
        "",
        "### JA3 per stack (tshark's `tls.handshake.ja3`)",
        "",
        "| stack | TLS pinned | JA3 (MD5) | from |",
        "|---|---|---|---|",
    ]
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        for ja3 in row["ja3"].split("; "):
            key = (row["stack"], row["tls_pinned"], ja3)
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| {row['stack']} | {row['tls_pinned']} | `{ja3}` | `{row['file']}` |")
    lines += ["", "### Software used", ""]
    versions: dict[tuple[str, str], None] = {}
    for row in rows:
        versions.setdefault((row["stack"], row["client_version"]), None)
    for stack, version in versions:
        lines.append(f"- {stack}: `{version}`")
    for name, version in software:
        lines.append(f"- {name}: `{version}`")
    return "\n".join(lines) + "\n"


def write_readme(readme: Path, section: str) -> None:
    """Replace the section between the markers, or append it."""
    text = readme.read_text()
    block = f"{BEGIN}\n{section.strip()}\n{END}\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + block + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    readme.write_text(text)


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=Path)
    parser.add_argument("--software", type=Path)
    parser.add_argument("--ports", required=True)
    parser.add_argument("--readme", type=Path)
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    manifest = args.out / "MANIFEST.tsv"
    software_file = args.out / "software.tsv"
    if args.readme_only:
        rows = read_tsv(manifest)
    else:
        if args.runs is None or args.software is None:
            parser.error("--runs and --software are needed unless --readme-only")
        rows, problems = describe(args.out, read_tsv(args.runs, RUN_FIELDS), ports)
        for problem in problems:
            print(f"describe_client_stacks: {problem}", file=sys.stderr)
        write_manifest(manifest, rows)
        software_file.write_text(args.software.read_text())
        if problems:
            return 1
    software = [tuple(line.split("\t", 1)) for line in software_file.read_text().splitlines() if "\t" in line]
    if args.readme:
        write_readme(args.readme, render_section(rows, software, ports))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
