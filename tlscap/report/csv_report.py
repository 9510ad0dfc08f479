"""CSV: one row per finding, for spreadsheets and ticket imports.

Columns: capture, connection, client, server, sni, code, severity, frames, message, fix. A capture
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

from tlscap.analysis.model import Report
from tlscap.report.safe_text import safe

HEADER = ("capture", "connection", "client", "server", "sni", "code", "severity", "frames", "message", "fix")
# The OWASP list, plus the fullwidth forms some spreadsheet locales also take for formula signs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralize(cell: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a `'` in front, also when
    spaces come before it (a spreadsheet may trim them)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) or cell.lstrip().startswith(_FORMULA_STARTS) else cell


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return neutralize(safe(text))


def render_csv(report: Report) -> str:
    """The report as CSV (RFC 4180, CRLF line ends, a header row)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    for cap in report.captures:
        for err in cap.errors:
            writer.writerow([_cell(v) for v in (cap.path, "", "", "", "", err.code, "capture-error",
                                                "" if err.frame is None else err.frame, err.message, "")])
        for conn in cap.connections:
            for f in conn.findings:
                frames = " ".join(str(n) for n in f.frames)
                writer.writerow([_cell(v) for v in (cap.path, conn.id, conn.client, conn.server, conn.sni, f.code,
                                                    f.severity, frames, f.message, f.fix)])
    return buf.getvalue()
