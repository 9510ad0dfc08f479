"""Read samples/tls13-stacks/ with tshark and the key logs; write MANIFEST.tsv and README's tls13-stacks section.

Every capture there holds one TLS 1.3 connection between one server stack and one client stack
(made by make_tls13_stacks.sh; name tls13-<server>-<client>-<scenario>.pcap, key log beside it).
This decrypts each with tshark (`-o tls.keylog_file:K -d tcp.port==PORT,tls`) and records, per
capture, what the decrypted handshake shows: the cipher suite, the CertificateRequest, the client's
Certificate (how many certificates), each side's alerts, the HTTP status, and whether the server
refused. Nothing is guessed: every value is a tshark field (frames are tshark's, 1-based); the only
arithmetic is the record padding, record length - 16 (AEAD tag) - 1 (inner content type) - the
length of tshark's "Decrypted TLS" data source for that record (tshark strips TLS 1.3 padding).

Writes:
- tls13-stacks/MANIFEST.tsv, one row per capture;
- the "TLS 1.3 stacks" section of samples/README.md (between its two marker comments; appended
  when missing), with per-server and per-client tables made from the same rows.

--reasons DIR holds NAME.client (the client's own one-line report) and NAME.server (what the server
printed or logged during that connection), written by make_tls13_stacks.sh; their gist goes to the
notes column. Without --reasons the notes' "client said"/"server said" parts are kept from the
MANIFEST.tsv already there.

Exit status 1 when a capture cannot be decrypted or does not show what every run must show
(ok: served with HTTP 200 and no alert; norequest: no CertificateRequest).

--readme-only writes the README section only (MANIFEST.tsv is left as it is).

Usage: describe_tls13_stacks.py DIR --ports server=port,... [--reasons DIR] [--readme FILE] [--readme-only]
"""

# ruff: noqa: E501  -- README prose and table lines are long.
from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "<!-- tls13-stacks samples: written by describe_tls13_stacks.py -->"
END = "<!-- end of tls13-stacks samples -->"
COLUMNS = [
    "file",
    "server",
    "client",
    "scenario",
    "cipher_suite",
    "cert_request_frame",
    "client_certificate",
    "client_certificate_frame",
    "server_rejected",
    "server_alerts",
    "client_alerts",
    "http_status",
    "notes",
]
SERVERS = ["nginx", "apache", "haproxy", "sserver", "gnutls", "python"]
CLIENTS = ["curl", "sclient", "gnutls", "python"]
SCENARIOS = ["ok", "nocert", "rejected", "expired", "norequest"]
SERVER_NAMES = {
    "nginx": "nginx",
    "apache": "Apache httpd (mod_ssl)",
    "haproxy": "HAProxy",
    "sserver": "openssl s_server",
    "gnutls": "gnutls-serv",
    "python": "Python ssl",
}
CLIENT_NAMES = {"curl": "curl", "sclient": "openssl s_client", "gnutls": "gnutls-cli", "python": "Python ssl"}
# RFC 8446 section 6 names of the alert descriptions tshark shows as numbers.
ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}
LEVELS = {1: "warning", 2: "fatal"}
HS = {
    1: "CH",
    2: "SH",
    4: "NST",
    5: "EOED",
    8: "EE",
    11: "Cert",
    13: "CR",
    15: "CV",
    20: "Fin",
    24: "KeyUpdate",
}
CT = {20: "CCS", 21: "Alert", 22: "HS", 23: "AppData"}
AEAD_TAG = 16  # TLS_AES_128_GCM, TLS_AES_256_GCM, TLS_CHACHA20_POLY1305, TLS_AES_128_CCM (not CCM_8)


@dataclass
class Record:
    frame: int
    client: bool  # sent by the client
    outer_type: int  # the record header's type (23 for every encrypted TLS 1.3 record)
    length: int
    inner_type: int | None = None  # the decrypted content type (None: not encrypted, or not decrypted)
    handshakes: list[tuple[int, int, int | None]] = field(default_factory=list)  # (type, length, n certs)
    alerts: list[tuple[int, int]] = field(default_factory=list)  # (level, description)
    plain_len: int | None = None  # tshark's "Decrypted TLS" length
    cipher: str = ""  # from a ServerHello

    @property
    def encrypted(self) -> bool:
        return self.outer_type == 23 and self.inner_type is not None

    @property
    def padding(self) -> int | None:
        if not self.encrypted or self.plain_len is None:
            return None
        return self.length - AEAD_TAG - 1 - self.plain_len

    def label(self) -> str:
        if self.inner_type == 22 or (self.inner_type is None and self.outer_type == 22):
            return "+".join(HS.get(t, str(t)) for t, _, _ in self.handshakes) or "HS?"
        if self.outer_type == 20:
            return "CCS"
        kind = self.inner_type if self.inner_type is not None else self.outer_type
        if kind == 21:
            return "+".join(f"Alert({ALERTS.get(d, d)})" for _, d in self.alerts) or "Alert"
        return CT.get(kind, str(kind))


@dataclass
class Frame:
    number: int
    client: bool
    fin: bool
    rst: bool
    payload: int
    records: list[Record]
    http_status: int | None
    http_request: bool


# ----------------------------------------------------------------------------- tshark
def tshark_base(pcap: Path, keylog: Path, port: int) -> list[str]:
    return [
        "tshark",
        "-n",
        "-r",
        str(pcap),
        "-o",
        f"tls.keylog_file:{keylog}",
        "-d",
        f"tcp.port=={port},tls",
        # An HTTP/1.0 response without Content-Length would wait for more body and not be dissected.
        "-o",
        "http.desegment_body:FALSE",
    ]


def fields(elem: ET.Element, name: str) -> list[ET.Element]:
    return [f for f in elem.iter("field") if f.get("name") == name]


def first_show(elem: ET.Element, name: str) -> str | None:
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return None


def read_frames(pcap: Path, keylog: Path, port: int) -> list[Frame]:
    out = subprocess.run(tshark_base(pcap, keylog, port) + ["-T", "pdml"], capture_output=True, check=True).stdout
    frames: list[Frame] = []
    for packet in ET.fromstring(out).iter("packet"):
        protos = {p.get("name"): p for p in packet.findall("proto")}
        if "tcp" not in protos:
            continue
        number = int(first_show(protos["frame"], "frame.number") or 0)
        tcp = protos["tcp"]
        client = int(first_show(tcp, "tcp.dstport") or 0) == port
        records: list[Record] = []
        for tls in packet.findall("proto"):
            if tls.get("name") != "tls":
                continue
            for rec in tls.findall("field"):
                if rec.get("name") != "tls.record":
                    continue
                records.append(parse_record(rec, number, client))
        http_status = None
        http_request = False
        for proto in packet.findall("proto"):
            if proto.get("name") == "http":
                code = first_show(proto, "http.response.code")
                if code is not None and http_status is None:
                    http_status = int(code)
                if first_show(proto, "http.request.method") is not None:
                    http_request = True
        frames.append(
            Frame(
                number=number,
                client=client,
                fin=first_show(tcp, "tcp.flags.fin") == "1",
                rst=first_show(tcp, "tcp.flags.reset") == "1",
                payload=int(first_show(tcp, "tcp.len") or 0),
                records=records,
                http_status=http_status,
                http_request=http_request,
            )
        )
    add_plain_lengths(pcap, keylog, port, frames)
    return frames


def parse_record(rec: ET.Element, number: int, client: bool) -> Record:
    children = rec.findall("field")
    names = {c.get("name"): c.get("show") for c in children}
    opaque = names.get("tls.record.opaque_type")
    ctype = names.get("tls.record.content_type")
    r = Record(
        frame=number,
        client=client,
        outer_type=int(opaque if opaque is not None else ctype or 0),
        length=int(names.get("tls.record.length") or 0),
        inner_type=int(ctype) if opaque is not None and ctype is not None else None,
    )
    for hs in [c for c in children if c.get("name") == "tls.handshake"]:
        htype = int(first_show(hs, "tls.handshake.type") or -1)
        hlen = int(first_show(hs, "tls.handshake.length") or 0)
        ncerts = None
        if htype == 11:
            ncerts = len(fields(hs, "tls.handshake.certificate"))
        if htype == 2:
            for cs in fields(hs, "tls.handshake.ciphersuite"):
                m = re.search(r"Cipher Suite: (\S+)", cs.get("showname", ""))
                r.cipher = m.group(1) if m else cs.get("show", "")
        r.handshakes.append((htype, hlen, ncerts))
    for al in [c for c in children if c.get("name") == "tls.alert_message"]:
        r.alerts.append(
            (int(first_show(al, "tls.alert_message.level") or 0), int(first_show(al, "tls.alert_message.desc") or -1))
        )
    return r


SUMMARY = re.compile(r"^\s*(\d+)\s+\d+\.\d+\s")
DECRYPTED = re.compile(r"^Decrypted TLS \((\d+) bytes?\):")


def add_plain_lengths(pcap: Path, keylog: Path, port: int, frames: list[Frame]) -> None:
    """Give each decrypted record the length of its "Decrypted TLS" data source (tshark -x), in order."""
    out = subprocess.run(
        tshark_base(pcap, keylog, port) + ["-P", "-x"], capture_output=True, text=True, check=True
    ).stdout
    lengths: dict[int, list[int]] = defaultdict(list)
    current = None
    for line in out.splitlines():
        m = SUMMARY.match(line)
        if m and not re.match(r"^[0-9a-f]{4}  ", line):
            current = int(m.group(1))
            continue
        m = DECRYPTED.match(line)
        if m and current is not None:
            lengths[current].append(int(m.group(1)))
    for fr in frames:
        encrypted = [r for r in fr.records if r.encrypted]
        got = lengths.get(fr.number, [])
        if len(got) == len(encrypted):
            for r, n in zip(encrypted, got, strict=True):
                r.plain_len = n


# ----------------------------------------------------------------------------- one capture
@dataclass
class Facts:
    row: dict[str, str]
    problems: list[str]
    tickets: list[tuple[int, int, int]]  # (frame, record length, NewSessionTickets in it) of each NST record
    server_flight: str
    client_flight: str
    padding: list[str]


def flight(frames: list[Frame], client: bool, start: int, stop: int | None) -> str:
    """The records one side sent from frame `start` up to (not including) frame `stop`, per TCP segment."""
    parts = []
    for fr in frames:
        if fr.client != client or fr.number < start or (stop is not None and fr.number >= stop) or not fr.records:
            continue
        recs = " ".join(f"[{r.label()} {r.length}]" for r in fr.records)
        parts.append(f"f{fr.number}: {recs}")
    return "; ".join(parts)


def describe(pcap: Path, port: int, server: str, client: str, scenario: str) -> Facts:
    keylog = pcap.with_suffix(".keylog")
    frames = read_frames(pcap, keylog, port)
    problems: list[str] = []
    records = [r for fr in frames for r in fr.records]

    def hs_frames(is_client: bool, htype: int) -> list[Record]:
        return [r for r in records if r.client == is_client and any(t == htype for t, _, _ in r.handshakes)]

    sh = hs_frames(False, 2)
    cipher = sh[0].cipher if sh else ""
    cr = hs_frames(False, 13)
    s_fin = hs_frames(False, 20)
    c_cert = hs_frames(True, 11)
    c_fin = hs_frames(True, 20)
    if not sh:
        problems.append("no ServerHello")
    if not s_fin:
        problems.append("the server's Finished was not decrypted (key log?)")
    if any(r.outer_type == 23 and r.inner_type is None for r in records):
        problems.append("an encrypted record was not decrypted")

    if c_cert:
        n = next(nc for t, _, nc in c_cert[0].handshakes if t == 11)
        client_certificate = "empty" if n == 0 else str(n)
    else:
        client_certificate = "none"

    def alerts(is_client: bool) -> list[tuple[int, int, int]]:
        return [(r.frame, lvl, d) for r in records if r.client == is_client for lvl, d in r.alerts]

    def fmt_alerts(items: list[tuple[int, int, int]]) -> str:
        return ",".join(f"{f}:{LEVELS.get(lvl, lvl)}:{ALERTS.get(d, d)}" for f, lvl, d in items)

    s_alerts, c_alerts = alerts(False), alerts(True)
    statuses = [fr.http_status for fr in frames if not fr.client and fr.http_status is not None]
    http_status = statuses[0] if statuses else None

    # The server refused: a fatal alert, an HTTP status >= 400, or it closed the connection after the
    # client's flight without sending any application data.
    after = c_fin[0].frame if c_fin else (c_cert[0].frame if c_cert else 0)
    served = any(r.inner_type == 23 for r in records if not r.client and r.frame > after)
    server_close = [fr.number for fr in frames if not fr.client and (fr.fin or fr.rst) and fr.number > after]
    rejected_why = []
    if any(lvl == 2 for _, lvl, _ in s_alerts):
        rejected_why.append("fatal alert")
    if http_status is not None and http_status >= 400:
        rejected_why.append(f"HTTP {http_status}")
    if not served and server_close and after:
        rejected_why.append(f"closed (frame {server_close[0]}) without application data")
    server_rejected = "yes" if rejected_why else "no"

    tickets = [(r.frame, r.length, sum(1 for t, _, _ in r.handshakes if t == 4)) for r in hs_frames(False, 4)]
    n_tickets = sum(1 for r in records if not r.client for t, _, _ in r.handshakes if t == 4)
    # The server's flight: its frames from the ServerHello to its Finished. The client's: its frames after
    # the ServerHello up to its Finished, or (no Finished) those carrying only CCS / handshake records.
    server_flight = flight(frames, False, sh[0].frame, (s_fin[0].frame + 1) if s_fin else sh[0].frame + 1) if sh else ""
    if c_fin:
        client_flight = flight(frames, True, sh[0].frame + 1 if sh else 0, c_fin[0].frame + 1)
    else:
        hs_only = [
            fr.number
            for fr in frames
            if fr.client
            and sh
            and fr.number > sh[0].frame
            and fr.records
            and all(r.outer_type == 20 or r.inner_type == 22 for r in fr.records)
        ]
        client_flight = flight(frames, True, hs_only[0], hs_only[-1] + 1) if hs_only else ""
    padding = [f"f{r.frame} {'c' if r.client else 's'} {r.label()}: {r.padding}" for r in records if r.padding]
    if any(r.encrypted and r.plain_len is None for r in records):
        problems.append("some decrypted record lengths could not be matched (padding unknown)")

    # Checks that hold whatever the stacks.
    if scenario in ("ok", "norequest") and (server_rejected != "no" or http_status != 200):
        problems.append(f"{scenario}: expected HTTP 200 without refusal, got {http_status} / {', '.join(rejected_why)}")
    if scenario == "norequest" and cr:
        problems.append("norequest: the server sent a CertificateRequest")
    if scenario != "norequest" and not cr:
        problems.append("no CertificateRequest")

    notes = [f"refused: {', '.join(rejected_why)}" if rejected_why else "served"]
    notes.append(
        f"tickets: {n_tickets}"
        + (" (" + " ".join(f"f{f}:{n}" + (f"x{k}" if k > 1 else "") for f, n, k in tickets) + ")" if tickets else "")
    )
    notes.append(f"server flight: {server_flight}")
    notes.append(f"client flight: {client_flight or '-'}")
    notes.append("padding: " + ("; ".join(padding) if padding else "none"))
    row = {
        "file": pcap.name,
        "server": server,
        "client": client,
        "scenario": scenario,
        "cipher_suite": cipher,
        "cert_request_frame": str(cr[0].frame) if cr else "",
        "client_certificate": client_certificate,
        "client_certificate_frame": str(c_cert[0].frame) if c_cert else "",
        "server_rejected": server_rejected,
        "server_alerts": fmt_alerts(s_alerts),
        "client_alerts": fmt_alerts(c_alerts),
        "http_status": str(http_status) if http_status is not None else "",
        "notes": " | ".join(notes),
    }
    return Facts(row, problems, tickets, server_flight, client_flight, padding)


# ----------------------------------------------------------------------------- reasons
def gist_client(text: str) -> str:
    line = " ".join(text.split())
    line = re.sub(r"\b[0-9A-F]{12,}:error:", "error:", line)
    return line[:160]


SERVER_PATTERNS = {
    "nginx": r"client (SSL certificate verify error|sent no required SSL certificate)[^,]*",
    "apache": r"(Certificate Verification: Error[^\[]*|SSL Library Error:.*|certificate verify failed.*|peer did not return a certificate.*)",
    "haproxy": r"\] \S+/\d+: (.*)",
    "sserver": r"(verify error:num=[0-9]+:.*|.*peer did not return a certificate.*|.*alert.*)",
    "gnutls": r"(Error in handshake.*|- Status: .*|\*\*\* .*)",
    "python": r"\): (.*)",
}


def gist_server(server: str, text: str) -> str:
    found = []
    for line in text.splitlines():
        m = re.search(SERVER_PATTERNS[server], line)
        if m:
            g = " ".join((m.group(1) if m.groups() else m.group(0)).split())
            g = re.sub(r"\b[0-9A-F]{12,}:error:", "error:", g)
            if g and g not in found:
                found.append(g)
    return "; ".join(found)[:200]


def old_reasons(manifest: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    if not manifest.exists():
        return out
    with manifest.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            parts = row.get("notes", "").split(" | ")
            c = next((p[len("client said: ") :] for p in parts if p.startswith("client said: ")), "")
            s = next((p[len("server said: ") :] for p in parts if p.startswith("server said: ")), "")
            out[row["file"]] = (c, s)
    return out


# ----------------------------------------------------------------------------- README
def versions() -> list[str]:
    def run(cmd: list[str], pattern: str = "") -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        for line in (p.stdout + p.stderr).splitlines():
            if re.search(pattern, line):
                return line.strip()
        return "?"

    py = [sys.executable, "-c", "import ssl, sys; print('Python', sys.version.split()[0], 'with', ssl.OPENSSL_VERSION)"]
    return [
        f"nginx: `{run(['nginx', '-v'], 'version')}`",
        f"Apache httpd: `{run(['apache2', '-v'], 'Server version')}`",
        f"HAProxy: `{run(['haproxy', '-v'], 'version')}`",
        f"OpenSSL (s_server, s_client; also under nginx, Apache, HAProxy, curl, Python): `{run(['openssl', 'version'])}`",
        f"GnuTLS (gnutls-serv, gnutls-cli): `{run(['gnutls-cli', '--version'], 'gnutls')}`",
        f"curl: `{run(['curl', '--version'], '^curl')}`",
        f"Python: `{run(py)}`",
        f"tshark: `{run(['tshark', '--version'], 'TShark')}`",
        f"tcpdump: `{run(['tcpdump', '--version'], 'tcpdump')}`",
    ]


def uniq(items: list[str]) -> str:
    seen: list[str] = []
    for i in items:
        if i and i not in seen:
            seen.append(i)
    return ", ".join(seen) if seen else "—"


def structure(flight_text: str) -> str:
    """A flight's record structure without lengths and frame numbers: f6: [SH 122] [CCS 1] → [SH] [CCS]."""
    segs = []
    for seg in flight_text.split("; "):
        if not seg:
            continue
        recs = re.findall(r"\[([^\]]+?) \d+\]", seg)
        segs.append(" ".join(f"[{r}]" for r in recs))
    return " / ".join(segs)


def fatal_of(alerts: str) -> list[str]:
    return [a.split(":", 2)[2] for a in alerts.split(",") if a and a.split(":")[1] == "fatal"]


def close_notify(alerts: str) -> bool:
    return any(a.endswith(":warning:close_notify") for a in alerts.split(",") if a)


def server_table(facts: list[Facts], ports: dict[str, int]) -> str:
    by = defaultdict(list)
    for f in facts:
        by[f.row["server"]].append(f)
    lines = [
        "| server | port | its flight, ServerHello to Finished (records; `/` = next TCP segment) | close_notify after serving | nocert | rejected (foreign CA) | expired |",
        "|---|---|---|---|---|---|---|",
    ]

    def refusal(fs: list[Facts], scen: str) -> str:
        out = []
        for f in fs:
            if f.row["scenario"] != scen:
                continue
            r = f.row
            fatal = fatal_of(r["server_alerts"])
            if fatal:
                out.append("alert " + " then ".join(fatal))
            elif r["http_status"]:
                out.append(
                    f"HTTP {r['http_status']} after a completed handshake"
                    if r["server_rejected"] == "yes"
                    else f"served (HTTP {r['http_status']})"
                )
            elif r["server_rejected"] == "yes":
                out.append("closes without data")
            else:
                out.append("served")
        return uniq(out)

    for s in SERVERS:
        fs = by.get(s)
        if not fs:
            continue
        flights = uniq([structure(f.server_flight) for f in fs if f.row["scenario"] == "ok"])
        served = [f for f in fs if f.row["server_rejected"] == "no"]
        cn = uniq(["yes" if close_notify(f.row["server_alerts"]) else "no" for f in served])
        lines.append(
            f"| {SERVER_NAMES[s]} | {ports.get(s, '')} | {flights} | {cn} | "
            f"{refusal(fs, 'nocert')} | {refusal(fs, 'rejected')} | {refusal(fs, 'expired')} |"
        )
    return "\n".join(lines)


def ticket_table(facts: list[Facts]) -> str:
    by = defaultdict(list)
    for f in facts:
        by[f.row["server"]].append(f)
    lines = [
        "| server | " + " | ".join(SCENARIOS) + " |",
        "|---|" + "---|" * len(SCENARIOS),
    ]
    for s in SERVERS:
        fs = by.get(s)
        if not fs:
            continue
        cells = []
        for scen in SCENARIOS:
            vals = []
            for f in fs:
                if f.row["scenario"] != scen:
                    continue
                if not f.tickets:
                    vals.append("0")
                    continue
                lens = sorted({n for _, n, _ in f.tickets})
                count = sum(k for _, _, k in f.tickets)
                coalesced = " in 1 record" if any(k > 1 for _, _, k in f.tickets) else ""
                vals.append(f"{count}× {'/'.join(str(n) for n in lens)}{coalesced}")
            cells.append(uniq(sorted(set(vals), key=vals.index)) if vals else "—")
        lines.append(f"| {SERVER_NAMES[s]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def client_table(facts: list[Facts]) -> str:
    by = defaultdict(list)
    for f in facts:
        by[f.row["client"]].append(f)
    lines = [
        "| client | its flight with a certificate (ok) | with no certificate (nocert) | certificates sent: ok / rejected / expired | close_notify at the end of a served connection | fatal alerts it sent |",
        "|---|---|---|---|---|---|",
    ]
    for c in CLIENTS:
        fs = by.get(c)
        if not fs:
            continue

        def certs(scen: str, fs: list[Facts] = fs) -> str:
            return uniq([f.row["client_certificate"] for f in fs if f.row["scenario"] == scen])

        ok = uniq([structure(f.client_flight) for f in fs if f.row["scenario"] == "ok"])
        nocert = uniq([structure(f.client_flight) for f in fs if f.row["scenario"] == "nocert"])
        served = [f for f in fs if f.row["server_rejected"] == "no"]
        cn = uniq(["yes" if close_notify(f.row["client_alerts"]) else "no" for f in served])
        fatal = uniq(
            [
                f"{a} (to {SERVER_NAMES[f.row['server']]}, {f.row['scenario']})"
                for f in fs
                for a in fatal_of(f.row["client_alerts"])
            ]
        )
        lines.append(
            f"| {CLIENT_NAMES[c]} | {ok} | {nocert} | {certs('ok')} / {certs('rejected')} / {certs('expired')} | {cn} | {fatal} |"
        )
    return "\n".join(lines)


def matrix_table(facts: list[Facts]) -> str:
    have = {(f.row["server"], f.row["client"], f.row["scenario"]): f.row for f in facts}
    lines = [
        "| server \\ client | " + " | ".join(CLIENT_NAMES[c] for c in CLIENTS) + " |",
        "|---|" + "---|" * len(CLIENTS),
    ]
    for s in SERVERS:
        cells = []
        for c in CLIENTS:
            made = []
            for scen in SCENARIOS:
                r = have.get((s, c, scen))
                if r:
                    made.append(f"{scen} {'✗' if r['server_rejected'] == 'yes' else '✓'}")
            cells.append(", ".join(made) if made else "—")
        if any(cell != "—" for cell in cells):
            lines.append(f"| {SERVER_NAMES[s]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def padding_text(facts: list[Facts]) -> str:
    padded = [f"`{f.row['file']}`: {'; '.join(f.padding)}" for f in facts if f.padding]
    if not padded:
        return "No record in any capture is padded: every encrypted record's length is its decrypted content + 1 (inner type) + 16 (AEAD tag)."
    return "Padded records (frame, side, content: padding bytes):\n\n" + "\n".join(f"- {p}" for p in padded)


def render_section(facts: list[Facts], ports: dict[str, int]) -> str:
    total = sum(1 for _ in facts)
    return SECTION.format(
        total=total,
        matrix=matrix_table(facts),
        servers=server_table(facts, ports),
        tickets=ticket_table(facts),
        clients=client_table(facts),
        padding=padding_text(facts),
        software="\n".join(f"- {v}" for v in versions()),
        ciphers=uniq(sorted({f.row["cipher_suite"] for f in facts})),
        port_example=ports.get("nginx", 18461),
    )


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
## TLS 1.3 stacks (`tls13-stacks/`)

{total} captures of **real TLS 1.3 mutual-TLS connections between six server stacks and four client
stacks**, one connection per capture, each with the NSS key log its client wrote. They are for
measuring what can be told from encrypted TLS 1.3 records (sizes, counts, order, who closes) without
the keys, with the decrypted capture as the truth: `tls13-stacks/MANIFEST.tsv` holds that truth, one
row per capture, every value read by tshark with the key log.

Regenerate: `bash samples/make_tls13_stacks.sh` (or `bash samples/make_samples.sh tls13-stacks`), as
root. It removes and rewrites `tls13-stacks/` and this section, nothing else, and installs nothing:
it needs nginx, apache2, haproxy and gnutls-bin (it says which are missing; `SKIP_SERVERS` /
`SKIP_CLIENTS` leave stacks out). Everything runs in a private network namespace (`unshare --net`)
whose only interface is its own loopback (gnutls-serv cannot be told to listen on 127.0.0.1 only);
each server, client and tcpdump is stopped by its pid. The PKI is `verdict/pki/` (read only). Note:
`make_samples.sh` with no argument rewrites this README from its template, which drops this
section; it puts it back afterwards from the captures already in `tls13-stacks/`.

**Servers** (TLS 1.3 only, each requiring a client certificate and verifying it against
`verdict/pki/trust-root-and-client-ca.pem`, server certificate `verdict/pki/server.pem`):
nginx (`ssl_verify_client on`), Apache httpd with mod_ssl (`SSLVerifyClient require`), HAProxy
(`verify required`, `http-request return status 200`), `openssl s_server -Verify 2
-verify_return_error -WWW`, `gnutls-serv --require-client-cert --verify-client-cert --http`, and a
Python `ssl` server (`ssl.CERT_REQUIRED`, `samples/tls13_stacks_py.py`).
**Clients**: curl (`SSLKEYLOGFILE`), `openssl s_client -keylogfile`, `gnutls-cli` (`SSLKEYLOGFILE`),
Python `ssl` (`SSLContext.keylog_filename`). Each sends `GET /ok.txt HTTP/1.0` (curl: HTTP/1.1).

**Scenarios**: `ok` client-ok + client-ca (good chain); `nocert` no client certificate configured;
`rejected` client-foreign (issued by Foreign Root CA, which the server does not trust); `expired`
client-expired + client-ca (expired 2025-01-01); `norequest` the same server configured not to ask
for a certificate (client-ok configured on the client). File names: `tls13-<server>-<client>-<scenario>.pcap`
and `.keylog`. ✓ = served, ✗ = the server refused (MANIFEST `server_rejected`):

{matrix}

**MANIFEST.tsv columns**: `cipher_suite` (ServerHello); `cert_request_frame` (empty: no
CertificateRequest); `client_certificate` (number of certificates in the client's Certificate,
`empty` for a Certificate with none, `none` when the client sent no Certificate message) and its
frame; `server_rejected` (`yes`: a fatal alert from the server, an HTTP status >= 400, or the server
closing after the client's flight without sending application data); `server_alerts` /
`client_alerts` (`frame:level:description`, RFC 8446 names); `http_status`; `notes`: why it was
refused, the NewSessionTickets (count, frames, record lengths), the server's flight and the client's
flight as records per TCP segment (`f8: [CCS 1] [Cert 1816] [CV 281] [Fin 69]` = frame 8 carried
those records, with their record-header lengths; `A+B` = two handshake messages in one record), the
padding, and what the client and the server said (`client said:` / `server said:`, from their output
and logs, not from the capture). Cipher suites seen: {ciphers}. Ports (inside the namespace): see the
table below; decrypt one by hand with

```
cd samples/tls13-stacks
tshark -r tls13-nginx-curl-ok.pcap -o tls.keylog_file:tls13-nginx-curl-ok.keylog -d tcp.port=={port_example},tls \\
  -o http.desegment_body:FALSE
```

(`http.desegment_body:FALSE`: an HTTP/1.0 answer without Content-Length is otherwise held back
waiting for more body, and its status is not shown.)

### Per server (from the captures)

{servers}

NewSessionTickets the server sent, per scenario (count × record length; several lengths when they
differ between clients). Compare a server's tickets with and without a client certificate (nginx's
nocert with its other scenarios; norequest with ok): the ticket grows by about one certificate,
which OpenSSL's stateless ticket carries in the session it encrypts:

{tickets}

### Per client (from the captures)

{clients}

### What these captures show (observed with the versions below)

- **Every handshake message has a record of its own**, on both sides and in every stack: the
  server's EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished are
  five records, the client's Certificate, CertificateVerify, Finished three. No stack coalesces
  handshake messages into one record, and none pads: a record's length is its content + 17. So,
  without keys, the client's flight gives itself away: an empty Certificate is a 25-byte record
  followed by no CertificateVerify (`nocert`), one certificate is ~920 bytes (`rejected`,
  client-foreign alone), leaf + intermediate ~1,820 (`ok`, `expired`), and the 281-byte
  CertificateVerify (RSA-2048) is there whenever a certificate is.
- **Where they differ is the TCP segmentation.** gnutls-serv sends ServerHello + CCS in one segment
  and its encrypted flight in the next; the OpenSSL-based servers send all in one. gnutls-cli sends
  its CCS in a segment of its own and often puts its HTTP request in the same segment as its
  Finished.
- **The server's flight differs in two records.** The CertificateRequest lists the trusted CA
  names (certificate_authorities: 202 bytes; gnutls-serv's 206 also carries status_request) except
  the Python server's, 62 bytes with signature_algorithms only (`load_verify_locations` sets no
  client-CA list). The server's Certificate is the leaf alone (953 bytes) from nginx, HAProxy and
  gnutls-serv, leaf + root CA (1,839) from Apache, s_server and the Python server, apparently
  completed from the CA file they verify clients with (the Python server without one, in
  `norequest`, sends the leaf alone).
- **How a refusal looks.** The OpenSSL-based servers (Apache, HAProxy, s_server, Python) refuse in
  the handshake with one fatal alert that names the cause: certificate_required (no certificate),
  unknown_ca (foreign CA), certificate_expired. gnutls-serv sends two fatal alerts,
  access_denied then bad_certificate, for both the foreign CA and the expired certificate, so its
  alerts do not tell these apart. nginx never alerts: it completes the handshake, sends
  NewSessionTickets and answers `400` over HTTP, then closes with close_notify.
- **An alert's size says nothing**: every alert record, fatal or close_notify, is 19 bytes (2 + 1 +
  16). What marks a refusal is where it comes: a server record right after the client's flight,
  with no NewSessionTicket and no application data from the server before it, then the close.
  Whether the client's first request is on the wire before the alert is a matter of timing (the
  alert frames in MANIFEST.tsv vary between runs).
- **Tickets mark a completed handshake.** Every server sends two NewSessionTickets after a
  handshake it accepted and none after one it refused with an alert; nginx, which refuses over HTTP,
  sends them in every scenario.
- **A fatal alert from the client is not a refusal.** The Python server closes the socket after its
  answer without close_notify (no `unwrap()`); s_client and the Python client (OpenSSL 3) treat
  the EOF as an error and send a fatal decode_error alert although they were served (`ok`,
  `norequest`).

### Record padding

{padding}

### Software used

{software}
"""


# ----------------------------------------------------------------------------- main
NAME = re.compile(r"^tls13-([a-z]+)-([a-z]+)-([a-z]+)\.pcap$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--ports", required=True, help="server=port,...")
    parser.add_argument("--reasons", type=Path)
    parser.add_argument("--readme", type=Path)
    parser.add_argument(
        "--readme-only",
        action="store_true",
        help="write the README section only; keep MANIFEST.tsv (and take its notes' said-parts)",
    )
    args = parser.parse_args()
    if args.readme_only and (args.reasons or not args.readme):
        parser.error("--readme-only needs --readme and no --reasons")
    ports = {k: int(v) for k, v in (p.split("=") for p in args.ports.split(","))}
    manifest = args.dir / "MANIFEST.tsv"
    previous = {} if args.reasons else old_reasons(manifest)

    def order(p: Path) -> tuple[int, int, int]:
        m = NAME.match(p.name)
        assert m
        return SERVERS.index(m.group(1)), CLIENTS.index(m.group(2)), SCENARIOS.index(m.group(3))

    pcaps = sorted((p for p in args.dir.glob("tls13-*.pcap") if NAME.match(p.name)), key=order)
    facts: list[Facts] = []
    problems: list[str] = []
    for pcap in pcaps:
        server, client, scenario = NAME.match(pcap.name).groups()  # type: ignore[union-attr]
        f = describe(pcap, ports[server], server, client, scenario)
        if args.reasons:
            c = (
                gist_client((args.reasons / f"{pcap.stem}.client").read_text(errors="replace"))
                if (args.reasons / f"{pcap.stem}.client").exists()
                else ""
            )
            s = (
                gist_server(server, (args.reasons / f"{pcap.stem}.server").read_text(errors="replace"))
                if (args.reasons / f"{pcap.stem}.server").exists()
                else ""
            )
        else:
            c, s = previous.get(pcap.name, ("", ""))
        if c:
            f.row["notes"] += f" | client said: {c}"
        if s:
            f.row["notes"] += f" | server said: {s}"
        facts.append(f)
        problems += [f"{pcap.name}: {p}" for p in f.problems]

    if not args.readme_only:
        with manifest.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
            w.writeheader()
            for f in facts:
                w.writerow(f.row)
        print(f"{manifest}: {len(facts)} rows")
    if args.readme:
        write_readme(args.readme, render_section(facts, ports))
        print(f"{args.readme}: tls13-stacks section written")
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
