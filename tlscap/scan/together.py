"""Several captures judged as one body of evidence: the CA certificates each capture shows can settle
the verdicts of the others (another client that sends the full chain proves which intermediate a
client left out, and under which root it hangs).

A capture whose verdicts such certificates may settle (`ConnectionStats.open_to_certificates`) is
analyzed again, once every capture has been read, with the CA certificates of the others; the others'
first analysis stands. `tlscap scan` and `tlscap analyze` with several captures both work this way.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace

from tlscap import limits
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, Report
from tlscap.capture.reader import STDIN_NAME
from tlscap.report.safe_text import safe
from tlscap.report.writer import ReportWriter
from tlscap.scan.file_task import FileResult, analyze_to_spool, load_result


class CaPool:
    """The CA certificates the captures showed (SHA-256 -> DER), bounded."""

    def __init__(self) -> None:
        self.certificates: dict[str, bytes] = {}

    def add(self, cap: CaptureReport) -> set[str]:
        """Take the capture's CA certificates; returns their SHA-256s (the capture's own)."""
        own: set[str] = set()
        for der in cap.ca_certificates:
            sha = hashlib.sha256(der).hexdigest()
            own.add(sha)
            if len(self.certificates) < limits.MAX_SCAN_CA_CERTIFICATES:
                self.certificates.setdefault(sha, der)
        return own

    def others(self, own: set[str]) -> tuple[bytes, ...]:
        """The certificates another capture showed."""
        return tuple(der for sha, der in self.certificates.items() if sha not in own)


def capture_notes(path: str, cap: CaptureReport, options: AnalysisOptions) -> list[str]:
    """The lines stderr gets for a capture: its errors, and with a key log, how many of its TLS connections
    the key logs covered (one line, instead of a warning on every connection they have no secret for)."""
    notes = [f"tlscap: {safe(path)}: {safe(err.message)}" for err in cap.errors]
    if options.keylog is not None and not cap.unreadable:
        total = cap.stats.connections
        notes.append(f"tlscap: {safe(path)}: the key logs covered {cap.stats.keyed} of {total} TLS "
                     f"connection{'s' if total != 1 else ''}")
    return notes


def analyze_again(path: str, options: AnalysisOptions, extra: tuple[bytes, ...], writer: ReportWriter,
                  *, label: str | None = None) -> CaptureReport:
    """Analyze one capture with the CA certificates of the others, streaming its connections to `writer`
    (between begin_capture and end_capture); returns its report without connections."""
    writer.begin_capture(label or path)
    cap = analyze_capture(path, replace(options, known_certificates=extra), on_connection=writer.connection)
    cap = replace(cap, path=label or path, connections=[], ca_certificates=[])
    writer.end_capture(cap)
    return cap


def analyze_together(paths: Sequence[str], options: AnalysisOptions, writer: ReportWriter) -> Report:
    """`tlscap analyze` of several captures: each is read once into a spool (a temporary file), then the
    report is written in the order given; a capture that the others' CA certificates may settle is read
    a second time with them."""
    pool = CaPool()
    read: list[tuple[CaptureReport, str, set[str]]] = []
    report = Report()
    with tempfile.TemporaryDirectory(prefix="tlscap-analyze-") as folder:
        for index, path in enumerate(paths):
            spool = os.path.join(folder, f"{index}.connections")
            cap = load_result(analyze_to_spool(path, options, spool), path)
            for note in capture_notes(path, cap, options):
                print(note, file=sys.stderr)
            read.append((cap, spool, pool.add(cap)))
        for index, (cap, spool, own) in enumerate(read):
            # Standard input cannot be read twice: its first analysis stands.
            extra = pool.others(own) if cap.stats.open_to_certificates and cap.path != STDIN_NAME else ()
            if extra:
                FileResult(index=index, capture=cap, seconds=0.0, spool=spool).discard()
                cap = analyze_again(cap.path, options, extra, writer)
            else:
                writer.begin_capture(cap.path)
                for conn in FileResult(index=index, capture=cap, seconds=0.0, spool=spool).connections():
                    writer.connection(conn)
                cap = replace(cap, connections=[], ca_certificates=[])
                writer.end_capture(cap)
            report.captures.append(cap)
    if options.server_log is not None:
        report.server_log = options.server_log.summary()
    writer.finish(report)
    return report
