"""NSS key log files (SSLKEYLOGFILE): the secrets that let tlscap decrypt a capture's handshakes.

Each line is `LABEL <client_random hex> <secret hex>`
(https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/index.html):

- `CLIENT_RANDOM`: the 48-byte master secret of a TLS <= 1.2 connection;
- TLS 1.3: `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
  `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET`,
  `CLIENT_EARLY_TRAFFIC_SECRET`, `EARLY_EXPORTER_SECRET` (32 or 48 bytes, the suite's hash);
- `RSA <first 8 bytes of the encrypted premaster secret> <48-byte premaster secret>`: kept and
  counted, but only usable with the ClientKeyExchange, so they are not indexed by client random.

`#` comments and blank lines are skipped. Parsing never raises for content: a malformed line is
counted in `KeyLog.bad_lines`, and the first few are kept with their line number and the reason.
Well-formed lines with a label tlscap does not use (QUIC, ECH, `PMS_CLIENT_RANDOM`, ...) are counted
in `ignored_lines`. `load_keylog_file` is the one function here that reads a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tlscap import limits
from tlscap.errors import TlscapError

CLIENT_RANDOM = "CLIENT_RANDOM"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0 = "SERVER_TRAFFIC_SECRET_0"
EXPORTER_SECRET = "EXPORTER_SECRET"
CLIENT_EARLY_TRAFFIC_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET"
EARLY_EXPORTER_SECRET = "EARLY_EXPORTER_SECRET"
RSA = "RSA"

TLS13_LABELS = frozenset({
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_TRAFFIC_SECRET_0,
    EXPORTER_SECRET,
    CLIENT_EARLY_TRAFFIC_SECRET,
    EARLY_EXPORTER_SECRET,
})  # fmt: skip
LABELS = TLS13_LABELS | {CLIENT_RANDOM}

MAX_LINE_LENGTH = limits.MAX_KEYLOG_LINE
MAX_BAD_EXAMPLES = 5
MAX_FILE_BYTES = limits.MAX_KEYLOG_FILE  # ~600,000 TLS 1.3 connections (5 lines of ~170 bytes each)
_BINARY_PROBE = 65536
_TLS13_SECRET_LENGTHS = (32, 48)  # SHA-256 and SHA-384 suites
_HEX = re.compile(r"[0-9A-Fa-f]*")
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*")


class KeyLogError(TlscapError):
    """A key log file the user named cannot be used (missing, unreadable, binary, empty)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"key log {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class BadLine:
    """A key log line that was not understood: where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.source else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass(slots=True, kw_only=True)
class KeyLog:
    """The secrets of one or more key logs.

    `secrets` maps a 32-byte client random to {label: secret}; `rsa` maps the first 8 bytes of an
    encrypted premaster secret to the premaster secret. `lines_read` counts every line, `bad_lines`
    the malformed ones (the first few are in `bad_examples`), `ignored_lines` well-formed lines with
    a label tlscap does not use; `sources` names where the lines came from.
    """

    secrets: dict[bytes, dict[str, bytes]] = field(default_factory=dict)
    rsa: dict[bytes, bytes] = field(default_factory=dict)
    lines_read: int = 0
    bad_lines: int = 0
    bad_examples: list[BadLine] = field(default_factory=list)
    ignored_lines: int = 0
    rsa_lines: int = 0
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of connections (client randoms) with at least one secret."""
        return len(self.secrets)

    def for_random(self, client_random: bytes) -> dict[str, bytes] | None:
        """The secrets logged for this ClientHello random, by label, or None."""
        found = self.secrets.get(bytes(client_random))
        return dict(found) if found else None

    def merge(self, other: KeyLog) -> None:
        """Add another key log's secrets and counts to this one (a later secret for the same
        random and label replaces the earlier)."""
        for client_random, labels in other.secrets.items():
            self.secrets.setdefault(client_random, {}).update(labels)
        self.rsa.update(other.rsa)
        self.lines_read += other.lines_read
        self.bad_lines += other.bad_lines
        room = MAX_BAD_EXAMPLES - len(self.bad_examples)
        self.bad_examples.extend(other.bad_examples[: max(room, 0)])
        self.ignored_lines += other.ignored_lines
        self.rsa_lines += other.rsa_lines
        self.sources.extend(source for source in other.sources if source not in self.sources)

    def _bad(self, source: str, line: int, reason: str) -> None:
        self.bad_lines += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append(BadLine(source=source, line=line, reason=reason))


def _hex_field(text: str, name: str) -> tuple[bytes | None, str]:
    """(bytes, "") for an even-length hex string, else (None, reason)."""
    if not _HEX.fullmatch(text) or len(text) % 2:
        return None, f"{name} is not hex"
    return bytes.fromhex(text), ""


def _secret_problem(label: str, secret: bytes) -> str:
    """Why a secret's length does not fit its label, or ""."""
    if label == CLIENT_RANDOM and len(secret) != 48:
        return f"master secret is {len(secret)} bytes, not 48"
    if label in TLS13_LABELS and len(secret) not in _TLS13_SECRET_LENGTHS:
        return f"{label} secret is {len(secret)} bytes, not 32 or 48"
    return ""


def _parse_line(keylog: KeyLog, text: str, source: str, number: int) -> None:
    """Read one non-comment line into `keylog`."""
    fields = text.split()
    if len(fields) != 3:
        keylog._bad(source, number, f"expected 3 fields, found {len(fields)}")
        return
    label, first, second = fields
    if not _LABEL.fullmatch(label):
        keylog._bad(source, number, "not a key log line")
        return
    if label == RSA:
        prefix, reason = _hex_field(first, "encrypted premaster prefix")
        premaster, reason2 = _hex_field(second, "premaster secret")
        if prefix is None or premaster is None:
            keylog._bad(source, number, reason or reason2)
        elif len(prefix) != 8 or len(premaster) != 48:
            keylog._bad(source, number, "RSA line needs an 8-byte prefix and a 48-byte premaster secret")
        else:
            keylog.rsa[prefix] = premaster
            keylog.rsa_lines += 1
        return
    client_random, reason = _hex_field(first, "client random")
    secret, reason2 = _hex_field(second, "secret")
    if client_random is None or secret is None:
        keylog._bad(source, number, reason or reason2)
        return
    if len(client_random) != 32:
        keylog._bad(source, number, f"client random is {len(client_random)} bytes, not 32")
        return
    if label not in LABELS:
        keylog.ignored_lines += 1  # well-formed, but a secret tlscap has no use for
        return
    problem = _secret_problem(label, secret)
    if problem:
        keylog._bad(source, number, problem)
        return
    keylog.secrets.setdefault(client_random, {})[label] = secret


def parse_keylog(text: str | bytes, *, source: str = "") -> KeyLog:
    """Parse NSS key log text (str, or bytes read as UTF-8 with bad bytes replaced).

    Never raises for content: malformed lines, including lines longer than MAX_LINE_LENGTH
    characters, are counted in `bad_lines`."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", errors="replace")
    keylog = KeyLog(sources=[source] if source else [])
    # Split on \n only (splitlines() would also split on \x0b, \x1c, \u2028...); CRLF is stripped.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the empty piece after the final newline is not a line
    keylog.lines_read = len(lines)
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_LINE_LENGTH:
            keylog._bad(source, number, f"line longer than {MAX_LINE_LENGTH} characters")
            continue
        line = raw.strip()
        if line and not line.startswith("#"):
            _parse_line(keylog, line, source, number)
    return keylog


def load_keylog_file(path: str | Path) -> KeyLog:
    """Read and parse a key log file the user named (`--keylog`).

    This is the one function of the TLS layer that opens a file: the rule that only capture/
    touches files is relaxed for key logs named explicitly on the command line. Raises KeyLogError
    with a one-line reason when the file is missing, unreadable, binary, empty, or holds no key log
    line at all."""
    name = str(path)
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(_BINARY_PROBE)
            # A capture or archive given by mistake is refused before all of it is read.
            if b"\x00" in head:
                raise KeyLogError(name, "binary file, not an NSS key log (SSLKEYLOGFILE) text file")
            data = head + handle.read(max(MAX_FILE_BYTES + 1 - len(head), 0))
    except FileNotFoundError:
        raise KeyLogError(name, "no such file") from None
    except IsADirectoryError:
        raise KeyLogError(name, "is a directory, not a key log file") from None
    except PermissionError:
        raise KeyLogError(name, "permission denied") from None
    except OSError as exc:
        raise KeyLogError(name, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise KeyLogError(name, f"larger than {MAX_FILE_BYTES >> 20} MiB, not read")
    if not data.strip():
        raise KeyLogError(name, "file is empty")
    keylog = parse_keylog(data, source=name)
    if not keylog.secrets and not keylog.rsa_lines and not keylog.ignored_lines:
        if not keylog.bad_lines:
            raise KeyLogError(name, "holds no secrets (only comments)")
        first = keylog.bad_examples[0]
        raise KeyLogError(
            name, f"not an NSS key log: {keylog.bad_lines} malformed lines (line {first.line}: {first.reason})"
        )
    return keylog
