"""JSON (schema 2) and JSON Lines renderings of the report model, as DESIGN.md specifies.

The output is always valid UTF-8, and a JSON Lines line is one line for any line splitter: strings
are kept as they are (JSON escapes control characters itself; U+0085, U+2028 and U+2029 are escaped
too), except lone surrogates, which no UTF-8 encoder accepts; they are written as visible escapes
(`safe_text.without_surrogates`: a path with an undecodable byte 0xe9 shows `\\xe9`).

A connection's line is joined from JSON fragments (`connection_json`): each certificate's JSON text is
made once per certificate object and reused on every connection that sends it.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections import Counter
from typing import Any, TextIO

from tlscap import __version__
from tlscap.analysis.model import (
    CaptureReport,
    CertificateChainInfo,
    CertificateRequestInfo,
    Connection,
    Diagnosis,
    HandshakeEntry,
    Report,
)
from tlscap.pki.certificate import CertificateSummary
from tlscap.pki.memo import IdentityMemo
from tlscap.report.safe_text import without_surrogates
from tlscap.report.writer import write_report
from tlscap.timefmt import iso_time
from tlscap.tls.record_sizes import Tls13Inference

SCHEMA = 2
_UNSAFE_IN_JSON = re.compile("[\x85\u2028\u2029\ud800-\udfff]")
# json.dumps(value, ensure_ascii=False), made once (the report's values hold no cycles to check for).
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)
# Certificates whose JSON text is remembered.
CERT_JSON_CACHE_SIZE = 4096


def connection_dict(conn: Connection) -> dict[str, Any]:
    return (_scalars_dict(conn)
            | {"handshake": [_handshake_dict(h) for h in conn.handshake],
               "certificate_request": _request_dict(conn.certificate_request),
               "client_certificate": _chain(conn.client_certificate),
               "server_certificate": _chain(conn.server_certificate)}
            | _tail_dict(conn))


def connection_json(conn: Connection) -> str:
    """`dumps(connection_dict(conn))`, joined from fragments: the handshake list is written directly, and
    each certificate's JSON text is made once per certificate."""
    head, tail = dumps(_scalars_dict(conn)), dumps(_tail_dict(conn))
    handshake = ", ".join(_handshake_json(h) for h in conn.handshake)
    cr = conn.certificate_request
    request = "null" if cr is None else dumps(_request_dict(cr))
    return (f'{head[:-1]}, "handshake": [{handshake}], "certificate_request": {request}, '
            f'"client_certificate": {_chain_json(conn.client_certificate)}, '
            f'"server_certificate": {_chain_json(conn.server_certificate)}, {tail[1:]}')


def _scalars_dict(conn: Connection) -> dict[str, Any]:
    """The members of a connection's object before its handshake."""
    return {
        "id": conn.id,
        # DESIGN.md: DTLS connections carry "transport": "udp"; a missing transport means tcp.
        **({"transport": conn.transport} if conn.transport != "tcp" else {}),
        "client": {"ip": conn.client.ip, "port": conn.client.port},
        "server": {"ip": conn.server.ip, "port": conn.server.port},
        "first_frame": conn.first_frame,
        "last_frame": conn.last_frame,
        "sni": conn.sni,
        "version": conn.version,
        "cipher_suite": conn.cipher_suite,
        "decrypted": conn.decrypted,
        "start_time": iso_time(conn.first_time_ns),
        "wireshark_filter": wireshark_filter(conn),
        "client_fingerprint": fingerprint_dict(conn),
        "client_stack": stack_dict(conn),
        "diagnosis": diagnosis_dict(conn.diagnosis),
    }


def fingerprint_dict(conn: Connection) -> dict[str, str | None] | None:
    fp = conn.client_fingerprint
    if fp is None:
        return None
    return {"ja4": fp.ja4, "ja4_r": fp.ja4_r, "ja3": fp.ja3, "ja3_full": fp.ja3_full}


def stack_dict(conn: Connection) -> dict[str, Any] | None:
    match = conn.client_stack
    if match is None:
        return None
    return {"family": match.stack.family, "name": match.label,
            "selects_certificate_by_ca_list": match.stack.selects_by_ca_list, "matched_by": match.matched_by}


def wireshark_filter(conn: Connection) -> str:
    """A display filter that shows this connection in Wireshark: its id is Wireshark's tcp.stream (udp.stream
    for DTLS)."""
    return f"{stream_field(conn)} == {conn.id}"


def stream_field(conn: Connection) -> str:
    """Wireshark's field that numbers this connection: tcp.stream, or udp.stream for DTLS."""
    return "udp.stream" if conn.transport == "udp" else "tcp.stream"


def record_sizes_dict(inference: Tls13Inference) -> dict[str, Any]:
    """TLS 1.3 without keys: what the record sizes say, and the records each answer rests on."""
    return {
        "certificate_requested": inference.certificate_requested,
        "client_certificate": inference.client_certificate,
        "client_certificate_bytes": inference.client_certificate_bytes,
        "server_rejected": inference.server_rejected,
        "certainty": "certain" if inference.certain else "likely" if inference.answered else "undecided",
        "basis": [{"frame": r.frame, "from": "client" if r.from_client else "server", "length": r.length,
                   "carries": r.carries, "why": r.basis} for r in inference.readings],
        "notes": list(inference.notes),
    }


def diagnosis_dict(d: Diagnosis | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"cause": d.cause, "side": d.side, "certainty": d.certainty, "summary": d.summary, "fix": d.fix,
            "frames": list(d.frames), "evidence": list(d.evidence), "alternatives": list(d.alternatives),
            "decide_with": d.decide_with}


def _handshake_dict(h: HandshakeEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"frame": h.frame, "from": h.sender, "message": h.message, "frames": list(h.frames)}
    if h.encrypted:
        out["encrypted"] = True
    if h.count > 1:
        out["count"], out["last_frame"] = h.count, h.last_frame
    if h.retransmission:
        out["retransmission"] = True
    return out


def _handshake_json(h: HandshakeEntry) -> str:
    """`dumps(_handshake_dict(h))`, written directly (frames are ints)."""
    frames = ", ".join(map(str, h.frames))
    encrypted = ', "encrypted": true' if h.encrypted else ""
    repeated = f', "count": {h.count:d}, "last_frame": {h.last_frame:d}' if h.count > 1 and h.last_frame else ""
    again = ', "retransmission": true' if h.retransmission else ""
    return (f'{{"frame": {h.frame:d}, "from": {_json_str(h.sender)}, "message": {_json_str(h.message)}, '
            f'"frames": [{frames}]{encrypted}{repeated}{again}}}')


@functools.lru_cache(maxsize=1024)
def _json_str(text: str) -> str:
    return dumps(text)


def _request_dict(cr: CertificateRequestInfo | None) -> dict[str, Any] | None:
    if cr is None:
        return None
    return {
        "frame": cr.frame,
        "ca_names": list(cr.ca_names),
        "signature_algorithms": list(cr.signature_algorithms),
        "certificate_types": list(cr.certificate_types),
    }


def _chain(info: CertificateChainInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"frame": info.frame, "chain": [c.to_dict() for c in info.chain]}


def _chain_json(info: CertificateChainInfo | None) -> str:
    """`dumps(_chain(info))`, with each certificate's JSON text remembered."""
    if info is None:
        return "null"
    return f'{{"frame": {info.frame:d}, "chain": [{", ".join(_cert_json(c) for c in info.chain)}]}}'


def _cert_text(cert: CertificateSummary) -> str:
    return dumps(cert.to_dict())


_cert_json: IdentityMemo[str] = IdentityMemo(_cert_text, CERT_JSON_CACHE_SIZE)


def _tail_dict(conn: Connection) -> dict[str, Any]:
    """The members of a connection's object after its certificates."""
    return {
        "alerts": [
            {"frame": a.frame, "from": a.sender, "level": a.level, "description": a.description,
             "encrypted": a.encrypted} | ({"inferred": True} if a.inferred else {})
            | ({"count": a.count, "last_frame": a.last_frame} if a.count > 1 else {})
            for a in conn.alerts
        ],
        "http": None if conn.http is None else {
            "frame": conn.http.frame, "status": conn.http.status, "title": conn.http.title,
        },
        "outcome": conn.outcome,
        **({"record_sizes": record_sizes_dict(conn.record_inference)} if conn.record_inference else {}),
        "findings": [
            {"code": f.code, "severity": f.severity, "frames": list(f.frames), "message": f.message,
             "fix": f.fix}
            for f in conn.findings
        ],
    }


def capture_dict(cap: CaptureReport) -> dict[str, Any]:
    return {
        "path": cap.path,
        "format": cap.format,
        "link_types": list(cap.link_types),
        "frames": cap.frames,
        "first_time": iso_time(cap.first_time_ns),
        "last_time": iso_time(cap.last_time_ns),
        "errors": [{"code": e.code, "message": e.message} for e in cap.errors],
        "connections": [connection_dict(c) for c in cap.connections],
    }


def summary_dict(report: Report) -> dict[str, Any]:
    by_code: Counter[str] = Counter()
    for cap in report.captures:
        by_code.update(cap.stats.by_code)
    by_cause: Counter[str] = Counter()
    for cap in report.captures:
        by_cause.update(cap.stats.by_cause)
    return {
        "captures": len(report.captures),
        "connections": sum(cap.stats.connections for cap in report.captures),
        "connections_with_findings": sum(cap.stats.with_findings for cap in report.captures),
        "findings_by_code": dict(sorted(by_code.items())),
        "connections_by_cause": dict(sorted(by_cause.items())),
        "connections_excluded": sum(cap.excluded for cap in report.captures),
        **({"server_log": report.server_log} if report.server_log is not None else {}),
    }


def dumps(value: Any, *, indent: int | None = None) -> str:
    """json.dumps without ASCII escaping, made safe to encode and to split into lines: a lone surrogate
    (it can only stand inside a string) becomes the JSON text of its visible escape (`\\\\xe9` for the
    string `\\xe9`), and the characters that `str.splitlines` and old JavaScript take for line breaks
    (U+0085, U+2028, U+2029) are written as JSON escapes, so a JSON Lines line stays one line."""
    text = _ENCODER.encode(value) if indent is None else json.dumps(value, indent=indent, ensure_ascii=False)
    if text.isascii() or _UNSAFE_IN_JSON.search(text) is None:
        return text
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return without_surrogates(char).replace("\\", "\\\\")
    return f"\\u{ord(char):04x}"


def _dumps(value: Any, indent: int) -> str:
    text = dumps(value, indent=2)
    return text.replace("\n", "\n" + " " * indent)


class JsonWriter:
    """Writes the schema-1 document as the analysis goes: each connection as soon as it is handed on.

    Inside a capture object, "connections" comes right after "path" and the capture's totals follow
    it (JSON objects are unordered; this order is what lets the report stream). Each connection is
    one line.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._first_capture = True
        self._first_connection = True
        out.write(f'{{\n  "tool": "tlscap",\n  "version": {json.dumps(__version__)},\n  "schema": {SCHEMA},\n'
                  '  "captures": [')

    def begin_capture(self, path: str) -> None:
        lead = "\n" if self._first_capture else ",\n"
        self.out.write(f'{lead}    {{\n      "path": {dumps(path)},\n      "connections": [')
        self._first_capture = False
        self._first_connection = True

    def connection(self, conn: Connection) -> None:
        # One line per connection: the C encoder (no indent) is several times faster on big captures.
        self.connection_text(connection_json(conn))

    def connection_text(self, text: str) -> None:
        """A connection already rendered by `connection_json` (a scan worker renders its own)."""
        self.out.write(("\n" if self._first_connection else ",\n") + "        " + text)
        self._first_connection = False

    def end_capture(self, cap: CaptureReport) -> None:
        rest = capture_dict(cap)
        del rest["path"], rest["connections"]
        body = _dumps(rest, 4)[1:-1].rstrip()  # the members of the object, without its braces
        self.out.write(("\n      ]," if not self._first_connection else "],") + body + "\n    }")

    def finish(self, report: Report) -> None:
        self.out.write(("\n  ]" if not self._first_capture else "]") + ',\n  "summary": '
                       + _dumps(summary_dict(report), 2) + "\n}\n")


class JsonlWriter:
    """One line per connection, with `capture` added, written as each connection is handed on."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lead = '{"capture": "", '

    def begin_capture(self, path: str) -> None:
        self._lead = f'{{"capture": {dumps(path)}, '

    def connection(self, conn: Connection) -> None:
        self.connection_text(connection_json(conn))
        self.out.flush()

    def connection_text(self, text: str) -> None:
        """A connection already rendered by `connection_json` (a scan worker renders its own)."""
        self.out.write(self._lead + text[1:] + "\n")

    def end_capture(self, cap: CaptureReport) -> None:
        pass

    def finish(self, report: Report) -> None:
        pass


def report_dict(report: Report) -> dict[str, Any]:
    return json.loads(render_json(report))


def render_json(report: Report) -> str:
    out = io.StringIO()
    write_report(JsonWriter(out), report)
    return out.getvalue()


def render_jsonl(report: Report) -> str:
    out = io.StringIO()
    write_report(JsonlWriter(out), report)
    return out.getvalue()
