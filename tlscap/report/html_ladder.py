"""The HTML report's ladder diagram: a connection's timeline drawn as arrows between client and server
(inline SVG), one arrow per frame and direction, with the details of each in its hover text.

Every string from a capture goes through `h` (html_page), in text and attributes alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tlscap.analysis.model import SEVERITY_RANK, Connection
from tlscap.analysis.timeline import (
    ItemKind,
    JudgedCertificate,
    TimelineItem,
    connection_timeline,
    judge_validity,
    judged_time,
)
from tlscap.report.html_page import h
from tlscap.tls.constants import HandshakeType

# Ladder geometry (px). Labels are monospace 12px (about 7.2px a character), notes 11px (6.6px).
_WIDTH = 1000
_CLIENT_X = 180
_SERVER_X = 900
_TOP = 78
_ROW = 36
_ROW_WITH_NOTE = 50
_LABEL_CHARS = int((_SERVER_X - _CLIENT_X - 16) / 7.2)
_NOTE_CHARS = int((_SERVER_X - _CLIENT_X - 16) / 6.6)
_KIND_RANK = {"plain": 0, "end": 1, "cert": 2, "alert": 3}


@dataclass(slots=True)
class Arrow:
    """One arrow of a ladder: what one frame carried in one direction (the timeline's steps of that frame
    and direction, drawn as one)."""

    frame: int
    sender: str
    offset_s: float = 0.0  # since the connection's first frame
    items: list[str] = field(default_factory=list)
    kind: str = "plain"  # plain | cert | alert | end
    notes: list[str] = field(default_factory=list)  # short lines drawn under the arrow
    details: list[str] = field(default_factory=list)  # the hover text's lines

    def label(self) -> str:
        return ", ".join(self.items)


def _cert_lines(judged: JudgedCertificate, index: int) -> list[str]:
    cert = judged.certificate
    lines = [f"[{index}] {cert.subject_rfc4514 or '(empty subject)'}",
             f"    issued by {cert.issuer_rfc4514 or '(empty issuer)'}"]
    if cert.not_before_utc is not None and cert.not_after_utc is not None:
        mark = judged.validity.mark
        lines.append(f"    valid {cert.not_before_utc:%Y-%m-%d} … {cert.not_after_utc:%Y-%m-%d}"
                     f"{'  ' + mark if mark else ''}")
    lines.append(f"    sha256 {cert.sha256_hex}")
    return lines


def _kind(item: TimelineItem, failing: bool) -> str:
    """Red for an alert that ends a failure and for an HTTP error; close_notify and unremarkable encrypted
    alerts are plain."""
    if item.kind is ItemKind.ALERT:
        return "alert" if item.failure or failing else "plain"
    if item.kind is ItemKind.HTTP:
        return "alert" if item.failure else "plain"
    if item.kind is ItemKind.END:
        return "end"
    return "cert" if item.summary is not None else "plain"


def _notes_and_details(item: TimelineItem) -> tuple[list[str], list[str]]:
    """What the arrow shows under itself and in its hover text of a CertificateRequest's CA names or the
    client's chain. (The client's stack, under the ClientHello in the text, heads the connection's article.)"""
    if item.summary is None:
        return [], []
    if item.msg_type == HandshakeType.CERTIFICATE_REQUEST:
        listed = (": " + "; ".join(ca.name for ca in item.ca_names)) if item.ca_names else ""
        details = [f"CertificateRequest: {item.summary}"]
        details += [f"  {i}. {ca.name}{'  ' + ca.mark if ca.mark else ''}" for i, ca in enumerate(item.ca_names, 1)]
        if item.not_advertised:
            details.append("  in the truststore but not advertised (not loaded by the server?):")
            details.extend(f"     - {name}" for name in item.not_advertised)
        return [item.summary + listed], details
    if not item.chain:
        return [item.summary], ["client Certificate: empty, no client certificate sent"]
    leaf = item.chain[0]
    mark = leaf.validity.mark
    note = f"{item.summary}: {leaf.certificate.subject_rfc4514 or '(empty subject)'}" + ("  " + mark if mark else "")
    details = [f"client Certificate: {item.summary}"]
    for i, cert in enumerate(item.chain):
        details.extend(_cert_lines(cert, i))
    return [note], details


def ladder_arrows(conn: Connection, at: datetime | None = None) -> list[Arrow]:
    """One arrow per frame (and direction) that carried handshake messages, alerts, HTTP, FIN or RST."""
    failing = _failure_frames(conn)
    sc = conn.server_certificate  # its chain goes in the hover text of the server's first Certificate
    arrows: list[Arrow] = []
    for step in connection_timeline(conn, at):
        arrow = arrows[-1] if arrows else None
        if arrow is None or arrow.frame != step.frame or arrow.sender != step.sender:
            arrow = Arrow(step.frame, step.sender, step.offset_s)
            arrows.append(arrow)
        for item in step.items:
            arrow.items.append(item.label)
            kind = _kind(item, step.frame in failing)
            if _KIND_RANK[kind] > _KIND_RANK[arrow.kind]:
                arrow.kind = kind
            notes, details = _notes_and_details(item)
            arrow.notes.extend(notes)
            arrow.details.extend(details)
            if (sc is not None and item.msg_type == HandshakeType.CERTIFICATE and step.sender == "server"
                    and step.frame == sc.frame):
                when = judged_time(conn, at, sc.frame)
                arrow.details.append(f"server Certificate: chain of {len(sc.chain)}")
                for i, cert in enumerate(sc.chain):
                    arrow.details.extend(_cert_lines(JudgedCertificate(certificate=cert,
                                                                       validity=judge_validity(cert, when)), i))
                sc = None
    return arrows


def _failure_frames(conn: Connection) -> set[int]:
    """Frames that a failing verdict or an error or warning finding names."""
    frames = {frame for f in conn.findings if f.severity in ("error", "warning") for frame in f.frames}
    d = conn.diagnosis
    if d is not None and d.cause != "ok":
        frames.update(d.frames)
    return frames


def _finding_frames(conn: Connection) -> dict[int, str]:
    """Frame → the worst severity of the findings that name it."""
    out: dict[int, str] = {}
    for f in conn.findings:
        for frame in f.frames:
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK.get(out.get(frame, ""), 0):
                out[frame] = f.severity
    return out


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def ladder_svg(conn: Connection, at: datetime | None = None) -> str:
    """The connection's ladder diagram as an inline SVG element."""
    arrows = ladder_arrows(conn, at)
    marked = _finding_frames(conn)
    mid = (_CLIENT_X + _SERVER_X) // 2
    rows: list[str] = []
    y = _TOP
    for ar in arrows:
        y += 18  # room for the label above the arrow
        x1, x2 = (_CLIENT_X, _SERVER_X) if ar.sender == "client" else (_SERVER_X, _CLIENT_X)
        tip = -10 if x2 > x1 else 10
        dt = ar.offset_s
        direction = "client → server" if ar.sender == "client" else "server → client"
        # One line each: a newline inside a capture's string is shown as an escape by `h`, these are not.
        title = "\n".join(h(line) for line in [f"frame {ar.frame}  +{dt:.3f} s  {direction}", ar.label(), *ar.details])
        height = _ROW_WITH_NOTE if ar.notes else _ROW
        sev = marked.get(ar.frame, "")
        parts = [
            f'<g class="ev k-{ar.kind}"><title>{title}</title>',
            f'<rect class="hit" x="4" y="{y - 16}" width="{_WIDTH - 8}" height="{height - 2}"/>',
            f'<text class="fr {sev}" x="10" y="{y + 4}">frame {ar.frame}</text>',
            f'<text class="fr" x="10" y="{y + 18}">+{dt:.3f}s</text>',
            f'<line x1="{x1}" y1="{y}" x2="{x2 + tip}" y2="{y}"/>',
            f'<polygon points="{x2},{y} {x2 + tip},{y - 5} {x2 + tip},{y + 5}"/>',
            f'<text class="lbl" x="{mid}" y="{y - 6}" text-anchor="middle">{h(_clip(ar.label(), _LABEL_CHARS))}</text>',
        ]
        if ar.notes:
            note = _clip(" · ".join(ar.notes), _NOTE_CHARS)
            parts.append(f'<text class="note" x="{mid}" y="{y + 16}" text-anchor="middle">{h(note)}</text>')
        parts.append("</g>")
        rows.append("".join(parts))
        y += height - 18
    bottom = y + 16
    head = [
        f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {bottom}" '
        f'width="{_WIDTH}" height="{bottom}" role="img" '
        f'aria-label="ladder diagram of connection {conn.id}: {h(conn.client)} to {h(conn.server)}">',
        f'<line class="life" x1="{_CLIENT_X}" y1="52" x2="{_CLIENT_X}" y2="{bottom - 6}"/>',
        f'<line class="life" x1="{_SERVER_X}" y1="52" x2="{_SERVER_X}" y2="{bottom - 6}"/>',
        f'<rect class="hdr" x="{_CLIENT_X - 90}" y="8" width="180" height="44" rx="4"/>',
        f'<text class="who" x="{_CLIENT_X}" y="26" text-anchor="middle">client</text>',
        f'<text x="{_CLIENT_X}" y="43" text-anchor="middle">{h(_clip(str(conn.client), 24))}</text>',
        f'<rect class="hdr" x="{_SERVER_X - 90}" y="8" width="180" height="44" rx="4"/>',
        f'<text class="who" x="{_SERVER_X}" y="26" text-anchor="middle">server</text>',
        f'<text x="{_SERVER_X}" y="43" text-anchor="middle">{h(_clip(str(conn.server), 24))}</text>',
    ]
    if not arrows:
        head.append(f'<text x="{mid}" y="{_TOP + 20}" text-anchor="middle">no handshake frames seen</text>')
    return "".join(head) + "".join(rows) + "</svg>"
