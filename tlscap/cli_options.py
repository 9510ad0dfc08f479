"""What `analyze` and `scan` share on the command line: the report options, their parsing, the writers."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tlscap.analysis.collector import host_network
from tlscap.analysis.engine import AnalysisOptions
from tlscap.capture.reader import STDIN_NAME
from tlscap.output import STDOUT_ARG, report_output
from tlscap.pki.truststore import Truststore, TruststoreError, load_truststore
from tlscap.report.csv_report import ROW_KINDS as CSV_ROWS
from tlscap.report.csv_report import CsvWriter
from tlscap.report.html_report import HtmlWriter
from tlscap.report.json_report import JsonlWriter, JsonWriter
from tlscap.report.markdown_report import MarkdownWriter
from tlscap.report.safe_text import safe
from tlscap.report.text_report import TextWriter
from tlscap.report.writer import ReportWriter
from tlscap.scan.discovery import named_like_capture
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
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the report there (atomically) instead of standard output; - is standard output")
    parser.add_argument("--host", metavar="IP|CIDR",
                        help="only connections to or from this address or prefix (10.0.0.5, 10.0.0.0/8, "
                             "2001:db8::/32); host names are refused (the capture holds addresses)")
    parser.add_argument("--port", type=tcp_port, metavar="N", help="only connections on this port")
    parser.add_argument("--sni", metavar="NAME",
                        help="only connections whose ClientHello names this server (case and a trailing dot "
                             "ignored; * and ? as in shell patterns: '*.example.com')")
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
    parser.add_argument("--keylog-dir", action="append", default=[], metavar="DIR",
                        help="a folder of key logs: every one is read, and each capture uses the secrets whose "
                             "ClientHello random it contains, whichever file they came in; repeatable")
    parser.add_argument("--csv-rows", choices=CSV_ROWS, default="findings",
                        help="csv: one row per finding (default) or one per connection (cause, side, certainty, "
                             "start time, endpoints, SNI, version, the client certificate's subject, issuer and "
                             "expiry)")


def add_analysis_inputs(parser: argparse.ArgumentParser) -> None:
    """What a command that judges connections without writing a report reads besides the capture: key
    logs, truststores, --at (annotate, certs). The filters are off."""
    parser.set_defaults(host=None, port=None, sni=None)
    parser.add_argument("--keylog", action="append", default=[], metavar="FILE",
                        help="NSS key log (SSLKEYLOGFILE) to decrypt with; repeatable")
    parser.add_argument("--keylog-dir", action="append", default=[], metavar="DIR",
                        help="a folder of key logs, all read; repeatable")
    parser.add_argument("--truststore", action="append", default=[], metavar="PATH",
                        help="the truststore the server is meant to use; repeatable")
    parser.add_argument("--truststore-password", metavar="PASSWORD",
                        help=f"password of a PKCS#12 or Java keystore truststore (or set {PASSWORD_ENV})")
    parser.add_argument("--at", type=parse_time, metavar="TIME",
                        help="judge certificate validity at this ISO-8601 time instead of the capture's")


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


def checked_host(text: str | None) -> str | None:
    """--host as given, once it is known to be an IP address or CIDR prefix (else a one-line UsageError)."""
    if text is None:
        return None
    try:
        host_network(text)
    except ValueError:
        raise UsageError(f"--host {safe(text)!r}: not an IP address or CIDR prefix (e.g. 10.0.0.5, 10.0.0.0/8, "
                         "2001:db8::/32); host names are not resolved, the capture holds addresses") from None
    return text


def describe_filters(args: argparse.Namespace) -> str | None:
    """The filters given, as typed (for the reports' "N excluded by the filters" line); None without any."""
    given = [f"--{name} {value}" for name, value in (("host", getattr(args, "host", None)),
                                                     ("port", getattr(args, "port", None)),
                                                     ("sni", getattr(args, "sni", None))) if value]
    return " ".join(given) or None


def options_from(args: argparse.Namespace) -> AnalysisOptions:
    """The analysis options of the command line: filters, --at, key logs (--keylog, --keylog-dir) and
    truststores."""
    host = checked_host(args.host)
    keylog = load_keylogs(args.keylog)
    folders = getattr(args, "keylog_dir", [])
    if folders:
        merged = keylog if keylog is not None else KeyLog()
        for folder in folders:
            for note in merge_keylog_dir(merged, folder):
                if not getattr(args, "quiet", False):
                    print(f"tlscap: {note}", file=sys.stderr)
        keylog = merged if len(merged) or merged.rsa else keylog
    return AnalysisOptions(host=host, port=args.port, sni=args.sni, at=args.at, keylog=keylog,
                           truststore=load_truststores(args.truststore, args.truststore_password))


def merge_keylog_dir(keylog: KeyLog, folder: str) -> list[str]:
    """Read every key log under `folder` (recursively, in name order) into `keylog`; notes on what was not."""
    if not os.path.isdir(folder):
        raise UsageError(f"{folder}: --keylog-dir needs a folder")
    notes: list[str] = []
    read = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            try:
                keylog.merge(load_keylog_file(path))
                read += 1
            except KeyLogError as exc:
                if named_like_capture(filename):
                    continue  # captures often sit beside their key logs
                notes.append(f"--keylog-dir: skipped {exc}")
    if read == 0:
        notes.append(f"--keylog-dir: no key log found in {folder}")
    return notes


@contextlib.contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """stdout, or the -o file (written atomically: see tlscap.output), opened before any analysis, so
    a bad path fails at once; a write error is an OutputError naming the path."""
    with report_output(path) as stream:
        yield stream


def text_width(fmt: str, output_path: str | None) -> int | None:
    """The width to wrap the text report to: the terminal's, when the report goes to a terminal; None
    (no wrapping) in a pipe, a file, or another format."""
    if fmt != "text" or output_path not in (None, STDOUT_ARG):
        return None
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return max(40, shutil.get_terminal_size().columns)


def writer_for(args: argparse.Namespace, fmt: str, out: TextIO) -> ReportWriter:
    """make_writer with the command line's --all, --at, filters, --csv-rows and the terminal's width."""
    return make_writer(fmt, out, show_all=args.all, at=args.at, filters=describe_filters(args),
                       csv_rows=getattr(args, "csv_rows", "findings"), width=text_width(fmt, args.output))


def input_paths(args: argparse.Namespace) -> list[str]:
    """The files a report's run reads besides its captures: key logs and truststores."""
    return [*getattr(args, "keylog", []), *getattr(args, "truststore", [])]


def make_writer(fmt: str, out: TextIO, *, show_all: bool = False, at: datetime | None = None,
                filters: str | None = None, csv_rows: str = "findings", width: int | None = None) -> ReportWriter:
    """The writer of `fmt`; `filters` (describe_filters) makes every format say how many connections the
    filters left out (JSON always does, in its summary); `width` wraps the text report's lines."""
    if fmt == "json":
        return JsonWriter(out)
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "text":
        return TextWriter(out, show_all=show_all, at=at, filters=filters, width=width)
    if fmt == "md":
        return MarkdownWriter(out, show_all=show_all, at=at, filters=filters)
    if fmt == "html":
        return HtmlWriter(out, show_all=show_all, at=at, filters=filters)
    if fmt == "csv":
        return CsvWriter(out, rows=csv_rows, filters=filters)
    raise ValueError(f"unknown report format {fmt!r}")
