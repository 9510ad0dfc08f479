"""`tlscap scan PATH...`: every capture under the paths, analyzed in parallel, as one report.

`tlscap.cli` wires this in with `add_scan_parser(subparsers)` and `cmd_scan(args)`.

The report lists the captures in discovery order (folders walked in name order), whatever order the
workers finish in, so the same files give the same report on any executor. JSON Lines is the exception
by design: each file's lines are written (and flushed) as soon as it is done, so a scan that is killed
keeps what it did. Ctrl-C stops the workers and still writes the report of the files done (exit 130).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from dataclasses import replace
from datetime import datetime
from typing import TextIO, cast

from tlscap import signals
from tlscap.analysis.engine import AnalysisOptions
from tlscap.analysis.model import SEVERITY_RANK, CaptureReport, Report
from tlscap.cli_help import help_options
from tlscap.cli_options import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,  # noqa: F401 - importers of cli_scan use it
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_report_options,
    choose_format,
    input_paths,
    make_writer,
    options_from,
    output,
    writer_for,
)
from tlscap.errors import TlscapError
from tlscap.output import STDOUT_NAME, OutputError, io_error, refuse_input_as_output, silence_stdout
from tlscap.report.csv_report import CsvWriter
from tlscap.report.html_report import HtmlWriter
from tlscap.report.json_report import JsonlWriter, JsonWriter
from tlscap.report.markdown_report import MarkdownWriter
from tlscap.report.safe_text import safe
from tlscap.report.text_report import TextWriter
from tlscap.report.writer import ReportWriter
from tlscap.scan.discovery import Discovery, Problem, discover
from tlscap.scan.file_task import SPOOL_WRITE_ERROR, FileResult, Render, connection_renderer, failed_capture
from tlscap.scan.progress import Progress, wants_bar
from tlscap.scan.runner import DaskRunner, ExecutorUnavailable, LocalRunner
from tlscap.scan.together import CaPool, analyze_again, capture_notes


def default_jobs() -> int:
    """The cores this process may run on (the affinity mask, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


MAX_FILE_TIMEOUT = 365 * 24 * 3600  # a larger limit is no limit; past ~1e9 the clocks' arithmetic overflows


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    if value > MAX_FILE_TIMEOUT:
        raise argparse.ArgumentTypeError(f"more than {MAX_FILE_TIMEOUT:,} seconds (a year): {text!r}")
    return value


def add_scan_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add `scan` to tlscap's sub-commands; returns its parser."""
    scan = subparsers.add_parser(
        "scan", help="every capture under the folders (recursive), in parallel",
        description="Find every capture (pcap, pcapng, gzip-compressed or not; found by content) under the "
                    "paths and report them as one.", **help_options("scan"))  # type: ignore[arg-type]
    scan.add_argument("paths", nargs="+", metavar="PATH", help="capture files or folders (walked recursively)")
    add_report_options(scan)
    scan.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                      help=f"worker processes (default: the number of cores, here {default_jobs()})")
    scan.add_argument("--include", action="append", default=[], metavar="GLOB",
                      help="in folders, only files whose name or relative path matches (repeatable)")
    scan.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                      help="in folders, skip files and folders whose name or relative path matches (repeatable)")
    scan.add_argument("--file-timeout", type=_seconds, metavar="SECONDS",
                      help="stop analyzing a file after this long and report it as a capture error `timeout`")
    scan.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no per-file messages")
    scan.add_argument("--executor", choices=("local", "dask"), default="local",
                      help="local worker processes (default) or a Dask distributed cluster")
    scan.add_argument("--scheduler", metavar="ADDRESS",
                      help="the Dask scheduler (tcp://host:8786); default: $DASK_SCHEDULER_ADDRESS")
    return scan


def _runner(args: argparse.Namespace, spool_dir: str | None = None, *,
            render: Render = None) -> LocalRunner | DaskRunner:
    if args.executor == "dask":
        scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        if not scheduler:
            raise UsageError("--executor dask needs --scheduler ADDRESS (or DASK_SCHEDULER_ADDRESS)")
        return DaskRunner(scheduler=scheduler, file_timeout=args.file_timeout)
    if args.scheduler:
        raise UsageError("--scheduler is for --executor dask")
    return LocalRunner(jobs=args.jobs or default_jobs(), file_timeout=args.file_timeout, spool_dir=spool_dir,
                       render=render)


class _Tally:
    """What the exit status needs, kept as files finish (a JSON Lines scan keeps no reports)."""

    def __init__(self) -> None:
        self.readable = 0
        self.worst = 0

    def add(self, cap: CaptureReport) -> None:
        if not (cap.unreadable or (cap.frames == 0 and cap.errors and not cap.stats.connections)):  # nothing read
            self.readable += 1
        self.worst = max(self.worst, cap.stats.worst_rank)

    def status(self, fail_on: str) -> int:
        if self.readable == 0:
            return EXIT_USAGE
        if fail_on != "never" and self.worst >= SEVERITY_RANK[fail_on]:
            return EXIT_FINDINGS
        return EXIT_OK


def _options(args: argparse.Namespace) -> AnalysisOptions:
    """`analyze`'s options (filters, --at, --keylog, --keylog-dir, --truststore)."""
    return options_from(args)


class _Scan:
    """One scan's report, written in discovery order whatever order the files finish in.

    A finished file waits (its connections spooled on disk by the worker) until every file before it is
    written; then its connections stream through the report writer, so memory does not grow with the
    files' sizes, in any format.
    """

    def __init__(self, found: Discovery, *, fmt: str, quiet: bool, show_all: bool = False,
                 at: datetime | None = None, args: argparse.Namespace | None = None) -> None:
        self.found = found
        self.fmt = fmt
        self.args = args  # for the writer's filters, --csv-rows and width (writer_for)
        self.show_all, self.at = show_all, at
        self.candidates = found.candidates
        # Each entry's report once it is done, without its connections (they go to the writer).
        self.slots: list[CaptureReport | None] = [None] * len(found.entries)
        self.waiting: dict[int, FileResult] = {}  # done, not written yet (by entry position)
        self.written = 0  # entries written, in discovery order
        self.writer: ReportWriter | None = None
        self.out: TextIO | None = None  # the report's stream (Progress.guard of the one run got)
        self.options = AnalysisOptions()
        # The CA certificates the files showed, and per file whose verdicts they may settle the SHA-256s of its
        # own: such a file waits, and is analyzed again with the others' CAs once all are done (together.py).
        self.pool = CaPool()
        self.deferred: dict[int, set[str]] = {}
        self.complete = False
        self._by_position = {c.position: c for c in self.candidates}
        self.tally = _Tally()
        self.progress = Progress(total_files=len(self.candidates), total_bytes=sum(c.size for c in self.candidates),
                                 bar=wants_bar(sys.stderr, quiet=quiet), quiet=quiet)
        for i, entry in enumerate(found.entries):
            if isinstance(entry, Problem):
                self.slots[i] = failed_capture(entry.path, entry.code, entry.message)
                self.progress.message(f"tlscap: {safe(entry.path)}: {safe(entry.message)}")

    def run(self, runner: LocalRunner | DaskRunner, options: AnalysisOptions, out: TextIO) -> None:
        """Analyze every candidate, writing each file's part of the report when its turn comes (JSON
        Lines: as soon as it is done). Ctrl-C propagates; `finish` then writes what was done."""
        self.options = options
        # On the terminal the bar is drawn on, the report is written whole lines at a time, below it.
        out = self.out = self.progress.guard(out)
        if self.fmt != "jsonl":
            self.writer = (writer_for(self.args, self.fmt, out) if self.args is not None
                           else make_writer(self.fmt, out, show_all=self.show_all, at=self.at))
        try:
            with contextlib.closing(runner.run(self.candidates, options)) as results:
                for result in results:
                    self._done(result, out)
            self.complete = True
        finally:
            self.progress.close()

    def _done(self, result: FileResult, out: TextIO) -> None:
        cap, position = result.capture, self.candidates[result.index].position
        for err in cap.errors:
            if err.code == SPOOL_WRITE_ERROR:  # a full or failing $TMPDIR: every next file would fail too
                where, _, cause = err.message.partition(": ")
                raise OutputError(where, cause)
        for note in capture_notes(cap.path, cap, self.options):
            self.progress.message(note)
        self.tally.add(cap)
        self.progress.done(cap, self.candidates[result.index].size)
        own = self.pool.add(cap)
        self.slots[position] = replace(cap, connections=[], ca_certificates=[])
        if self.fmt == "jsonl":  # streamed as each file finishes: judged with its own certificates alone
            lines = JsonlWriter(out)
            lines.begin_capture(cap.path)
            for text in result.connection_json():
                lines.connection_text(text)
            out.flush()
            return
        self.waiting[position] = result
        if cap.stats.open_to_certificates:
            self.deferred[position] = own
        self._write_ready()

    def _write_ready(self) -> None:
        """Write the entries whose turn has come: every entry before them is written."""
        while (self.written < len(self.slots) and self.slots[self.written] is not None
               and self.written not in self.deferred):
            self._write(self.written)
            self.written += 1

    def _write(self, position: int) -> None:
        cap = self.slots[position]
        assert cap is not None and self.writer is not None
        result = self.waiting.pop(position, None)
        self.writer.begin_capture(cap.path)
        if result is not None:
            self._write_connections(cap.path, position, result, self.writer)
        self.writer.end_capture(cap)

    def _write_connections(self, path: str, position: int, result: FileResult, writer: ReportWriter) -> None:
        if isinstance(writer, JsonWriter):  # the worker rendered each connection's JSON
            for json_text in result.connection_json():
                writer.connection_text(json_text)
            return
        # ... or its part of the text, Markdown, HTML or CSV report
        assert isinstance(writer, (TextWriter, MarkdownWriter, HtmlWriter, CsvWriter))
        render = _render(self.fmt, show_all=self.show_all, csv_rows=self._csv_rows)
        make = connection_renderer(render, path=path, position=position, at=self.at)
        for item in result.rendered(render, make):
            writer.add(item)

    def finish(self, out: TextIO) -> None:
        """Write the files done that still wait (after an interruption, those behind a file not done),
        then the report's end: totals (the text report's verdict tables go first, above the captures)."""
        if self.writer is None:
            return
        for position in range(self.written, len(self.slots)):
            if self.slots[position] is not None and not self._analyze_again(position, self.writer):
                self._write(position)
        self.written = len(self.slots)
        self.writer.finish(self.report())
        (self.out or out).flush()

    def _analyze_again(self, position: int, writer: ReportWriter) -> bool:
        """A file whose verdicts CA certificates of other files may settle, analyzed again with them (in
        this process, after every file is done; not after an interruption). False when there is nothing
        new to give it, and its first analysis stands."""
        own = self.deferred.get(position)
        if own is None or not self.complete or position not in self.waiting:
            return False
        extra = self.pool.others(own)
        if not extra:
            return False
        candidate = self._by_position[position]
        self.waiting.pop(position).discard()
        cap = analyze_again(os.path.abspath(candidate.path), self.options, extra, writer, label=candidate.path)
        self.slots[position] = cap
        self.tally.add(cap)
        return True

    @property
    def _csv_rows(self) -> str:
        return str(getattr(self.args, "csv_rows", "findings"))

    def report(self) -> Report:
        return Report(captures=[cap for cap in self.slots if cap is not None])

    @property
    def files_done(self) -> int:
        return sum(1 for c in self.candidates if self.slots[c.position] is not None)


def _render(fmt: str, *, show_all: bool, csv_rows: str = "findings") -> Render:
    """What the workers render each connection into for this report format."""
    if fmt in ("json", "jsonl"):
        return "json"
    if fmt == "csv":
        return "csv-connections" if csv_rows == "connections" else "csv"
    if fmt in ("text", "md", "html"):
        return cast(Render, f"{fmt}-all" if show_all else fmt)
    raise ValueError(f"unknown report format {fmt!r}")


def cmd_scan(args: argparse.Namespace) -> int:
    """Run `tlscap scan`; returns the exit status."""
    options = _options(args)
    fmt = choose_format(args)
    found = discover(args.paths, include=args.include, exclude=args.exclude)
    refuse_input_as_output(args.output, [*(entry.path for entry in found.entries), *input_paths(args)])
    interrupted = False
    # The workers' spools of connections: removed with everything in it, however the scan ends.
    try:
        spool_folder = tempfile.TemporaryDirectory(prefix="tlscap-scan-")
    except OSError as exc:
        raise io_error(tempfile.gettempdir(), exc, "cannot create the scan's spool folder") from None
    with spool_folder as spool_dir:
        # For the JSON and text reports the workers also render each connection: the parent only copies.
        try:
            runner = _runner(args, spool_dir, render=_render(fmt, show_all=args.all, csv_rows=args.csv_rows))
        except ExecutorUnavailable as exc:
            raise UsageError(str(exc)) from exc
        with output(args.output) as out:
            scan = _Scan(found, fmt=fmt, quiet=args.quiet, show_all=args.all, at=args.at, args=args)
            try:
                scan.run(runner, options, out)
            except KeyboardInterrupt:
                interrupted = True
            except ExecutorUnavailable as exc:
                raise UsageError(str(exc)) from exc
            scan.finish(out)
    if not scan.found.entries:
        print(f"tlscap: no capture found under {', '.join(args.paths)}", file=sys.stderr)
        return EXIT_USAGE
    if interrupted:
        how = "terminated (SIGTERM)" if signals.received() == signal.SIGTERM else "interrupted"
        print(f"tlscap: {how}: the report covers {scan.files_done} of {len(scan.candidates)} files",
              file=sys.stderr)
        return signals.exit_status()
    return scan.tally.status(args.fail_on)


def main(argv: list[str] | None = None) -> int:
    """`python -m tlscap.scan PATH...`: the scan command alone (the same as `tlscap scan`)."""
    signals.install()
    parser = argparse.ArgumentParser(prog="tlscap")
    add_scan_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["scan", *(sys.argv[1:] if argv is None else argv)])
    try:
        return cmd_scan(args)
    except (UsageError, TlscapError) as exc:
        if isinstance(exc, OutputError) and exc.path == STDOUT_NAME:
            silence_stdout()
        print(f"tlscap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlscap: interrupted", file=sys.stderr)
        return signals.exit_status()
