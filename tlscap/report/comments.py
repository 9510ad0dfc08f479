"""Packet comments for `tlscap annotate`: what each frame a finding or a verdict names gets written on it.

The verdict goes on the connection's first frame (the SYN, or the first frame seen); each finding on every
frame it names; a frame the verdict names that no finding names gets a line pointing to the verdict. Each
comment starts with `tlscap tcp.stream N:`, so a Wireshark display filter `frame.comment contains "tlscap"`
lists them, and `tcp.stream == N` the connection.
"""

from __future__ import annotations

from tlscap.analysis.model import Connection
from tlscap.report.grouping import cause_severity
from tlscap.report.safe_text import safe
from tlscap.report.text_report import MARK, VERDICT_MARK, verdict_standing


def connection_comments(conn: Connection) -> dict[int, list[str]]:
    """Frame number -> the comments for it, in the order the report lists them."""
    out: dict[int, list[str]] = {}
    head = f"tlscap {'udp' if conn.dtls else 'tcp'}.stream {conn.id}:"
    d = conn.diagnosis
    if d is not None:
        mark = VERDICT_MARK.get(d.cause, MARK[cause_severity(d.cause)])
        text = f"{head} verdict {mark} {d.cause} ({verdict_standing(d)}): {safe(d.summary)}"
        if d.cause != "ok":
            text += f" Fix: {safe(d.fix)}"
        out.setdefault(conn.first_frame, []).append(text)
    named: set[int] = set()
    for f in conn.findings:
        for frame in dict.fromkeys(f.frames):
            named.add(frame)
            out.setdefault(frame, []).append(f"{head} {MARK[f.severity]} {f.code}: {safe(f.message)}")
    if d is not None:
        for frame in dict.fromkeys(d.frames):
            if frame not in named and frame != conn.first_frame:
                out.setdefault(frame, []).append(f"{head} evidence for the verdict {d.cause} (frame "
                                                 f"{conn.first_frame} has it)")
    return out
