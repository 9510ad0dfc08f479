"""CSV: one row per finding, for spreadsheets and ticket imports.

Columns: capture, connection, client, server, sni, cause, side, certainty, code, severity, frames, message,
fix. `cause`, `side` and `certainty` are the connection's verdict, on each of its rows; a connection
without findings whose verdict is not `ok` (e.g. `not-visible`) gets one row with an empty code, and the
verdict's summary and fix as message and fix. A capture
error (unreadable file, time limit, damaged data) is a row too, with an empty connection and severity
`capture-error`, so a file that could not be analyzed is not silently missing from the sheet.

Every cell is text from a capture or about it, so two defences apply: control and bidi characters are
shown as escapes (`safe`), and a cell that a spreadsheet would run as a formula (starting with `=`, `+`,
`-`, `@`, tab, carriage return or line feed, or their fullwidth forms, after any leading spaces) is
prefixed with a single quote.
"""

from __future__ import annotations

import csv
import io
from typing import TextIO

from tlscap.analysis.model import CaptureReport, Connection, Report
from tlscap.report.safe_text import safe
from tlscap.report.spool import TextSpool
from tlscap.report.writer import write_report

HEADER = ("capture", "connection", "client", "server", "sni", "cause", "side", "certainty", "code", "severity",
          "frames", "message", "fix")
# The OWASP list, plus the fullwidth forms some spreadsheet locales also take for formula signs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralize(cell: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a `'` in front, also when
    spaces come before it (a spreadsheet may trim them)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) or cell.lstrip().startswith(_FORMULA_STARTS) else cell


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return neutralize(safe(text))


def finding_rows(path: str, conn: Connection) -> str:
    """The CSV text of the connection's rows, one per finding ("" when it has none and its verdict is ok)."""
    d = conn.diagnosis
    verdict = (d.cause, d.side, d.certainty) if d is not None else ("", "", "")
    head = (path, conn.id, conn.client, conn.server, conn.sni, *verdict)
    if not conn.findings and (d is None or d.cause == "ok"):
        return ""
    buf = io.StringIO()
    rows = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)
    for f in conn.findings:
        frames = " ".join(str(n) for n in f.frames)
        rows.writerow([_cell(v) for v in (*head, f.code, f.severity, frames, f.message, f.fix)])
    if not conn.findings and d is not None:
        rows.writerow([_cell(v) for v in (*head, "", "", " ".join(map(str, d.frames)), d.summary, d.fix)])
    return buf.getvalue()


class CsvWriter:
    """Writes the CSV as the analysis goes: a capture's rows (its errors, then its connections' findings)
    when the capture ends, so only the finding rows of the capture being read wait, in a `TextSpool`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        csv.writer(out, quoting=csv.QUOTE_MINIMAL).writerow(HEADER)
        self._path = ""
        self._rows = TextSpool()

    def begin_capture(self, path: str) -> None:
        self._path = path
        self._rows = TextSpool()

    def connection(self, conn: Connection) -> None:
        self.add(finding_rows(self._path, conn))

    def add(self, rows: str) -> None:
        """A connection's `finding_rows`, made here or by a scan worker."""
        self._rows.write(rows)

    def end_capture(self, cap: CaptureReport) -> None:
        errors = csv.writer(self.out, quoting=csv.QUOTE_MINIMAL)
        for err in cap.errors:
            errors.writerow([_cell(v) for v in (cap.path, "", "", "", "", "", "", "", err.code, "capture-error",
                                                "" if err.frame is None else err.frame, err.message, "")])
        self._rows.copy_to(self.out)
        self._rows.close()

    def finish(self, report: Report) -> None:
        pass


def render_csv(report: Report) -> str:
    """The report as CSV (RFC 4180, CRLF line ends, a header row)."""
    buf = io.StringIO()
    write_report(CsvWriter(buf), report)
    return buf.getvalue()
