"""Command line: `tlscap analyze`, `tlscap scan`, `tlscap certs` (and `python -m tlscap`)."""

from __future__ import annotations

import argparse
import base64
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tlscap import __version__, limits, signals
from tlscap.analysis.engine import AnalysisOptions, analyze_capture, tune_gc
from tlscap.analysis.model import SEVERITY_RANK, CaptureReport, Connection, Report
from tlscap.capture.annotate import annotate
from tlscap.capture.reader import STDIN_NAME
from tlscap.cli_help import help_options, main_epilog
from tlscap.cli_options import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_analysis_inputs,
    add_report_options,
    check_stdin_captures,
    choose_format,
    input_paths,
    load_keylogs,
    options_from,
    output,
    writer_for,
)
from tlscap.cli_server_log import add_server_log_options, load_server_log, server_log_note
from tlscap.engines.compare import compare_engines
from tlscap.engines.tshark_engine import EngineUnavailable, analyze_capture_tshark, find_tshark
from tlscap.errors import CaptureIssue, TlscapError
from tlscap.output import (
    STDOUT_ARG,
    STDOUT_NAME,
    OutputError,
    binary_output,
    io_error,
    refuse_input_as_output,
    report_output,
    silence_stdout,
)
from tlscap.report.comments import connection_comments
from tlscap.report.json_report import dumps
from tlscap.report.safe_text import safe
from tlscap.report.writer import ReportWriter
from tlscap.scan.cli_scan import add_scan_parser, cmd_scan
from tlscap.scan.together import analyze_together, capture_notes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlscap",
        description="Explain TLS handshakes, and mutual-TLS failures, in packet captures.",
        epilog=main_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tlscap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="one report for the given captures", **help_options("analyze"))  # type: ignore[arg-type]
    analyze.add_argument("captures", nargs="+", metavar="CAPTURE",
                         help="pcap or pcapng file, gzip-compressed or not; - reads standard input")
    add_report_options(analyze)
    add_server_log_options(analyze)
    analyze.add_argument("--engine", choices=("native", "tshark"), default="native",
                         help="native (default, fastest) or tshark: Wireshark's dissectors read the transport "
                              "(needs tshark 3.6 or later)")
    add_scan_parser(sub)

    certs = sub.add_parser("certs", help="write every certificate seen as PEM, named by SHA-256, and index.json",
                           **help_options("certs"))  # type: ignore[arg-type]
    certs.add_argument("captures", nargs="+", metavar="CAPTURE")
    certs.add_argument("--out", required=True, metavar="DIR",
                       help="folder to write the PEM files and index.json (sha256 -> subject, issuer, validity, "
                            "who sent it, frames) to")
    add_analysis_inputs(certs)

    annotate = sub.add_parser("annotate", help="write the capture as pcapng with a comment on every frame a "
                                               "finding or verdict names (for Wireshark)",
                              **help_options("annotate"))  # type: ignore[arg-type]
    annotate.add_argument("capture", metavar="CAPTURE")
    annotate.add_argument("-o", "--output", required=True, metavar="FILE",
                          help="the annotated pcapng to write (never one of the inputs; - for standard output)")
    add_analysis_inputs(annotate)

    compare = sub.add_parser("compare", help="run both engines and list every fact on which they disagree",
                             **help_options("compare"))  # type: ignore[arg-type]
    compare.add_argument("captures", nargs="+", metavar="CAPTURE")
    compare.add_argument("--keylog", action="append", default=[], metavar="FILE",
                         help="NSS key log (SSLKEYLOGFILE) both engines decrypt with")
    return parser


def analyze_all(paths: Sequence[str], options: AnalysisOptions, writer: ReportWriter | None = None,
                *, engine: str = "native", close_on_interrupt: bool = False) -> Report:
    """Analyze each capture; with a writer, stream every connection to it instead of keeping it. Several
    captures with a writer are judged together (`scan.together`: each one's CA certificates are evidence
    for the others' verdicts). `close_on_interrupt`: a report streamed where it cannot be taken back
    (standard output) is ended on Ctrl-C or SIGTERM, with what was finished and an `interrupted` error,
    so that it stays a whole document; the interruption is then raised on."""
    if writer is not None and engine == "native" and len(paths) > 1:
        return analyze_together(paths, options, writer)
    report = Report()
    for path in paths:
        if writer is not None:
            writer.begin_capture(path)
        cap = _analyze_one(path, options, writer, engine=engine, report=report, close_on_interrupt=close_on_interrupt)
        for note in capture_notes(path, cap, options):
            print(note, file=sys.stderr)
        if writer is not None:
            writer.end_capture(cap)
        report.captures.append(cap)
    if options.server_log is not None:
        report.server_log = options.server_log.summary()
    if writer is not None:
        writer.finish(report)
    return report


def _analyze_one(path: str, options: AnalysisOptions, writer: ReportWriter | None, *, engine: str,
                 report: Report, close_on_interrupt: bool) -> CaptureReport:
    if writer is None:
        sink = None
    else:
        def sink(conn: Connection) -> None:
            with signals.deferred():  # never half a connection in the report
                writer.connection(conn)
    cap = CaptureReport(path=str(path))
    try:
        if engine == "tshark":
            return analyze_capture_tshark(path, options, on_connection=sink)
        return analyze_capture(path, options, on_connection=sink, report=cap)
    except KeyboardInterrupt:
        if writer is not None and close_on_interrupt:
            with signals.deferred():
                how = "SIGTERM" if signals.received() == signal.SIGTERM else "Ctrl-C (SIGINT)"
                cap.errors.append(CaptureIssue(
                    code="interrupted", frame=cap.frames or None,
                    message=(f"tlscap was interrupted by {how} after frame {cap.frames:,}: the connections "
                             "finished before it are reported, those still open are not")))
                writer.end_capture(cap)
                report.captures.append(cap)
                writer.finish(report)
        raise


def read_nothing(cap: CaptureReport) -> bool:
    """Whether nothing of the capture could be read: unreadable, or damaged from its first record on
    (no frame read and an error)."""
    return cap.unreadable or (cap.frames == 0 and bool(cap.errors))


def _exit_status(report: Report, fail_on: str) -> int:
    if report.captures and all(read_nothing(c) for c in report.captures):
        return EXIT_USAGE
    if fail_on == "never":
        return EXIT_OK
    worst = report.worst_severity()
    if worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on]:
        return EXIT_FINDINGS
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.engine == "tshark":
        find_tshark()  # one clear error before any output when tshark is missing or too old
    check_stdin_captures(args.captures, engine=args.engine)
    options = replace(options_from(args), server_log=load_server_log(args))
    fmt = choose_format(args)
    refuse_input_as_output(args.output, [*args.captures, *input_paths(args), *args.server_log])
    with output(args.output) as out:
        report = analyze_all(args.captures, options, writer_for(args, fmt, out), engine=args.engine,
                             close_on_interrupt=args.output in (None, STDOUT_ARG))
    if options.server_log is not None:
        print(server_log_note(options.server_log), file=sys.stderr)
    return _exit_status(report, args.fail_on)


def cmd_compare(args: argparse.Namespace) -> int:
    if STDIN_NAME in args.captures:
        raise UsageError("-: compare reads each capture twice (once per engine); save it to a file first")
    find_tshark()
    options = AnalysisOptions(keylog=load_keylogs(args.keylog))
    disagree = unreadable = 0
    for path in args.captures:
        comparison = compare_engines(path, options)
        for err in comparison.native.errors:
            print(f"tlscap: {safe(path)}: {safe(err.message)}", file=sys.stderr)
        if read_nothing(comparison.native):
            unreadable += 1  # nothing to compare: the error above says why
            continue
        sys.stdout.write(comparison.render_text())
        disagree += not comparison.agree or bool(comparison.native.errors)  # damaged: not a clean agreement
    if unreadable == len(args.captures):
        return EXIT_USAGE
    return EXIT_FINDINGS if disagree or unreadable else EXIT_OK



def cmd_certs(args: argparse.Namespace) -> int:
    check_stdin_captures(args.captures)
    options = options_from(args)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the folder: {exc.strerror or exc}") from exc
    index_path = out / "index.json"
    refuse_input_as_output(str(index_path), [*args.captures, *input_paths(args)])
    index: dict[str, dict[str, Any]] = {}
    hidden = 0  # TLS 1.3 connections whose certificates stayed encrypted
    path = ""

    def write_certificates(conn: Connection) -> None:
        nonlocal hidden
        if conn.tls13 and not conn.decrypted:
            hidden += 1
        for info in [*conn.server_certificates, *conn.client_certificates]:
            for cert in info.chain:
                entry = index.get(cert.sha256_hex)
                if entry is None:
                    _write_pem(out, cert.sha256_hex, cert.der)
                    entry = index[cert.sha256_hex] = {
                        "subject": cert.subject_rfc4514, "issuer": cert.issuer_rfc4514, "serial": cert.serial_hex,
                        "not_before": cert.to_dict()["not_before"], "not_after": cert.to_dict()["not_after"],
                        "sent_by": [], "frames": [], "seen": 0}
                if info.sender not in entry["sent_by"]:
                    entry["sent_by"].append(info.sender)
                entry["seen"] += 1
                if len(entry["frames"]) < limits.MAX_CERT_INDEX_PLACES:  # beyond, counted in `seen`
                    entry["frames"].append({"capture": path, "connection": conn.id, "frame": info.frame,
                                            "from": info.sender})

    report = Report()
    for path in args.captures:
        cap = analyze_capture(path, options, on_connection=write_certificates)
        for note in capture_notes(path, cap, options):
            print(note, file=sys.stderr)
        report.captures.append(cap)
    with report_output(str(index_path)) as stream:
        stream.write(dumps(dict(sorted(index.items())), indent=2) + "\n")
    written = len(index)
    print(f"{written} certificate{'s' if written != 1 else ''} written to {out} (index: {index_path})",
          file=sys.stderr)
    if hidden:
        which = f"{hidden} TLS 1.3 connection{'s' if hidden != 1 else ''}"
        print(f"tlscap: {which} kept the certificates encrypted: give --keylog (or --keylog-dir) with the key "
              "log of the client or server", file=sys.stderr)
    return EXIT_USAGE if report.captures and all(read_nothing(c) for c in report.captures) else EXIT_OK


def _write_pem(folder: Path, sha256: str, der: bytes) -> None:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    target = folder / f"{sha256}.pem"
    try:
        target.write_text(pem, encoding="ascii")
    except OSError as exc:
        target.unlink(missing_ok=True)  # no half-written PEM file
        raise io_error(str(target), exc, "cannot write the certificate") from None


def cmd_annotate(args: argparse.Namespace) -> int:
    if args.capture == STDIN_NAME:
        raise UsageError("-: annotate reads the capture twice (to judge it, then to copy it); save it to a file "
                         "first")
    options = options_from(args)
    refuse_input_as_output(args.output, [args.capture, *input_paths(args)])
    comments: dict[int, list[str]] = {}

    def collect(conn: Connection) -> None:
        for frame, texts in connection_comments(conn).items():
            comments.setdefault(frame, []).extend(texts)

    cap = analyze_capture(args.capture, options, on_connection=collect)
    for note in capture_notes(args.capture, cap, options):
        print(note, file=sys.stderr)
    if read_nothing(cap):
        return EXIT_USAGE
    with binary_output(args.output) as out:
        result = annotate(args.capture, comments, out)
    where = STDOUT_NAME if args.output == STDOUT_ARG else args.output
    print(f"tlscap: {safe(where)}: {sum(len(comments[n]) for n in result.commented)} comments on "
          f"{len(result.commented)} of {result.frames} frames ({cap.stats.connections} TLS connections)",
          file=sys.stderr)
    if result.dropped:
        print(f"tlscap: {safe(args.capture)}: frames {', '.join(map(str, result.dropped[:10]))} are Simple Packet "
              "Blocks, which cannot carry a comment", file=sys.stderr)
    if result.stopped:
        print(f"tlscap: {safe(args.capture)}: copied up to frame {result.frames}: {safe(result.stopped)}",
              file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()  # again for callers of cli.main itself; tlscap.entry did it before the imports
    try:
        return _main(argv)
    except KeyboardInterrupt:  # a signal outside a command's own handling (argument parsing, exit)
        print("tlscap: interrupted", file=sys.stderr)
        return signals.exit_status()


def _main(argv: Sequence[str] | None) -> int:
    tune_gc()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "analyze":
            return cmd_analyze(args)
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "certs":
            return cmd_certs(args)
        if args.command == "annotate":
            return cmd_annotate(args)
    except (UsageError, EngineUnavailable, TlscapError) as exc:
        if isinstance(exc, OutputError) and exc.path == STDOUT_NAME:
            silence_stdout()
        print(f"tlscap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlscap: interrupted" if signals.received() != signal.SIGTERM else "tlscap: terminated (SIGTERM)",
              file=sys.stderr)
        return signals.exit_status()
    except BrokenPipeError:  # standard output written without the guard (a bug): still not exit 0
        silence_stdout()
        print(f"tlscap: {STDOUT_NAME}: the reader closed the pipe before the report was complete", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # never a traceback for the user; the message says what to report
        print(f"tlscap: internal error: {type(exc).__name__}: {exc} (please report it with the capture)",
              file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE
