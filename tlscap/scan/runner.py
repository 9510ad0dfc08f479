"""Analyze many captures at once and hand each result back as soon as its file is done.

Two executors give the same results: `LocalRunner` (worker processes on this machine, one file at a
time each, so a file over its time limit can be stopped by killing its worker and starting another)
and `DaskRunner` (the same per-file task on a `dask.distributed` cluster).

Results cross process boundaries as pickled `CaptureReport`s. The report model pickles as it is,
except for one thing: the `cryptography` `x509.Name` objects inside `CertificateSummary` hold
Rust-backed `ObjectIdentifier`s, which refuse to pickle. `register_pickling` teaches pickle to
rebuild an `ObjectIdentifier` from its dotted string, so the whole model, names included, round-trips
unchanged; workers call it before pickling, and unpickling needs nothing registered.
"""

from __future__ import annotations

import contextlib
import copyreg
import multiprocessing
import os
import pickle
import signal
import time
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait as wait_any
from typing import Any, BinaryIO, Literal

from cryptography.x509 import ObjectIdentifier

from tlscap.analysis.engine import AnalysisOptions, analyze_capture, tune_gc
from tlscap.analysis.model import CaptureReport, CertificateChainInfo, Connection, ConnectionStats
from tlscap.errors import CaptureIssue, TlscapError
from tlscap.output import OutputError, describe
from tlscap.report.csv_report import connection_row, finding_rows
from tlscap.report.grouping import GroupKey
from tlscap.report.html_report import connection_html
from tlscap.report.json_report import connection_json
from tlscap.report.markdown_report import connection_md
from tlscap.report.text_report import connection_text
from tlscap.scan.discovery import Candidate
from tlscap.signals import die_with_parent

# A worker that does not exit within this time after being asked to is killed.
_STOP_GRACE_SECONDS = 2.0
# A worker that has not stopped itself this long after --file-timeout is killed (nothing of its file reported).
_HARD_LIMIT_GRACE_SECONDS = 5.0


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


class ExecutorUnavailable(TlscapError):
    """The chosen executor cannot run (Dask not installed, scheduler unreachable); one line for the user."""


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


# --------------------------------------------------------------------------- the per-file task


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


def _task_path(candidate: Candidate) -> str:
    # Absolute, so that a worker with another working folder (a Dask worker) opens the same file;
    # symbolic links are left for the open to follow, as `tlscap analyze` does.
    return os.path.abspath(candidate.path)


# --------------------------------------------------------------------------- local worker processes


def _worker_loop(pipe: Pipe) -> None:
    """A worker process: receives the options once, then paths; sends back each pickled report."""
    # Ctrl-C on a terminal reaches every process of the group; only the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()  # the forkserver, which itself exits when tlscap is gone
    tune_gc()
    options = AnalysisOptions()
    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if isinstance(message, AnalysisOptions):
            options = message  # sent once per worker: key logs and truststores can be large
            continue
        if isinstance(message, tuple):  # (path, spool file, render, path as the report shows it, position, limit)
            path, spool, render, label, position, time_limit = message
            pipe.send_bytes(analyze_to_spool(path, options, spool, render=render, label=label, position=position,
                                             time_limit=time_limit))
        else:
            pipe.send_bytes(analyze_to_bytes(message, options))


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers start from a small clean process (no threads of the parent: progress bar,
    # Dask client), with tlscap already imported, so starting a replacement worker is quick.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tlscap.scan.runner"])
        return ctx
    return multiprocessing.get_context("spawn")


class _Worker:
    """One worker process with its pipe, and the task it is on (index, candidate, start time)."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, options: AnalysisOptions) -> None:
        parent_end, child_end = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_loop, args=(child_end,), daemon=True,  # type: ignore[attr-defined]
                                   name="tlscap-scan-worker")
        self.process.start()
        child_end.close()
        self.pipe: Pipe = parent_end
        self.task: tuple[int, Candidate, float] | None = None
        self.alive = self._send(options)

    def _send(self, message: object) -> bool:
        try:
            self.pipe.send(message)
        except (BrokenPipeError, EOFError, OSError):
            return False
        return True

    def send(self, index: int, candidate: Candidate, spool: str | None = None, render: Render = None,
             time_limit: float | None = None) -> bool:
        """Give the worker a file; with `spool`, it writes the file's connections there as they come
        (rendered as `render` says, see analyze_to_spool)."""
        message = (_task_path(candidate) if spool is None
                   else (_task_path(candidate), spool, render, candidate.path, candidate.position, time_limit))
        if not self.alive or not self._send(message):
            return False
        self.task = (index, candidate, time.monotonic())
        return True

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(_STOP_GRACE_SECONDS)
        self.pipe.close()

    def stop(self) -> None:
        try:
            self.pipe.send(None)
        except (BrokenPipeError, EOFError, OSError):
            pass
        self.process.join(_STOP_GRACE_SECONDS)
        self.kill()


class LocalRunner:
    """Analyze files in `jobs` worker processes; a file over `file_timeout` seconds is stopped.

    With `spool_dir`, a worker writes each connection to a file there as soon as it is handed on, and
    the FileResult names that spool instead of holding the connections: memory then stays bounded
    whatever the files' sizes (the reader of the results removes each spool; the caller, the folder).
    With `render`, the spool holds each connection rendered for the report (see analyze_to_spool).
    """

    def __init__(self, *, jobs: int, file_timeout: float | None = None, spool_dir: str | None = None,
                 render: Render = None) -> None:
        self.jobs = max(1, jobs)
        self.file_timeout = file_timeout
        self.spool_dir = spool_dir
        self.render = render

    def _spool(self, index: int) -> str | None:
        return None if self.spool_dir is None else os.path.join(self.spool_dir, f"{index}.connections")

    def run(self, candidates: Sequence[Candidate], options: AnalysisOptions) -> Generator[FileResult, None, None]:
        """Yield one FileResult per candidate, in the order they finish.

        Interrupting (KeyboardInterrupt) or closing the iterator kills the workers at once.
        """
        queue = deque(enumerate(candidates))
        if not queue:
            return
        if options.keylog is not None and self.spool_dir is not None:
            try:  # mapped by every worker from one file, instead of a copy in each
                options.keylog.share(self.spool_dir)
            except OSError as exc:
                raise OutputError(self.spool_dir, f"cannot write the scan's spool: {describe(exc)}") from None
        ctx = _context()
        workers = [_Worker(ctx, options) for _ in range(min(self.jobs, len(queue)))]
        clean = False
        try:
            for i in range(len(workers)):
                workers[i] = self._assign(ctx, workers[i], queue, options)
            while any(w.task is not None for w in workers):
                for i, worker in enumerate(workers):
                    result = self._collect(worker)
                    if result is None:
                        continue
                    yield result
                    if worker.task is not None:  # it was killed or died: it needs a successor
                        worker.kill()
                        worker = _Worker(ctx, options) if queue else worker
                    worker.task = None
                    workers[i] = self._assign(ctx, worker, queue, options)
                self._wait(workers)
            clean = True
        finally:
            for worker in workers:
                if clean:
                    worker.stop()
                else:
                    worker.kill()

    def _assign(self, ctx: multiprocessing.context.BaseContext, worker: _Worker,
                queue: deque[tuple[int, Candidate]], options: AnalysisOptions) -> _Worker:
        """Give the worker the next file; a worker found dead is replaced once."""
        if not queue:
            return worker
        index, candidate = queue.popleft()
        if not worker.send(index, candidate, self._spool(index), self.render, self.file_timeout):
            worker.kill()
            worker = _Worker(ctx, options)
            if not worker.send(index, candidate, self._spool(index), self.render, self.file_timeout):
                raise ExecutorUnavailable("cannot start a worker process for the scan")
        return worker

    def _wait(self, workers: list[_Worker]) -> None:
        """Sleep until a busy worker answers or dies, or the nearest time limit passes."""
        busy = [w for w in workers if w.task is not None]
        if not busy:
            return
        timeout = None
        if self.file_timeout is not None:
            nearest = min(w.task[2] for w in busy if w.task is not None) + self._hard_limit()
            timeout = max(0.0, nearest - time.monotonic())
        wait_any([w.pipe for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)

    def _hard_limit(self) -> float:
        """When a worker past --file-timeout is killed: it stops itself at the limit and reports what it
        finished (SIGALRM), unless it is stuck where Python cannot run the handler."""
        assert self.file_timeout is not None
        return self.file_timeout + _HARD_LIMIT_GRACE_SECONDS

    def _collect(self, worker: _Worker) -> FileResult | None:
        """The worker's result if it has one, or a capture error if it died or ran out of time.

        When a capture error is returned, `worker.task` is still set: the caller replaces the worker.
        """
        if worker.task is None:
            return None
        index, candidate, started = worker.task
        elapsed = time.monotonic() - started
        spool = self._spool(index)
        if worker.pipe.poll():
            try:
                payload = worker.pipe.recv_bytes()
            except (EOFError, OSError):
                return self._failed(index, _crashed(candidate, worker), elapsed)
            worker.task = None
            return FileResult(index=index, capture=load_result(payload, candidate.path), seconds=elapsed, spool=spool,
                              render=self.render)
        if not worker.process.is_alive():
            return self._failed(index, _crashed(candidate, worker), elapsed)
        if self.file_timeout is not None and elapsed >= self._hard_limit():
            return self._failed(index, timed_out(candidate.path, self.file_timeout), elapsed)
        return None

    def _failed(self, index: int, capture: CaptureReport, elapsed: float) -> FileResult:
        """A file that gave no report: what its worker spooled before it stopped is not reported."""
        spool = self._spool(index)
        if spool is not None:
            discard_spool(spool)  # the caller kills a worker that may still write it: removed unread
        return FileResult(index=index, capture=capture, seconds=elapsed)


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


def _crashed(candidate: Candidate, worker: _Worker) -> CaptureReport:
    worker.process.join(0.5)
    code = worker.process.exitcode
    how = "it exited"
    if code is not None and code < 0:
        try:
            how = f"it was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"it was killed by signal {-code}"
        if -code == signal.SIGKILL:
            how += " (out of memory?)"
    elif code is not None:
        how = f"it exited with status {code}"
    return failed_capture(candidate.path, "worker-crashed",
                          f"the worker process analyzing this file stopped before it was done: {how}")


# --------------------------------------------------------------------------- Dask


class DaskRunner:
    """Submit the per-file analysis to a dask.distributed scheduler; results come back as they end.

    The files must be readable by the workers at the same absolute paths (shared storage). At most as
    many files as the cluster has worker threads are in flight at a time when a time limit is set, so
    a file's time is counted from when it can start; a file over the limit is cancelled and reported,
    but Dask cannot stop a task already running: its worker thread finishes it and the result is dropped.
    """

    CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler, and to wait for a first worker

    def __init__(self, *, scheduler: str, file_timeout: float | None = None) -> None:
        try:  # before the report is opened, so a missing package writes nothing
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ExecutorUnavailable(
                "--executor dask needs Dask's distributed package: pip install 'tlscap[dask]'") from exc
        self.scheduler = scheduler
        self.file_timeout = file_timeout
        self.connect_timeout = self.CONNECT_TIMEOUT

    def run(self, candidates: Sequence[Candidate], options: AnalysisOptions) -> Generator[FileResult, None, None]:
        """Yield one FileResult per candidate, in the order they finish."""
        client = self._connect()
        pending: dict[Any, tuple[int, Candidate, float]] = {}
        try:
            yield from self._drive(client, deque(enumerate(candidates)), pending, options)
        finally:
            if pending:
                client.cancel(list(pending))
            client.close()

    def _connect(self) -> Any:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ExecutorUnavailable(
                "--executor dask needs Dask's distributed package: pip install 'tlscap[dask]'") from exc
        try:
            return Client(self.scheduler, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorUnavailable(f"cannot connect to the Dask scheduler at {self.scheduler}: {exc}") from exc

    def _window(self, client: Any) -> int:
        threads = sum(client.nthreads().values())
        if threads == 0:
            try:
                client.wait_for_workers(1, timeout=self.connect_timeout)
            except TimeoutError as exc:
                raise ExecutorUnavailable(f"the Dask scheduler at {self.scheduler} has no workers") from exc
            threads = sum(client.nthreads().values())
        return max(1, threads) * (1 if self.file_timeout is not None else 2)

    def _drive(self, client: Any, queue: deque[tuple[int, Candidate]], pending: dict[Any, tuple[int, Candidate, float]],
               options: AnalysisOptions) -> Generator[FileResult, None, None]:
        from distributed import wait

        window = self._window(client)
        run_id = uuid.uuid4().hex[:12]
        # Sent to every worker once, not with each file: key logs and truststores can be large.
        shared_options = client.scatter(options, broadcast=True, hash=False)
        while queue or pending:
            while queue and len(pending) < window:
                index, candidate = queue.popleft()
                future = client.submit(analyze_to_bytes, _task_path(candidate), shared_options, pure=False,
                                       key=f"tlscap-scan-{run_id}-{index}")
                pending[future] = (index, candidate, time.monotonic())
            timeout = None
            if self.file_timeout is not None:
                nearest = min(started for _, _, started in pending.values()) + self.file_timeout
                timeout = max(0.01, nearest - time.monotonic())
            try:
                with client.as_current():  # `wait` works on the current client; this one is not the default
                    done = wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for future in list(pending):
                index, candidate, started = pending[future]
                elapsed = time.monotonic() - started
                if future in done:
                    del pending[future]
                    yield FileResult(index=index, capture=_dask_result(future, candidate), seconds=elapsed)
                elif self.file_timeout is not None and elapsed >= self.file_timeout:
                    del pending[future]
                    future.cancel()
                    yield FileResult(index=index, capture=timed_out(candidate.path, self.file_timeout),
                                     seconds=elapsed)


def _dask_result(future: Any, candidate: Candidate) -> CaptureReport:
    if future.status == "finished":
        return load_result(future.result(), candidate.path)
    exc = future.exception() if future.status == "error" else None
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else f"task {future.status}"
    return failed_capture(candidate.path, "worker-crashed", f"the Dask task analyzing this file failed ({detail})")
