"""--server-log: read the server's error logs given on the command line into a `ServerLog`."""

from __future__ import annotations

import argparse
import gzip
from datetime import datetime, timedelta
from typing import TextIO

from tlscap import limits
from tlscap.analysis.server_log import LogMessage, LogParser, ServerLog, parse_offset
from tlscap.cli_options import UsageError

DEFAULT_SKEW_SECONDS = 0.0


def add_server_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server-log", action="append", default=[], metavar="FILE",
                        help="the server's error log (nginx at error_log … info, Apache httpd with mod_ssl at "
                             "LogLevel ssl:info; .gz read too): each client-certificate message is attached to its "
                             "connection by client address and time, as evidence for the verdict; repeatable")
    parser.add_argument("--log-skew", type=_seconds, default=DEFAULT_SKEW_SECONDS, metavar="SECONDS",
                        help="how far the server's clock may be from the capture's, in seconds (default: "
                             f"{DEFAULT_SKEW_SECONDS:g}, both on one machine; nginx's whole seconds are allowed for "
                             "without it). Connections of one client within the skew can take each other's lines")
    parser.add_argument("--log-utc-offset", metavar="+HH:MM",
                        help="the zone the server wrote its log times in (default: this machine's zone; "
                             "nginx and Apache write local time)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"--log-skew takes 0 to 86400 seconds, not {text}")
    return value


def load_server_log(args: argparse.Namespace) -> ServerLog | None:
    """The messages of every --server-log file, or None when none is given."""
    paths: list[str] = args.server_log
    if not paths:
        return None
    if args.log_utc_offset is not None:
        try:
            offset = parse_offset(args.log_utc_offset)
        except ValueError as exc:
            raise UsageError(f"--log-utc-offset: {exc}") from None
    else:
        offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    messages: list[LogMessage] = []
    not_kept = 0
    for path in paths:
        parser = LogParser(offset)
        try:
            with _open(path) as fh:
                for number, line in enumerate(fh, 1):
                    message = parser.parse(line, f"{path}:{number}")
                    if message is None:
                        continue
                    if len(messages) < limits.MAX_SERVER_LOG_MESSAGES:
                        messages.append(message)
                    else:
                        not_kept += 1
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the server log: {exc.strerror or exc}") from None
        except EOFError:
            raise UsageError(f"{path}: the compressed server log is cut short") from None
    log = ServerLog(messages, timedelta(seconds=args.log_skew))
    log.not_kept = not_kept
    return log


def _open(path: str) -> TextIO:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def server_log_note(log: ServerLog) -> str:
    """One line for standard error: how many messages the logs held and how many found their connection."""
    s = log.summary()
    kept = (f"; {s['not_kept']} more past tlscap's limit of {limits.MAX_SERVER_LOG_MESSAGES} were not read"
            if s["not_kept"] else "")
    return (f"tlscap: server logs: {s['messages']} client-certificate message(s), {s['matched']} matched to a "
            f"connection, {s['unmatched']} matched none (other clients, or times outside the captures){kept}")


