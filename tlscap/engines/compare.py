"""`tlscap compare`: run the native and the tshark engine on a capture and list every disagreement.

Each connection (by id, Wireshark's `tcp.stream`) is reduced to facts, as text:

- scalars: endpoints, the tunnels it came through, SNI, version, cipher suite, decrypted, outcome,
  HTTP response;
- lists: every handshake message (frame, direction, name, the frames it spans), every
  CertificateRequest (frame and CA names), every Certificate (frame, sender, each certificate's
  SHA-256), every alert, every FIN/RST, every finding (code and frames).

A scalar disagrees when the two values differ; a list item disagrees when one engine has it and
the other does not. A connection only one engine found is one disagreement, not one per fact.
The capture's errors are compared too. It is the differential test (tests/test_corpus_differential.py)
made a tool: useful on any capture a user distrusts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, Connection
from tlscap.engines.tshark_engine import analyze_capture_tshark
from tlscap.report.safe_text import safe

__all__ = ["Disagreement", "EngineComparison", "compare_engines", "compare_reports", "connection_facts"]

SCALAR_FACTS = ("endpoints", "tunnel", "sni", "version", "cipher_suite", "decrypted", "outcome", "http")
LIST_FACTS = ("handshake", "certificate_request", "certificate", "alert", "tcp_end", "finding")
SHA256_SHOWN = 16  # hex digits of a certificate's SHA-256 in a fact (64 bits: unique in practice)


@dataclass(frozen=True, slots=True, kw_only=True)
class Disagreement:
    """One fact the engines see differently. `connection` is None for the capture as a whole;
    `native` / `tshark` are what each engine says (None: it has no such fact)."""

    connection: int | None
    fact: str
    native: str | None
    tshark: str | None

    def __str__(self) -> str:
        where = "capture" if self.connection is None else f"connection {self.connection}"
        if self.native is not None and self.tshark is not None:
            return f"{where}: {self.fact}: native {self.native}; tshark {self.tshark}"
        only, value = ("native", self.native) if self.tshark is None else ("tshark", self.tshark)
        return f"{where}: {self.fact}: {only} only: {value}"


@dataclass(slots=True, kw_only=True)
class EngineComparison:
    """Both engines' reports of one capture and the facts on which they disagree."""

    path: str
    native: CaptureReport = field(repr=False)
    tshark: CaptureReport = field(repr=False)
    facts: int = 0  # facts compared (both engines' distinct facts together)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.disagreements

    def render_text(self) -> str:
        """A short text report: one line when the engines agree, else every disagreement by connection."""
        path = safe(self.path)
        counts = f"native {len(self.native.connections)}, tshark {len(self.tshark.connections)} connections"
        if self.agree and self.native.errors:  # what was read agrees, but not all of the file was read
            n = len(self.native.errors)
            return (f"{path}: damaged capture ({n} error{'s' if n != 1 else ''}, on standard error): "
                    f"no disagreement in the {self.native.frames} frames read ({counts}, {self.facts} facts)\n")
        if self.agree:
            return f"{path}: the engines agree ({counts}, {self.facts} facts)\n"
        n = len(self.disagreements)
        lines = [f"{path}: the engines disagree on {n} fact{'s' if n != 1 else ''} of {self.facts} ({counts})"]
        current: int | None | str = "none yet"
        for d in self.disagreements:
            if d.connection != current:
                current = d.connection
                lines.append(f"  {self._title(d.connection)}")
            if d.native is not None and d.tshark is not None:
                lines.append(f"    {d.fact:<20}  native: {safe(d.native)}")
                lines.append(f"    {'':<20}  tshark: {safe(d.tshark)}")
            else:
                only, value = ("native", d.native) if d.tshark is None else ("tshark", d.tshark)
                lines.append(f"    {d.fact:<20}  {only} only: {safe(value or '')}")
        return "\n".join(lines) + "\n"

    def _title(self, connection: int | None) -> str:
        if connection is None:
            return "capture"
        conn = _by_id(self.native).get(connection) or _by_id(self.tshark).get(connection)
        return f"connection {connection}   {conn.client} → {conn.server}" if conn else f"connection {connection}"


def compare_engines(path: str, options: AnalysisOptions | None = None) -> EngineComparison:
    """Analyze `path` with both engines (same options) and compare. Raises EngineUnavailable
    when tshark cannot be used."""
    options = options or AnalysisOptions()
    tshark = analyze_capture_tshark(path, options)
    native = analyze_capture(path, options)
    return compare_reports(native, tshark)


def compare_reports(native: CaptureReport, tshark: CaptureReport) -> EngineComparison:
    """The disagreements between two reports of the same capture, in connection order."""
    result = EngineComparison(path=native.path, native=native, tshark=tshark)
    errors_n = Counter(f"{e.code}: {e.message}" for e in native.errors)
    errors_t = Counter(f"{e.code}: {e.message}" for e in tshark.errors)
    result.facts += len(errors_n | errors_t)
    result.disagreements += _list_differences(None, "error", errors_n, errors_t)
    conns_n, conns_t = _by_id(native), _by_id(tshark)
    for cid in sorted(conns_n.keys() | conns_t.keys()):
        a, b = conns_n.get(cid), conns_t.get(cid)
        if a is None or b is None:
            result.facts += 1
            result.disagreements.append(Disagreement(
                connection=cid, fact="connection",
                native=None if a is None else _endpoints(a), tshark=None if b is None else _endpoints(b)))
            continue
        facts_n, facts_t = connection_facts(a), connection_facts(b)
        for name in SCALAR_FACTS:
            result.facts += 1
            value_n, value_t = facts_n[name][0], facts_t[name][0]
            if value_n != value_t:
                result.disagreements.append(Disagreement(connection=cid, fact=name, native=value_n, tshark=value_t))
        for name in LIST_FACTS:
            items_n, items_t = Counter(facts_n[name]), Counter(facts_t[name])
            result.facts += sum((items_n | items_t).values())
            result.disagreements += _list_differences(cid, name, items_n, items_t)
    return result


def _list_differences(cid: int | None, name: str, native: Counter[str], tshark: Counter[str]) -> list[Disagreement]:
    out = [Disagreement(connection=cid, fact=name, native=item, tshark=None)
           for item in sorted((native - tshark).elements())]
    out += [Disagreement(connection=cid, fact=name, native=None, tshark=item)
            for item in sorted((tshark - native).elements())]
    return sorted(out, key=lambda d: _frame_key(d.native or d.tshark or ""))


def _frame_key(item: str) -> tuple[int, str]:
    """Items that start with `frame N` sort by N, then by text."""
    words = item.split(" ", 2)
    if len(words) >= 2 and words[0] == "frame" and words[1].isdigit():
        return int(words[1]), item
    return 0, item


def _by_id(report: CaptureReport) -> dict[int, Connection]:
    return {c.id: c for c in report.connections}


def _endpoints(conn: Connection) -> str:
    return f"{conn.client} → {conn.server}"


def _arrow(sender: str) -> str:
    return "C→S" if sender == "client" else "S→C"


def _frames(frame: int, frames: tuple[int, ...]) -> str:
    return "" if tuple(frames) in ((), (frame,)) else f" (frames {', '.join(map(str, frames))})"


def connection_facts(conn: Connection) -> dict[str, list[str]]:
    """A connection's comparable facts: one value per scalar fact, every item of the list facts."""
    facts: dict[str, list[str]] = {
        "endpoints": [_endpoints(conn)],
        "tunnel": [" / ".join(conn.tunnel) or "none"],
        "sni": [str(conn.sni)],
        "version": [str(conn.version)],
        "cipher_suite": [str(conn.cipher_suite)],
        "decrypted": [str(conn.decrypted).lower()],
        "outcome": [conn.outcome],
        "http": ["None" if conn.http is None else f"frame {conn.http.frame} HTTP {conn.http.status}"],
        "handshake": [
            f"frame {h.frame} {_arrow(h.sender)} {h.message}{' (encrypted)' if h.encrypted else ''}"
            f"{' (damaged)' if h.damaged else ''}{_frames(h.frame, h.frames)}"
            for h in conn.handshake
        ],
        "certificate_request": [
            f"frame {cr.frame} CA names: {'; '.join(cr.ca_names) if cr.ca_names else '(none)'}"
            for cr in conn.certificate_requests
        ],
        "certificate": [
            f"frame {info.frame} {_arrow(info.sender)} chain sha256: "
            + (", ".join(c.sha256_hex[:SHA256_SHOWN] for c in info.chain) or "(empty)")
            for info in [*conn.server_certificates, *conn.client_certificates]
        ],
        "alert": [
            f"frame {a.frame} {_arrow(a.sender)} "
            + ("encrypted" if a.encrypted else f"{a.level} {a.description}")
            for a in conn.alerts
        ],
        "tcp_end": [f"frame {e.frame} {_arrow(e.sender)} {e.kind}" for e in conn.tcp_ends],
        "finding": [f"{f.code} (frames {', '.join(map(str, f.frames))})" for f in conn.findings],
    }
    return facts
