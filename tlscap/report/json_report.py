"""JSON (schema 1) and JSON Lines renderings of the report model, as DESIGN.md specifies."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tlscap import __version__
from tlscap.analysis.model import (
    CaptureReport,
    CertificateChainInfo,
    Connection,
    Report,
)
from tlscap.timefmt import iso_time

SCHEMA = 1


def _chain(info: CertificateChainInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"frame": info.frame, "chain": [c.to_dict() for c in info.chain]}


def connection_dict(conn: Connection) -> dict[str, Any]:
    cr = conn.certificate_request
    return {
        "id": conn.id,
        "client": {"ip": conn.client.ip, "port": conn.client.port},
        "server": {"ip": conn.server.ip, "port": conn.server.port},
        "first_frame": conn.first_frame,
        "last_frame": conn.last_frame,
        "sni": conn.sni,
        "version": conn.version,
        "cipher_suite": conn.cipher_suite,
        "decrypted": conn.decrypted,
        "handshake": [
            {"frame": h.frame, "from": h.sender, "message": h.message, "frames": list(h.frames)}
            | ({"encrypted": True} if h.encrypted else {})
            for h in conn.handshake
        ],
        "certificate_request": None if cr is None else {
            "frame": cr.frame,
            "ca_names": list(cr.ca_names),
            "signature_algorithms": list(cr.signature_algorithms),
            "certificate_types": list(cr.certificate_types),
        },
        "client_certificate": _chain(conn.client_certificate),
        "server_certificate": _chain(conn.server_certificate),
        "alerts": [
            {"frame": a.frame, "from": a.sender, "level": a.level, "description": a.description,
             "encrypted": a.encrypted}
            for a in conn.alerts
        ],
        "http": None if conn.http is None else {
            "frame": conn.http.frame, "status": conn.http.status, "title": conn.http.title,
        },
        "outcome": conn.outcome,
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
    conns = report.connections()
    by_code: Counter[str] = Counter(f.code for c in conns for f in c.findings)
    return {
        "captures": len(report.captures),
        "connections": len(conns),
        "connections_with_findings": sum(1 for c in conns if c.findings),
        "findings_by_code": dict(sorted(by_code.items())),
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "tool": "tlscap",
        "version": __version__,
        "schema": SCHEMA,
        "captures": [capture_dict(c) for c in report.captures],
        "summary": summary_dict(report),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def render_jsonl(report: Report) -> str:
    lines = []
    for cap in report.captures:
        for conn in cap.connections:
            lines.append(json.dumps({"capture": cap.path} | connection_dict(conn), ensure_ascii=False))
    return "".join(line + "\n" for line in lines)
