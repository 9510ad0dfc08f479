"""What `analyze` and `scan` share on the command line: the report options, their parsing, the writers."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tlscap.analysis.engine import AnalysisOptions
from tlscap.capture.reader import STDIN_NAME
from tlscap.output import STDOUT_ARG, report_output
from tlscap.pki.truststore import Truststore, TruststoreError, load_truststore
from tlscap.report.csv_report import CsvWriter
from tlscap.report.html_report import HtmlWriter
from tlscap.report.json_report import JsonlWriter, JsonWriter
from tlscap.report.markdown_report import MarkdownWriter
from tlscap.report.safe_text import safe
from tlscap.report.text_report import TextWriter
from tlscap.report.writer import ReportWriter
from tlscap.tls.keylog import KeyLog, KeyLogError, load_keylog_file

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PASSWORD_ENV = "TLSCAP_TRUSTSTORE_PASSWORD"
FORMATS = ("text", "json", "jsonl", "md", "html", "csv")
EXTENSION_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text", ".md": "md",
                     ".markdown": "md", ".html": "html", ".htm": "html", ".csv": "csv"}


class UsageError(Exception):
    """Bad command-line input: one line for the user, exit status 2."""


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; without a zone it is taken as UTC."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def tcp_port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """Format, output, filters, time, keys, truststore, --all and --fail-on: the same for analyze and scan."""
    parser.add_argument("--format", choices=FORMATS,
                        help="report format (default: text on a terminal, else json; or by -o's extension)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report there instead of stdout")
    parser.add_argument("--host", metavar="IP", help="only connections to or from this address")
    parser.add_argument("--port", type=tcp_port, metavar="N", help="only connections on this port")
    parser.add_argument("--sni", metavar="NAME", help="only connections whose ClientHello names this server")
    parser.add_argument("--at", type=parse_time, metavar="TIME",
                        help="judge certificate validity at this ISO-8601 time instead of the capture's")
    parser.add_argument("--keylog", action="append", default=[], metavar="FILE",
                        help="NSS key log (SSLKEYLOGFILE) to decrypt with; repeatable. pcapng Decryption "
                             "Secrets Blocks are used without it")
    parser.add_argument("--truststore", action="append", default=[], metavar="PATH",
                        help="the truststore the server is meant to use: PEM/DER file, folder, PKCS#12 or Java "
                             "keystore; repeatable")
    parser.add_argument("--truststore-password", metavar="PASSWORD",
                        help=f"password of a PKCS#12 or Java keystore truststore (or set {PASSWORD_ENV})")
    parser.add_argument("--all", action="store_true",
                        help="text/md/html: show every connection, not only those with findings")
    parser.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                        help="exit 1 when a finding at or above this severity exists (default: error)")


def choose_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != STDOUT_ARG:
        return EXTENSION_FORMATS.get(Path(args.output).suffix.lower(), "text")
    return "text" if sys.stdout.isatty() else "json"


def check_stdin_captures(captures: Sequence[str], *, engine: str = "native") -> None:
    """`-` (standard input) can be read once, and only by the native engine."""
    count = sum(1 for c in captures if c == STDIN_NAME)
    if count > 1:
        raise UsageError("-: standard input can be given only once")
    if count and engine == "tshark":
        raise UsageError("-: --engine tshark cannot read standard input; save the capture to a file first")


def load_keylogs(paths: Sequence[str]) -> KeyLog | None:
    """The key logs named on the command line, merged; one line on stderr per file with bad lines."""
    if not paths:
        return None
    merged = KeyLog()
    for path in paths:
        try:
            keylog = load_keylog_file(path)
        except KeyLogError as exc:
            raise UsageError(str(exc)) from exc
        if keylog.bad_lines:
            first = keylog.bad_examples[0] if keylog.bad_examples else "?"
            print(f"tlscap: {safe(path)}: {keylog.bad_lines} malformed line(s) ignored (first: {safe(str(first))})",
                  file=sys.stderr)
        merged.merge(keylog)
    return merged


def load_truststores(paths: Sequence[str], password: str | None) -> Truststore | None:
    if not paths:
        return None
    try:
        truststore = load_truststore(list(paths), password=password or os.environ.get(PASSWORD_ENV))
    except TruststoreError as exc:
        raise UsageError(str(exc)) from exc
    for note in truststore.notes:
        print(f"tlscap: {note}", file=sys.stderr)
    return truststore


def options_from(args: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(host=args.host, port=args.port, sni=args.sni, at=args.at,
                           keylog=load_keylogs(args.keylog),
                           truststore=load_truststores(args.truststore, args.truststore_password))


@contextlib.contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """stdout, or the -o file (written atomically: see tlscap.output), opened before any analysis, so
    a bad path fails at once; a write error is an OutputError naming the path."""
    with report_output(path) as stream:
        yield stream


def input_paths(args: argparse.Namespace) -> list[str]:
    """The files a report's run reads besides its captures: key logs and truststores."""
    return [*getattr(args, "keylog", []), *getattr(args, "truststore", [])]


def make_writer(fmt: str, out: TextIO, *, show_all: bool = False, at: datetime | None = None) -> ReportWriter:
    if fmt == "json":
        return JsonWriter(out)
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "text":
        return TextWriter(out, show_all=show_all, at=at)
    if fmt == "md":
        return MarkdownWriter(out, show_all=show_all, at=at)
    if fmt == "html":
        return HtmlWriter(out, show_all=show_all, at=at)
    if fmt == "csv":
        return CsvWriter(out)
    raise ValueError(f"unknown report format {fmt!r}")
