"""What each command's `--help` ends with: examples (every one is run by tests/test_help_examples.py, from
the project's folder) and the exit codes."""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, tuple[str, ...]] = {
    "analyze": (
        "tlscap analyze samples/tls12-expired-client-cert.pcap --format text",
        "tlscap analyze samples/tls13-expired-client-cert.pcap --keylog samples/tls13-expired-client-cert.keylog",
        "tlscap analyze samples/multi-connection.pcap --host 127.0.0.0/8 --sni localhost --format json",
        "tlscap analyze samples/server-log/nginx-tls13.pcap --server-log samples/server-log/nginx-error.log "
        "--log-utc-offset +00:00 --format text",
        "tlscap analyze samples/multi-connection.pcap --format csv --csv-rows connections -o connections.csv",
        "gzip -c samples/multi-connection.pcap | tlscap analyze - --format jsonl",
        "tcpdump -i lo -U -c 100 -w - 'tcp port 8443' | tlscap analyze - --format jsonl",
    ),
    "scan": (
        "tlscap scan samples/verdict --format md -o verdicts.md",
        "tlscap scan samples --include '*.pcap' --keylog-dir samples --format csv --csv-rows connections -o all.csv",
        "tlscap scan samples/verdict --jobs 2 --file-timeout 60 --format jsonl --quiet",
    ),
    "certs": (
        "tlscap certs samples/multi-connection.pcap --out certs",
        "tlscap certs samples/tls13-expired-client-cert.pcap --keylog samples/tls13-expired-client-cert.keylog "
        "--out certs",
    ),
    "annotate": (
        "tlscap annotate samples/multi-connection.pcap -o annotated.pcapng",
        "tshark -r annotated.pcapng -Y frame.comment -T fields -e frame.number -e frame.comment",
        "tlscap annotate samples/tls12-expired-client-cert.pcap -o - "
        "| tshark -r - -Y 'frame.comment contains \"tlscap\"'",
    ),
    "compare": (
        "tlscap compare samples/tls12-expired-client-cert.pcap",
    ),
}

_REPORT_EXIT = (
    "0  no finding at or above --fail-on (default: error)",
    "1  such findings",
    "2  bad usage, no capture could be read, or the report could not be written (one line on stderr says why)",
    "130, 143  interrupted (Ctrl-C, SIGTERM)",
)
EXIT_CODES: dict[str, tuple[str, ...]] = {
    "analyze": _REPORT_EXIT,
    "scan": _REPORT_EXIT,
    "certs": (
        "0  the certificates and index.json were written (also when there were none)",
        "2  bad usage, no capture could be read, or a file could not be written",
        "130, 143  interrupted (Ctrl-C, SIGTERM)",
    ),
    "annotate": (
        "0  the annotated pcapng was written",
        "2  bad usage, the capture could not be read, -o names an input, or the file could not be written "
        "(it is then left as it was)",
        "130, 143  interrupted (Ctrl-C, SIGTERM)",
    ),
    "compare": (
        "0  the engines agree",
        "1  they disagree, or the capture is damaged",
        "2  bad usage, or nothing could be read",
    ),
}


def epilog(command: str) -> str:
    """The examples and exit codes of `command`, for its parser's epilog."""
    lines = ["examples:", *(f"  {example}" for example in EXAMPLES[command]), "", "exit status:",
             *(f"  {code}" for code in EXIT_CODES[command])]
    return "\n".join(lines)


def main_epilog() -> str:
    """`tlscap --help`: one example per command, and where the exit codes are."""
    lines = ["examples:", *(f"  {EXAMPLES[c][0]}" for c in ("analyze", "scan", "certs", "annotate", "compare")),
             "", "exit status: see `tlscap COMMAND --help` (0 clean, 1 findings, 2 bad usage or unreadable input)"]
    return "\n".join(lines)


def help_options(command: str) -> dict[str, object]:
    """Keyword arguments for `add_parser` that show the epilog as written."""
    return {"epilog": epilog(command), "formatter_class": argparse.RawDescriptionHelpFormatter}
