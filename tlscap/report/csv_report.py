"""CSV, for spreadsheets and ticket imports: one row per finding (`--csv-rows findings`, the default) or one
row per connection (`--csv-rows connections`).

The file starts with a UTF-8 byte-order mark, so Excel reads it as UTF-8 (without it, Excel takes a CSV for
the system's ANSI code page and garbles every non-ASCII character: the report's quotes and arrows, names in
certificates); LibreOffice and Python's `utf-8-sig` skip it.

Per finding -- columns: capture, connection, client, server, sni, cause, side, certainty, code, severity,
frames, message, fix. `cause`, `side` and `certainty` are the connection's verdict, on each of its rows; a connection
without findings whose verdict is not `ok` (e.g. `not-visible`) gets one row with an empty code, and the
verdict's summary and fix as message and fix. A capture
error (unreadable file, time limit, damaged data) is a row too, with an empty connection and severity
`capture-error`, so a file that could not be analyzed is not silently missing from the sheet.

Per connection -- columns: capture, connection, start_time, client, server, sni, version, outcome, cause,
side, certainty, summary, client_subject, client_issuer, client_not_after (the client's leaf certificate, when
it sent one), findings (the codes), wireshark_filter. Every TLS connection has its row, ok ones included.
Capture errors are rows with an empty connection and `capture-error` as their cause.

In both, when --host, --port or --sni was given (or a capture had connections left out), each capture ends
with a row saying how many TLS connections the filters excluded (`excluded-by-filters`).

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
from tlscap.report.json_report import wireshark_filter
from tlscap.report.safe_text import safe
from tlscap.report.spool import TextSpool
from tlscap.report.writer import excluded_note, write_report
from tlscap.timefmt import iso_time

HEADER = ("capture", "connection", "client", "server", "sni", "cause", "side", "certainty", "code", "severity",
          "frames", "message", "fix")
CONNECTION_HEADER = ("capture", "connection", "start_time", "client", "server", "sni", "version", "outcome", "cause",
                     "side", "certainty", "summary", "client_subject", "client_issuer", "client_not_after",
                     "findings", "wireshark_filter")
ROW_KINDS = ("findings", "connections")
BOM = "\ufeff"
EXCLUDED_CODE = "excluded-by-filters"
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


def connection_row(path: str, conn: Connection) -> str:
    """The CSV text of the connection's one row (`--csv-rows connections`)."""
    d = conn.diagnosis
    chain = conn.client_certificate.chain if conn.client_certificate is not None else ()
    leaf = chain[0] if chain else None
    not_after = leaf.to_dict()["not_after"] if leaf is not None else None
    codes = " ".join(dict.fromkeys(f.code for f in conn.findings))
    row = (path, conn.id, iso_time(conn.first_time_ns), conn.client, conn.server, conn.sni, conn.version,
           conn.outcome, *((d.cause, d.side, d.certainty, d.summary) if d is not None else ("", "", "", "")),
           leaf.subject_rfc4514 if leaf else None, leaf.issuer_rfc4514 if leaf else None, not_after, codes,
           wireshark_filter(conn))
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_MINIMAL).writerow([_cell(v) for v in row])
    return buf.getvalue()


class CsvWriter:
    """Writes the CSV as the analysis goes: a capture's rows (its errors, then its connections' rows)
    when the capture ends, so only the rows of the capture being read wait, in a `TextSpool`. `rows` is
    "findings" (one row per finding) or "connections" (one per connection)."""

    def __init__(self, out: TextIO, *, rows: str = "findings", filters: str | None = None) -> None:
        if rows not in ROW_KINDS:
            raise ValueError(f"unknown CSV rows {rows!r}")
        self.out = out
        self.per_connection = rows == "connections"
        self.filters = filters
        out.write(BOM)
        csv.writer(out, quoting=csv.QUOTE_MINIMAL).writerow(CONNECTION_HEADER if self.per_connection else HEADER)
        self._path = ""
        self._rows = TextSpool()

    def begin_capture(self, path: str) -> None:
        self._path = path
        self._rows = TextSpool()

    def connection(self, conn: Connection) -> None:
        self.add(connection_row(self._path, conn) if self.per_connection else finding_rows(self._path, conn))

    def add(self, rows: str) -> None:
        """A connection's `finding_rows` or `connection_row`, made here or by a scan worker."""
        self._rows.write(rows)

    def end_capture(self, cap: CaptureReport) -> None:
        notes = csv.writer(self.out, quoting=csv.QUOTE_MINIMAL)
        excluded = excluded_note(Report(captures=[cap]), self.filters)
        for err in cap.errors:
            notes.writerow([_cell(v) for v in self._note(cap.path, err.code, "capture-error", err.frame, err.message)])
        self._rows.copy_to(self.out)
        self._rows.close()
        if excluded is not None:
            notes.writerow([_cell(v) for v in self._note(cap.path, EXCLUDED_CODE, "note", None, excluded)])

    def _note(self, path: str, code: str, kind: str, frame: int | None, message: str) -> tuple[object, ...]:
        """A row about the capture, not one connection: an error (`kind` capture-error), or the count the
        filters left out (code excluded-by-filters)."""
        if self.per_connection:
            cause, codes = (kind, code) if kind == "capture-error" else (code, "")
            return (path, "", "", "", "", "", "", "", cause, "", "", message, "", "", "", codes, "")
        return (path, "", "", "", "", "", "", "", code, kind, "" if frame is None else frame, message, "")

    def finish(self, report: Report) -> None:
        pass


def render_csv(report: Report, *, rows: str = "findings", filters: str | None = None) -> str:
    """The report as CSV (a byte-order mark, RFC 4180, CRLF line ends, a header row)."""
    buf = io.StringIO()
    write_report(CsvWriter(buf, rows=rows, filters=filters), report)
    return buf.getvalue()
