"""Command line: `tlscap analyze`, `tlscap certs` (and `python -m tlscap`)."""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tlscap import __version__
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import SEVERITY_RANK, Connection, Report
from tlscap.pki.truststore import Truststore, TruststoreError, load_truststore
from tlscap.report.json_report import JsonlWriter, JsonWriter
from tlscap.report.text_report import TextWriter
from tlscap.report.writer import ReportWriter
from tlscap.tls.keylog import KeyLog, KeyLogError, load_keylog_file

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
PASSWORD_ENV = "TLSCAP_TRUSTSTORE_PASSWORD"
FORMATS = ("text", "json", "jsonl")
_EXTENSION_FORMATS = {".json": "json", ".jsonl": "jsonl", ".txt": "text"}


class UsageError(Exception):
    """Bad command-line input: one line for the user, exit status 2."""


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; without a zone it is taken as UTC."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlscap",
        description="Explain TLS handshakes, and mutual-TLS failures, in packet captures.",
    )
    parser.add_argument("--version", action="version", version=f"tlscap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="one report for the given captures")
    analyze.add_argument("captures", nargs="+", metavar="CAPTURE")
    analyze.add_argument("--format", choices=FORMATS,
                         help="report format (default: text on a terminal, else json; or by -o's extension)")
    analyze.add_argument("-o", "--output", metavar="FILE", help="write the report there instead of stdout")
    analyze.add_argument("--host", metavar="IP", help="only connections to or from this address")
    analyze.add_argument("--port", type=_port, metavar="N", help="only connections on this port")
    analyze.add_argument("--sni", metavar="NAME", help="only connections whose ClientHello names this server")
    analyze.add_argument("--at", type=parse_time, metavar="TIME",
                         help="judge certificate validity at this ISO-8601 time instead of the capture's")
    analyze.add_argument("--keylog", action="append", default=[], metavar="FILE",
                         help="NSS key log (SSLKEYLOGFILE) to decrypt with; repeatable. pcapng Decryption "
                              "Secrets Blocks are used without it")
    analyze.add_argument("--truststore", action="append", default=[], metavar="PATH",
                         help="the truststore the server is meant to use: PEM/DER file, folder, PKCS#12 or Java "
                              "keystore; repeatable")
    analyze.add_argument("--truststore-password", metavar="PASSWORD",
                         help=f"password of a PKCS#12 or Java keystore truststore (or set {PASSWORD_ENV})")
    analyze.add_argument("--all", action="store_true", help="text: show every connection, not only those with findings")
    analyze.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                         help="exit 1 when a finding at or above this severity exists (default: error)")

    certs = sub.add_parser("certs", help="write every certificate seen as PEM, named by SHA-256")
    certs.add_argument("captures", nargs="+", metavar="CAPTURE")
    certs.add_argument("--out", required=True, metavar="DIR", help="folder to write the PEM files to")
    return parser


def _choose_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        return _EXTENSION_FORMATS.get(Path(args.output).suffix.lower(), "text")
    return "text" if sys.stdout.isatty() else "json"


def analyze_all(paths: Sequence[str], options: AnalysisOptions, writer: ReportWriter | None = None) -> Report:
    """Analyze each capture; with a writer, stream every connection to it instead of keeping it."""
    report = Report()
    for path in paths:
        if writer is not None:
            writer.begin_capture(path)
        cap = analyze_capture(path, options, on_connection=writer.connection if writer is not None else None)
        for err in cap.errors:
            print(f"tlscap: {path}: {err.message}", file=sys.stderr)
        if writer is not None:
            writer.end_capture(cap)
        report.captures.append(cap)
    if writer is not None:
        writer.finish(report)
    return report


def _exit_status(report: Report, fail_on: str) -> int:
    if report.captures and all(c.unreadable for c in report.captures):
        return EXIT_USAGE
    if fail_on == "never":
        return EXIT_OK
    worst = report.worst_severity()
    if worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on]:
        return EXIT_FINDINGS
    return EXIT_OK


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the report: {exc.strerror or exc}") from exc
    with out:
        yield out


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
            print(f"tlscap: {path}: {keylog.bad_lines} malformed line(s) ignored (first: {first})",
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


def make_writer(fmt: str, out: TextIO, args: argparse.Namespace) -> ReportWriter:
    if fmt == "json":
        return JsonWriter(out)
    if fmt == "jsonl":
        return JsonlWriter(out)
    return TextWriter(out, show_all=args.all, at=args.at)


def options_from(args: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(host=args.host, port=args.port, sni=args.sni, at=args.at,
                           keylog=load_keylogs(args.keylog),
                           truststore=load_truststores(args.truststore, args.truststore_password))


def cmd_analyze(args: argparse.Namespace) -> int:
    options = options_from(args)
    fmt = _choose_format(args)
    with _output(args.output) as out:
        report = analyze_all(args.captures, options, make_writer(fmt, out, args))
    return _exit_status(report, args.fail_on)


def cmd_certs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the folder: {exc.strerror or exc}") from exc
    written: set[str] = set()

    def write_certificates(conn: Connection) -> None:
        for info in [*conn.server_certificates, *conn.client_certificates]:
            for cert in info.chain:
                if cert.sha256 in written:
                    continue
                body = base64.encodebytes(cert.der).decode("ascii").replace("\n", "")
                lines = [body[i : i + 64] for i in range(0, len(body), 64)]
                pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
                (out / f"{cert.sha256}.pem").write_text(pem, encoding="ascii")
                written.add(cert.sha256)

    report = Report()
    for path in args.captures:
        cap = analyze_capture(path, AnalysisOptions(), on_connection=write_certificates)
        for err in cap.errors:
            print(f"tlscap: {path}: {err.message}", file=sys.stderr)
        report.captures.append(cap)
    print(f"{len(written)} certificate{'s' if len(written) != 1 else ''} written to {out}", file=sys.stderr)
    return EXIT_USAGE if report.captures and all(c.unreadable for c in report.captures) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "analyze":
            return cmd_analyze(args)
        if args.command == "certs":
            return cmd_certs(args)
    except UsageError as exc:
        print(f"tlscap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlscap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # never a traceback for the user; the message says what to report
        print(f"tlscap: internal error: {type(exc).__name__}: {exc} (please report it with the capture)",
              file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE
