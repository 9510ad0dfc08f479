"""Analyze many captures at once and hand each result back as soon as its file is done.

Two executors give the same results: `LocalRunner` (worker processes on this machine, one file at a
time each, so a file over its time limit can be stopped by killing its worker and starting another)
and `DaskRunner` (the same per-file task, `file_task`, on a `dask.distributed` cluster).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Generator, Sequence
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait as wait_any
from typing import Any

from tlscap.analysis.engine import AnalysisOptions, tune_gc
from tlscap.analysis.model import CaptureReport
from tlscap.errors import TlscapError
from tlscap.output import OutputError, describe
from tlscap.scan.discovery import Candidate
from tlscap.scan.file_task import (
    FileResult,
    Render,
    analyze_to_bytes,
    analyze_to_spool,
    discard_spool,
    failed_capture,
    load_result,
    timed_out,
)
from tlscap.signals import die_with_parent

# A worker that does not exit within this time after being asked to is killed.
_STOP_GRACE_SECONDS = 2.0
# A worker that has not stopped itself this long after --file-timeout is killed (nothing of its file reported).
_HARD_LIMIT_GRACE_SECONDS = 5.0


class ExecutorUnavailable(TlscapError):
    """The chosen executor cannot run (Dask not installed, scheduler unreachable); one line for the user."""


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
