"""What every report writer provides (JSON, JSON Lines, text, Markdown, HTML, CSV), and how a report
already in memory is fed to one."""

from __future__ import annotations

from typing import Protocol

from tlscap.analysis.model import CaptureReport, Connection, Report


class ReportWriter(Protocol):
    """Called in this order: per capture begin_capture, connection (each, as handed on), end_capture;
    then finish once. A writer keeps only what its format needs until the end."""

    def begin_capture(self, path: str) -> None: ...

    def connection(self, conn: Connection) -> None: ...

    def end_capture(self, cap: CaptureReport) -> None: ...

    def finish(self, report: Report) -> None: ...


def write_report(writer: ReportWriter, report: Report) -> None:
    """Feed a report already in memory to a writer, as an analysis would."""
    for cap in report.captures:
        writer.begin_capture(cap.path)
        for conn in cap.connections:
            writer.connection(conn)
        writer.end_capture(cap)
    writer.finish(report)


def excluded_note(report: Report, filters: str | None) -> str | None:
    """How many TLS connections the filters (--host, --port, --sni: `filters` says which were given)
    left out, for every report format; None when no filter was given and none was left out."""
    excluded = sum(cap.excluded for cap in report.captures)
    if filters is None and not excluded:
        return None
    given = f" ({filters})" if filters else ""
    return f"{excluded} TLS connection{'s' if excluded != 1 else ''} excluded by the filters{given}"
