"""One file's analysis as a scan worker runs it, and what comes back: `FileResult`.

A worker analyzes a file and returns its `CaptureReport` pickled (`analyze_to_bytes`), or writes each
connection into a spool file as soon as it is handed on, pickled or already rendered for the report
(`analyze_to_spool`, `connection_renderer`), so its memory does not grow with the file.

The report model pickles as it is, except for one thing: the `cryptography` `x509.Name` objects inside
`CertificateSummary` hold Rust-backed `ObjectIdentifier`s, which refuse to pickle. `register_pickling`
teaches pickle to rebuild an `ObjectIdentifier` from its dotted string, so the whole model, names
included, round-trips unchanged; workers call it before pickling, and unpickling needs nothing registered.
"""

from __future__ import annotations

import contextlib
import copyreg
import os
import pickle
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, BinaryIO, Literal

from cryptography.x509 import ObjectIdentifier

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, CertificateChainInfo, Connection, ConnectionStats
from tlscap.errors import CaptureIssue
from tlscap.output import describe
from tlscap.report.csv_report import connection_row, finding_rows
from tlscap.report.grouping import GroupKey
from tlscap.report.html_report import connection_html
from tlscap.report.json_report import connection_json
from tlscap.report.markdown_report import connection_md
from tlscap.report.text_report import connection_text

# What a worker's spool holds for each connection (see analyze_to_spool): the pickled connection (None),
# its JSON text ("json"), or, pickled, what `connection_renderer` makes of it for the report format: a
# text_report.ConnectionText ("text"; "text-all" for --all), csv_report.finding_rows ("csv") or
# connection_row ("csv-connections"), a
# markdown_report.ConnectionMd ("md", "md-all") or an html_report.ConnectionHtml ("html", "html-all").
Render = Literal["json", "text", "text-all", "csv", "csv-connections", "md", "md-all", "html", "html-all"] | None
TEXT_RENDERS = ("text", "text-all")


def connection_renderer(render: Render, *, path: str, position: int,
                        at: datetime | None) -> Callable[[Connection], Any]:
    """What one file's connections are rendered into under `render` (not "json" nor None): `path` is the
    file as the report shows it, `position` its place among the report's entries. Made once per file:
    for Markdown it remembers which groups already have their example in this file."""
    show_all = render is not None and render.endswith("-all")
    if render in TEXT_RENDERS:
        return lambda conn: connection_text(conn, show_all=show_all, at=at)
    if render == "csv":
        return lambda conn: finding_rows(path, conn)
    if render == "csv-connections":
        return lambda conn: connection_row(path, conn)
    if render in ("html", "html-all"):
        return lambda conn: connection_html(conn, position=position, path=path, show_all=show_all, at=at)
    if render in ("md", "md-all"):
        examples: set[GroupKey] = set()

        def first_of_group(key: GroupKey) -> bool:
            if key in examples:
                return False
            examples.add(key)
            return True

        return lambda conn: connection_md(conn, path=path, show_all=show_all, at=at, wants_example=first_of_group)
    raise ValueError(f"no connection renderer for {render!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """One analyzed file: its position in the task list, its report and how long it took.

    With a spool (`LocalRunner(spool_dir=...)`), the report holds none of its connections (its `stats`
    count them): they wait in the `spool` file until `connections()` reads them, one at a time.
    """

    index: int
    capture: CaptureReport
    seconds: float
    spool: str | None = None
    render: Render = None  # what the spool holds for each connection (see analyze_to_spool)

    def connections(self) -> Iterator[Connection]:
        """The file's connections in the order they were handed on; a spool is removed once read."""
        if self.render is not None:
            raise TypeError(f"this file's connections were spooled rendered ({self.render}): read them as such")
        yield from self.capture.connections
        if self.spool is not None:
            yield from read_spool(self.spool)

    def connection_json(self) -> Iterator[str]:
        """Each connection's JSON text (`json_report.connection_json`), in the order they were handed on;
        a spool is removed once read."""
        yield from map(connection_json, self.capture.connections)
        if self.spool is not None:
            yield from read_json_spool(self.spool) if self.render == "json" else map(connection_json, self._spooled())

    def rendered(self, render: Render, make: Callable[[Connection], Any]) -> Iterator[Any]:
        """Each connection as `make` (a `connection_renderer` for `render`) renders it, in the order they
        were handed on; a spool already rendered so is read as it is. The spool is removed once read."""
        yield from map(make, self.capture.connections)
        if self.spool is not None:
            yield from read_spool(self.spool) if self.render == render else map(make, self._spooled())

    def discard(self) -> None:
        """Remove the spool unread (the file is analyzed again)."""
        if self.spool is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.spool)

    def _spooled(self) -> Iterator[Connection]:
        if self.render is not None:
            raise TypeError(f"this file's connections were spooled rendered ({self.render})")
        assert self.spool is not None
        return read_spool(self.spool)


def _rebuild_oid(dotted: str) -> ObjectIdentifier:
    return ObjectIdentifier(dotted)


def _reduce_oid(oid: ObjectIdentifier) -> tuple[Any, tuple[str]]:
    return _rebuild_oid, (oid.dotted_string,)


def register_pickling() -> None:
    """Make `cryptography` ObjectIdentifiers (inside x509.Name) picklable; safe to call again."""
    copyreg.pickle(ObjectIdentifier, _reduce_oid)


register_pickling()


def failed_capture(path: str, code: str, message: str) -> CaptureReport:
    """The report of a file that gave no analysis at all (time limit, crashed worker, ...)."""
    return CaptureReport(path=path, unreadable=True, errors=[CaptureIssue(code=code, message=message)])


def analyze_to_bytes(path: str, options: AnalysisOptions) -> bytes:
    """Analyze one file and return its pickled CaptureReport; never raises for the file's content."""
    register_pickling()  # a Dask worker may have unpickled this function without importing us first
    try:
        cap = analyze_capture(path, options)
    except Exception as exc:  # noqa: BLE001 - the engine never raises on purpose; a bug costs one file
        cap = failed_capture(path, "internal-error",
                             f"tlscap failed on this file ({type(exc).__name__}: {exc}); please report it")
    try:
        return pickle.dumps(cap, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an unpicklable field: drop the parsed names, the report never shows them
        return pickle.dumps(_without_names(cap), protocol=pickle.HIGHEST_PROTOCOL)


def analyze_to_spool(path: str, options: AnalysisOptions, spool: str, *, render: Render = None,
                     label: str | None = None, position: int = 0, time_limit: float | None = None) -> bytes:
    """Analyze one file, writing each connection into `spool` as soon as it is handed on (so a worker's
    memory does not grow with the file); return the pickled CaptureReport, which holds none of them.

    The spool holds each connection as `render` says: pickled (None); its JSON text on a line of its own
    ("json"); or what `connection_renderer` makes of it, pickled, with `label` (the path as the report
    shows it), `position` (the file's place in the report) and `options.at`. Rendered, the worker does
    the report's work and the parent only copies."""
    register_pickling()
    try:
        out = open(spool, "wb")  # noqa: SIM115 - closed below, after the analysis
    except OSError as exc:
        return pickle.dumps(spool_failed(path, spool, exc), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        return _analyze_to_spool(path, options, spool, out, render=render, label=label, position=position,
                                 time_limit=time_limit)
    except _SpoolWriteError as exc:
        return pickle.dumps(spool_failed(path, spool, exc.error), protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        with contextlib.suppress(OSError):
            out.close()


class _SpoolWriteError(Exception):
    """Writing a connection to the spool failed (a full or failing $TMPDIR): the scan stops."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


SPOOL_WRITE_ERROR = "spool-write-error"


def spool_failed(path: str, spool: str, exc: OSError) -> CaptureReport:
    """The report of a file whose connections could not be spooled: the parent stops the scan on it."""
    return failed_capture(path, SPOOL_WRITE_ERROR, f"{spool}: cannot write the scan's spool: {describe(exc)}")


class _TimeLimit(BaseException):  # noqa: N818 - not an error: the file's time is up
    """--file-timeout passed in a worker (raised by SIGALRM; a BaseException so no `except Exception`
    of the analysis takes it for a bug)."""


def _analyze_to_spool(path: str, options: AnalysisOptions, spool: str, out: BinaryIO, *, render: Render,
                      label: str | None, position: int, time_limit: float | None = None) -> bytes:
    make = None if render in (None, "json") else connection_renderer(
        render, path=path if label is None else label, position=position, at=options.at)

    def write(blob: bytes) -> None:
        try:
            out.write(blob)
        except OSError as exc:
            raise _SpoolWriteError(exc) from None

    handed_on = ConnectionStats()
    clock = {"in_keep": False, "expired": False}

    def on_alarm(signum: int, frame: object) -> None:
        clock["expired"] = True
        if not clock["in_keep"]:  # a connection being spooled is finished first: the spool stays whole
            raise _TimeLimit()

    def keep(conn: Connection) -> None:
        clock["in_keep"] = True
        try:
            keep_one(conn)
            handed_on.add(conn)
        finally:
            clock["in_keep"] = False
        if clock["expired"]:
            raise _TimeLimit()

    def keep_one(conn: Connection) -> None:
        if render == "json":
            write(connection_json(conn).encode("utf-8", "surrogatepass") + b"\n")
            return
        if make is not None:
            write(pickle.dumps(make(conn), protocol=pickle.HIGHEST_PROTOCOL))
            return
        try:
            blob = pickle.dumps(conn, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an unpicklable field: drop the parsed names, as below
            blob = pickle.dumps(_connection_without_names(conn), protocol=pickle.HIGHEST_PROTOCOL)
        write(blob)

    read_so_far = CaptureReport(path=path)  # what the engine read, kept when the time limit stops it
    if time_limit is not None:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        cap = analyze_capture(path, options, on_connection=keep, report=read_so_far)
    except _TimeLimit:
        cap = timed_out(path, time_limit or 0.0, partial=handed_on, read=read_so_far)
    except _SpoolWriteError:
        raise
    except Exception as exc:  # noqa: BLE001 - the engine never raises on purpose; a bug costs one file
        cap = failed_capture(path, "internal-error",
                             f"tlscap failed on this file ({type(exc).__name__}: {exc}); please report it")
    finally:
        if time_limit is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
    try:
        out.flush()
    except OSError as exc:
        raise _SpoolWriteError(exc) from None
    return pickle.dumps(cap, protocol=pickle.HIGHEST_PROTOCOL)


def read_spool(spool: str) -> Iterator[Any]:
    """The connections (or ConnectionTexts) `analyze_to_spool` pickled, one at a time (none when it wrote
    no spool); the file is removed at the end."""
    try:
        with open(spool, "rb") as f:
            while True:
                try:
                    conn = pickle.load(f)
                except EOFError:
                    return
                yield conn
    except FileNotFoundError:
        return
    finally:
        discard_spool(spool)


def read_json_spool(spool: str) -> Iterator[str]:
    """The JSON texts `analyze_to_spool(..., render="json")` wrote, one at a time; the file is removed at
    the end."""
    try:
        with open(spool, "rb") as f:
            for line in f:
                yield line[:-1].decode("utf-8", "surrogatepass")
    except FileNotFoundError:
        return
    finally:
        discard_spool(spool)


def discard_spool(spool: str) -> None:
    try:
        os.unlink(spool)
    except FileNotFoundError:
        pass


def _connection_without_names(conn: Connection) -> Connection:
    """The connection without the parsed x509 names of its certificates (the report never shows them)."""

    def strip(infos: list[CertificateChainInfo]) -> list[CertificateChainInfo]:
        return [replace(i, chain=tuple(replace(c, subject_name=None, issuer_name=None) for c in i.chain))
                for i in infos]

    return replace(conn, client_certificates=strip(conn.client_certificates),
                   server_certificates=strip(conn.server_certificates))


def _without_names(cap: CaptureReport) -> CaptureReport:
    cap.connections = [_connection_without_names(conn) for conn in cap.connections]
    return cap


def load_result(payload: bytes, path: str) -> CaptureReport:
    """Unpickle a worker's result and give it the path as the report shows it."""
    cap = pickle.loads(payload)
    if not isinstance(cap, CaptureReport):
        raise TypeError(f"a worker returned {type(cap).__name__}, not a CaptureReport")
    cap.path = path
    return cap


def timed_out(path: str, limit: float, *, partial: ConnectionStats | None = None,
              read: CaptureReport | None = None) -> CaptureReport:
    """The capture error of a file whose analysis passed --file-timeout; with `partial`, the counts of
    the connections finished (and reported) before the limit, stopped by the worker itself, and with
    `read` what the engine had read by then (frames, format, link types, times, capture errors)."""
    if partial is None:
        return failed_capture(path, "timeout", f"the analysis was stopped after the {limit:g} s time limit "
                                               "(--file-timeout); nothing of this file is reported")
    n = partial.connections
    cap = read if read is not None else CaptureReport(path=path)
    cap.connections = []
    cap.stats = partial
    frames = f" at frame {cap.frames:,}" if cap.frames else ""
    cap.errors.append(CaptureIssue(
        code="timeout", frame=cap.frames or None,
        message=f"the analysis was stopped{frames} by the {limit:g} s time limit (--file-timeout): the {n} "
                f"connection{'s' if n != 1 else ''} finished before it {'are' if n != 1 else 'is'} reported, "
                "the frames after it and the connections still open are not"))
    return cap
